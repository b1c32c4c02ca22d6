"""Channel webhooks, each verified with its channel's own signature standard on the raw body."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from functions.api.errors import http_errors
from shared import dependencies
from shared.domain.webhooks import ingest_shopify, ingest_standard_webhook
from shared.observability import logger

routes = Blueprint(__name__)
SIGNATURE_CHALLENGE = 'Signature realm="omnireach-webhooks"'


def _raw_body() -> bytes:
    raw = routes.current_request.raw_body
    return raw if isinstance(raw, bytes) else raw.encode()


@routes.route("/webhooks/shopify/{source_id}", methods=["POST"], content_types=["application/json"])
@http_errors(challenge=SIGNATURE_CHALLENGE)
def shopify(source_id: str) -> dict[str, Any]:
    touchpoint = ingest_shopify(
        source_id,
        _raw_body(),
        dict(routes.current_request.headers),
        registry=dependencies.get_source_registry(),
        queue=dependencies.get_touchpoint_queue(),
        clock=dependencies.get_clock(),
    )
    logger.info("webhook accepted", extra={"source_id": source_id, "ignored": touchpoint is None})
    return {"received": True, "ignored": touchpoint is None}


@routes.route("/webhooks/standard/{source_id}", methods=["POST"], content_types=["application/json"])
@http_errors(challenge=SIGNATURE_CHALLENGE)
def standard(source_id: str) -> dict[str, Any]:
    ingest_standard_webhook(
        source_id,
        _raw_body(),
        dict(routes.current_request.headers),
        registry=dependencies.get_source_registry(),
        queue=dependencies.get_touchpoint_queue(),
        clock=dependencies.get_clock(),
    )
    logger.info("webhook accepted", extra={"source_id": source_id})
    return {"received": True}
