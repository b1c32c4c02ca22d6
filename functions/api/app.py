"""The API function. Its Lambda handler is `functions.api.app.handler`: API Gateway's one proxy
route, handed to the Chalice app's routes (`functions.api.proxy`)."""

from __future__ import annotations

from chalice.app import Chalice, ConvertToMiddleware

from functions.api.proxy import ProxiedApp
from functions.api.routes import (
    appointments,
    campaigns,
    console,
    health,
    inventory,
    members,
    overview,
    plans,
    privacy,
    profiles,
    recommendations,
    segments,
    sources,
    touchpoints,
    tracking,
    webhooks,
)
from functions.api.shared_routes import remember_request
from shared.observability import logger

app = Chalice(app_name="omnireach")
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)))
app.register_middleware(remember_request, "http")  # for the routes ingest's app shares
app.register_blueprint(tracking.routes)
app.register_blueprint(touchpoints.routes)
app.register_blueprint(profiles.routes)
app.register_blueprint(privacy.routes)
app.register_blueprint(segments.routes)
app.register_blueprint(members.routes)
app.register_blueprint(inventory.routes)
app.register_blueprint(campaigns.routes)
app.register_blueprint(plans.routes)
app.register_blueprint(appointments.routes)
app.register_blueprint(recommendations.routes)
app.register_blueprint(sources.routes)
app.register_blueprint(webhooks.routes)
app.register_blueprint(health.routes)
app.register_blueprint(overview.routes)
app.register_blueprint(console.routes)

handler = ProxiedApp(app)
