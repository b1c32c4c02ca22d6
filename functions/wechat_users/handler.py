"""WeChat subscribers' unionids (WechatUsersQueue): each `wechat.subscribe` touchpoint of a WeChat
source that holds an AppSecret is looked up in WeChat's user-info API, and the openid and unionid
are linked on the profile by an `identify` touchpoint. A failure (WeChat down, a refused token)
brings the message back later and ends on the DLQ; ingest never waits for it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import wiring
from shared.domain.ingest.touchpoints import SourceKind
from shared.domain.ingest.wechat_users import link_unionid
from shared.domain.kernel.events import TOUCHPOINT_RECORDED
from shared.domain.kernel.identifiers import IdentifierType
from shared.observability import logger, metrics, tracer
from shared.triggers import BusEvent, consume_bus_records
from shared.wiring import ingest as ingest_wiring

SUBSCRIBE = "wechat.subscribe"


def _openid(detail: dict[str, Any]) -> str | None:
    for identifier in detail.get("identifiers") or []:
        if isinstance(identifier, dict) and identifier.get("type") == IdentifierType.WECHAT_OPENID.value:
            value = identifier.get("value")
            return value if isinstance(value, str) and value else None
    return None


def handle(event: BusEvent) -> str:
    detail = event.detail
    if event.detail_type != TOUCHPOINT_RECORDED or detail.get("event") != SUBSCRIBE:
        return "ignored"
    openid, source_id = _openid(detail), detail.get("source_id")
    if openid is None or not isinstance(source_id, str):
        return "ignored"
    registry = ingest_wiring.get_source_registry()
    source = registry.find(source_id)
    if source is None or source.kind is not SourceKind.WECHAT or not source.app_id:
        return "no_account"
    secrets = registry.secrets(source_id)
    if not secrets.app_secret:
        return "no_app_secret"
    occurred = detail.get("occurred_at")
    touchpoint = link_unionid(
        source,
        secrets,
        openid,
        subscribed_at=datetime.fromisoformat(occurred)
        if isinstance(occurred, str)
        else wiring.get_clock().now(),
        tokens=ingest_wiring.get_wechat_tokens(),
        clock=wiring.get_clock(),
    )
    if touchpoint is None:
        return "no_unionid"
    ingest_wiring.get_touchpoint_queue().send_all([touchpoint])
    return "linked"


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume_bus_records(event["Records"], handle, consumer="WechatUsers")
