"""Segment-compatible HTTP Tracking API."""

from __future__ import annotations

from chalice.app import Blueprint

from functions.api.errors import BASIC_CHALLENGE, http_errors
from functions.api.request_body import json_object
from shared import dependencies
from shared.domain.credentials import basic_auth_username
from shared.domain.ingest import accept_track, authenticate_source
from shared.domain.touchpoints import MAX_EVENT_BYTES, TrackCall
from shared.observability import logger

routes = Blueprint(__name__)

# analytics.js sends text/plain from sendBeacon; every Segment client sends JSON.
SEGMENT_CONTENT_TYPES = ["application/json", "text/plain"]


@routes.route("/v1/track", methods=["POST"], content_types=SEGMENT_CONTENT_TYPES)
@http_errors(challenge=BASIC_CHALLENGE)
def track() -> dict[str, bool]:
    request = routes.current_request
    registry = dependencies.get_source_registry()
    header_key = basic_auth_username(request.headers.get("authorization"))
    # With a header the caller is authenticated before its body is read.
    source = authenticate_source(header_key, registry=registry) if header_key else None
    payload = json_object(request.raw_body, max_bytes=MAX_EVENT_BYTES)
    call = TrackCall.model_validate(payload)
    if source is None:
        source = authenticate_source(call.write_key, registry=registry)
    touchpoint = accept_track(
        call, source=source, queue=dependencies.get_touchpoint_queue(), clock=dependencies.get_clock()
    )
    logger.info(
        "track accepted", extra={"source_id": source.source_id, "touchpoint_id": touchpoint.touchpoint_id}
    )
    return {"success": True}
