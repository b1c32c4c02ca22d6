"""Segment-compatible HTTP Tracking API: /v1/{identify,track,page,screen,group,alias,batch}."""

from __future__ import annotations

from typing import Any

from chalice.app import Request

from functions.api.errors import BASIC_CHALLENGE, http_errors
from functions.api.request_body import json_object
from functions.api.shared_routes import SharedBlueprint
from shared import wiring
from shared.domain.ingest.credentials import basic_auth_username
from shared.domain.ingest.intake import IngestResult, authenticate_source, enqueue, parse_segment_calls
from shared.domain.ingest.touchpoints import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    SegmentCallType,
    Source,
)
from shared.domain.kernel.errors import InvalidBatchError, InvalidInputError, TooManyEventsError
from shared.observability import logger
from shared.wiring import ingest as ingest_wiring

routes = SharedBlueprint(__name__)

# analytics.js sends text/plain from sendBeacon; every Segment client sends JSON.
SEGMENT_CONTENT_TYPES = ["application/json", "text/plain"]
BATCH_DEFAULTS = ("context", "integrations", "sentAt")


def _read(request: Request, *, max_bytes: int) -> tuple[Source, dict[str, Any]]:
    """With a Basic header the caller is authenticated before its body is read."""
    registry = ingest_wiring.get_source_registry()
    header_key = basic_auth_username(request.headers.get("authorization"))
    source = authenticate_source(header_key, registry=registry) if header_key else None
    payload = json_object(
        request.raw_body, max_bytes=max_bytes, content_encoding=request.headers.get("content-encoding")
    )
    if source is None:
        write_key = payload.get("writeKey")
        source = authenticate_source(write_key if isinstance(write_key, str) else None, registry=registry)
    return source, payload


def _accepted(source: Source, result: IngestResult) -> None:
    enqueue(result.accepted, queue=ingest_wiring.get_touchpoint_queue())
    logger.info(
        "touchpoints accepted",
        extra={
            "source_id": source.source_id,
            "accepted": len(result.accepted),
            "rejected": len(result.rejected),
        },
    )


def _single_call(call_type: SegmentCallType) -> dict[str, bool]:
    source, payload = _read(routes.current_request, max_bytes=MAX_EVENT_BYTES)
    result = parse_segment_calls(
        [payload], source=source, received_at=wiring.get_clock().now(), call_type=call_type
    )
    if result.rejected:
        (rejected,) = result.rejected
        raise InvalidInputError(rejected.message, details={"code": rejected.code})
    _accepted(source, result)
    return {"success": True}


@routes.route("/v1/identify", methods=["POST"], content_types=SEGMENT_CONTENT_TYPES)
@http_errors(challenge=BASIC_CHALLENGE)
def identify() -> dict[str, bool]:
    return _single_call(SegmentCallType.IDENTIFY)


@routes.route("/v1/track", methods=["POST"], content_types=SEGMENT_CONTENT_TYPES)
@http_errors(challenge=BASIC_CHALLENGE)
def track() -> dict[str, bool]:
    return _single_call(SegmentCallType.TRACK)


@routes.route("/v1/page", methods=["POST"], content_types=SEGMENT_CONTENT_TYPES)
@http_errors(challenge=BASIC_CHALLENGE)
def page() -> dict[str, bool]:
    return _single_call(SegmentCallType.PAGE)


@routes.route("/v1/screen", methods=["POST"], content_types=SEGMENT_CONTENT_TYPES)
@http_errors(challenge=BASIC_CHALLENGE)
def screen() -> dict[str, bool]:
    return _single_call(SegmentCallType.SCREEN)


@routes.route("/v1/group", methods=["POST"], content_types=SEGMENT_CONTENT_TYPES)
@http_errors(challenge=BASIC_CHALLENGE)
def group() -> dict[str, bool]:
    return _single_call(SegmentCallType.GROUP)


@routes.route("/v1/alias", methods=["POST"], content_types=SEGMENT_CONTENT_TYPES)
@http_errors(challenge=BASIC_CHALLENGE)
def alias() -> dict[str, bool]:
    return _single_call(SegmentCallType.ALIAS)


@routes.route("/v1/batch", methods=["POST"], content_types=SEGMENT_CONTENT_TYPES)
@http_errors(challenge=BASIC_CHALLENGE)
def batch() -> dict[str, Any]:
    source, payload = _read(routes.current_request, max_bytes=MAX_BATCH_BYTES)
    items = payload.get("batch")
    if not isinstance(items, list):
        raise InvalidInputError("batch must be a list of events")
    if len(items) > MAX_BATCH_EVENTS:
        raise TooManyEventsError(
            f"{len(items)} events; the limit is {MAX_BATCH_EVENTS} per batch",
            details={"events": len(items), "limit": MAX_BATCH_EVENTS},
        )
    result = parse_segment_calls(
        items,
        source=source,
        received_at=wiring.get_clock().now(),
        defaults={key: payload[key] for key in BATCH_DEFAULTS if key in payload},
    )
    rejected = [{"index": item.index, "code": item.code, "message": item.message} for item in result.rejected]
    if rejected and not result.accepted:
        raise InvalidBatchError("No event of this batch is valid", details={"rejected": rejected})
    _accepted(source, result)
    return {"success": True, "accepted": len(result.accepted), "rejected": rejected}
