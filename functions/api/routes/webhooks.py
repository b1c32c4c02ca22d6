"""Channel webhooks, each verified with its channel's own signature standard on the raw body."""

from __future__ import annotations

from typing import Any

from chalice.app import Response

from functions.api.errors import http_errors
from functions.api.shared_routes import SharedBlueprint
from shared import wiring
from shared.domain.ingest.webhooks import (
    ingest_ses,
    ingest_shopify,
    ingest_standard_webhook,
    ingest_wechat,
    verify_wechat_server,
)
from shared.observability import logger
from shared.wiring import ingest as ingest_wiring

routes = SharedBlueprint(__name__)
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
        registry=ingest_wiring.get_source_registry(),
        queue=ingest_wiring.get_touchpoint_queue(),
        clock=wiring.get_clock(),
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
        registry=ingest_wiring.get_source_registry(),
        queue=ingest_wiring.get_touchpoint_queue(),
        clock=wiring.get_clock(),
    )
    logger.info("webhook accepted", extra={"source_id": source_id})
    return {"received": True}


@routes.route("/webhooks/ses/{source_id}", methods=["POST"], content_types=["text/plain", "application/json"])
@http_errors(challenge=SIGNATURE_CHALLENGE)
def ses(source_id: str) -> dict[str, Any]:
    touchpoint = ingest_ses(
        source_id,
        _raw_body(),
        registry=ingest_wiring.get_source_registry(),
        queue=ingest_wiring.get_touchpoint_queue(),
        clock=wiring.get_clock(),
        certificates=ingest_wiring.get_sns_certificates(),
        subscriptions=ingest_wiring.get_sns_subscriptions(),
    )
    logger.info("webhook accepted", extra={"source_id": source_id, "ignored": touchpoint is None})
    return {"received": True, "ignored": touchpoint is None}


@routes.route(
    "/webhooks/wechat/{source_id}",
    methods=["GET", "POST"],
    content_types=["text/xml", "application/xml", "text/plain", "application/json"],
)
@http_errors(challenge=SIGNATURE_CHALLENGE)
def wechat(source_id: str) -> Response:
    """GET: the server check (answer echostr). POST: a message or event; answer `success` at once
    (WeChat waits 5 s, then retries three times)."""
    request = routes.current_request
    query = dict(request.query_params or {})
    registry, clock = ingest_wiring.get_source_registry(), wiring.get_clock()
    if request.method == "GET":
        echo = verify_wechat_server(source_id, query, registry=registry, clock=clock)
        return Response(body=echo, status_code=200, headers={"Content-Type": "text/plain"})
    ingest_wechat(
        source_id,
        _raw_body(),
        query,
        registry=registry,
        queue=ingest_wiring.get_touchpoint_queue(),
        clock=clock,
    )
    logger.info("webhook accepted", extra={"source_id": source_id})
    return Response(body="success", status_code=200, headers={"Content-Type": "text/plain"})
