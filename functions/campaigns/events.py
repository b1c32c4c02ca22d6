"""Engagement consumer (EngagementQueue): bus events that move journeys and measure campaigns.
`OrderPlaced` is attributed to the customer's last message (and holdout assignment), exits the
journeys it ends and enters those it starts, and joins the customer's purchase history (what
recommendations read); `TouchpointRecorded` of a cart or checkout event
enters or exits cart abandonment, of a booking's change the appointment journeys, and an email
event (delivered, bounced, complained) moves its ledger row; a `ProfileChanged` naming the
birthday enters the birthday journey. Everything is keyed, so a redelivered event changes nothing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import wiring
from shared.domain.engagement.deliveries import record_email_event
from shared.domain.engagement.programs import attribute_order
from shared.domain.kernel.events import ORDER_PLACED, PROFILE_CHANGED, PROFILE_ERASED, TOUCHPOINT_RECORDED
from shared.observability import logger, metrics, tracer
from shared.triggers import BusEvent, consume_bus_records
from shared.wiring import appointments as appointments_wiring
from shared.wiring import engagement as engagement_wiring
from shared.wiring import recommendations as recommendations_wiring


def _when(detail: dict[str, Any]) -> datetime:
    text = detail.get("occurred_at")
    return datetime.fromisoformat(text) if isinstance(text, str) else wiring.get_clock().now()


def handle(event: BusEvent) -> str:
    detail = event.detail
    if event.detail_type == PROFILE_ERASED:
        engagement = engagement_wiring.get_engagement()
        bookings = appointments_wiring.get_appointment_store()
        purchases = recommendations_wiring.get_recommendation_store()
        for erased in detail.get("profile_ids") or []:
            if isinstance(erased, str) and erased:
                bookings.forget_person(erased)  # its places back, then the bookings
                engagement.forget_person(erased)
                purchases.forget_person(erased)
        return "erased"
    profile_id = detail.get("profile_id")
    if not isinstance(profile_id, str) or not profile_id:
        return "ignored"
    journeys = engagement_wiring.get_journeys()
    if event.detail_type == ORDER_PLACED:
        order = detail.get("order") or {}
        order_id = str(detail.get("order_id") or detail.get("touchpoint_id"))
        try:
            revenue = Decimal(str(order.get("total") or 0))
        except InvalidOperation:
            revenue = Decimal(0)
        at = _when(detail)
        attribute_order(
            engagement_wiring.get_engagement(),
            profile_id=profile_id,
            order_id=order_id,
            revenue=revenue,
            at=at,
        )
        skus = [
            str(line["sku"]) for line in order.get("lines", []) if isinstance(line, dict) and line.get("sku")
        ]
        journeys.on_order(profile_id, order_id, skus, at)
        recommendations_wiring.get_recommender().record_order(profile_id, order_id, at, skus)
        return "order"
    if event.detail_type == TOUCHPOINT_RECORDED and detail.get("type") == "email_event":
        return record_email_event(
            engagement_wiring.get_engagement(),
            str(detail.get("event")),
            detail.get("properties") or {},
            now=wiring.get_clock().now(),
        )
    if event.detail_type == TOUCHPOINT_RECORDED and detail.get("type") == "track":
        counts = journeys.on_track(
            profile_id, str(detail.get("event")), detail.get("properties") or {}, _when(detail)
        )
        return "cart" if any(counts.values()) else "ignored"
    if event.detail_type == PROFILE_CHANGED and "traits.birthday" in (detail.get("changed") or []):
        journeys.on_profile_change(profile_id)
        return "birthday"
    return "ignored"


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume_bus_records(event["Records"], handle, consumer="Engagement")
