"""The ingest function: the public, high-volume side of the API (Segment calls at `/v1/*`, signed
webhooks at `/webhooks/*`) in a function of its own. It may only read the sources and send to the
touchpoint queue (template.yaml), so whatever a write key or a forged signature could make it do,
it reaches nothing else; any other path answers 404 here. The admin and member routes are the
API function's (`functions.api.app`), which in turn may not enqueue touchpoints."""

from __future__ import annotations

from functions.api.app import app
from functions.api.proxy import ProxiedApp

INGEST_PATHS = ("/v1/", "/webhooks/")

handler = ProxiedApp(app, only=INGEST_PATHS)
