"""Loyalty consumer: bus events (via LoyaltyQueue). `OrderPlaced` earns, `OrderRefunded` reverses,
a `ProfileChanged` naming the birthday or timezone moves the member in the birthday index. An order
of a profile merged since it was announced earns for the survivor. Every
change is idempotent by its source id, so a failed record is simply retried; a record that cannot
be read ends on the DLQ."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.customers.admin import survivor_id
from shared.domain.kernel.events import ORDER_PLACED, ORDER_REFUNDED, PROFILE_CHANGED
from shared.domain.loyalty.book import LoyaltyBook, earn_for_order, note_birthday, reverse_for_refund
from shared.domain.segments.rules import birthday_month_day
from shared.observability import logger, metrics, tracer
from shared.triggers import BusEvent, consume_bus_records
from shared.wiring import customers as customers_wiring
from shared.wiring import loyalty as loyalty_wiring

BIRTHDAY_FIELDS = {"traits.birthday", "traits.timezone"}


def _on_survivor(detail: dict[str, Any]) -> dict[str, Any]:
    """The order's points go to the person the profile became if it was merged meanwhile."""
    profile_id = detail.get("profile_id")
    if not isinstance(profile_id, str) or not profile_id:
        return detail
    return {**detail, "profile_id": survivor_id(profile_id, graph=customers_wiring.get_customer_graph())}


def _handle(book: LoyaltyBook, event: BusEvent) -> str:
    if event.detail_type == ORDER_PLACED:
        recorded = earn_for_order(book, _on_survivor(event.detail))
        return "duplicate" if recorded and recorded.duplicate else "earned" if recorded else "ignored"
    if event.detail_type == ORDER_REFUNDED:
        recorded = reverse_for_refund(book, _on_survivor(event.detail))
        return "duplicate" if recorded and recorded.duplicate else "reversed" if recorded else "ignored"
    if event.detail_type == PROFILE_CHANGED and BIRTHDAY_FIELDS & set(event.detail.get("changed") or []):
        profile_id = event.detail["profile_id"]
        profile = customers_wiring.get_customer_graph().profiles([profile_id]).get(profile_id)
        if profile is None or not profile.exists:
            return "ignored"
        day = birthday_month_day(profile.trait("birthday"))
        timezone = profile.trait("timezone")
        note_birthday(
            book,
            profile_id,
            f"{day[0]:02d}-{day[1]:02d}" if day else None,
            timezone if isinstance(timezone, str) else None,
        )
        return "birthday"
    return "ignored"


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    book = loyalty_wiring.get_loyalty_book()
    return consume_bus_records(
        event["Records"], lambda bus_event: _handle(book, bus_event), consumer="Loyalty"
    )
