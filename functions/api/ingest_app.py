"""The ingest function: the public, high-volume side of the API (Segment calls at `/v1/*`, signed
webhooks at `/webhooks/*`) in a function of its own, with only those routes. It may only read the
sources, send to the touchpoint queue and open signing secrets (template.yaml), so whatever a write
key or a forged signature could make it do, it reaches nothing else; and its cold start loads
ingest alone. The admin and member routes are the API function's (`functions.api.app`), which in
turn may not enqueue touchpoints."""

from __future__ import annotations

from chalice.app import Chalice, ConvertToMiddleware

from functions.api.proxy import ProxiedApp
from functions.api.routes import tracking, webhooks
from functions.api.shared_routes import remember_request
from shared.observability import logger

app = Chalice(app_name="omnireach-ingest")
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)))
app.register_middleware(remember_request, "http")
app.register_blueprint(tracking.routes)
app.register_blueprint(webhooks.routes)

handler = ProxiedApp(app)
