"""Loyalty consumer: bus events (via LoyaltyQueue). `OrderPlaced` earns, `OrderRefunded` reverses,
a `ProfileChanged` naming the birthday or timezone moves the member in the birthday index. Every
change is idempotent by its source id, so a failed record is simply retried; a record that cannot
be read ends on the DLQ."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared import dependencies
from shared.adapters.events import BusEvent, BusEventRecord
from shared.domain.customers import ORDER_PLACED, ORDER_REFUNDED, PROFILE_CHANGED
from shared.domain.errors import OmnireachError
from shared.domain.loyalty import LoyaltyBook, earn_for_order, note_birthday, reverse_for_refund
from shared.domain.segment_rules import birthday_month_day
from shared.observability import logger, metrics, tracer

BIRTHDAY_FIELDS = {"traits.birthday", "traits.timezone"}


def _handle(book: LoyaltyBook, event: BusEvent) -> str:
    if event.detail_type == ORDER_PLACED:
        recorded = earn_for_order(book, event.detail)
        return "duplicate" if recorded and recorded.duplicate else "earned" if recorded else "ignored"
    if event.detail_type == ORDER_REFUNDED:
        recorded = reverse_for_refund(book, event.detail)
        return "duplicate" if recorded and recorded.duplicate else "reversed" if recorded else "ignored"
    if event.detail_type == PROFILE_CHANGED and BIRTHDAY_FIELDS & set(event.detail.get("changed") or []):
        profile_id = event.detail["profile_id"]
        profile = dependencies.get_customer_graph().profiles([profile_id]).get(profile_id)
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
    failed: list[str] = []
    book = dependencies.get_loyalty_book()
    counts: dict[str, int] = {}
    for raw in event["Records"]:
        try:
            record = BusEventRecord.model_validate(raw)
        except ValidationError as error:
            logger.error(
                "unreadable bus event",
                extra={"message_id": raw.get("messageId"), "errors": error.error_count()},
            )
            failed.append(raw["messageId"])
            continue
        try:
            outcome = _handle(book, record.body)
        except OmnireachError as error:
            logger.warning(
                "loyalty event retried",
                extra={"code": error.code, "reason": error.message, "detail_type": record.body.detail_type},
            )
            failed.append(record.messageId)
            continue
        counts[outcome] = counts.get(outcome, 0) + 1
    for outcome, count in counts.items():
        metrics.add_metric(name=f"Loyalty{outcome.title()}", unit=MetricUnit.Count, value=count)
    metrics.add_metric(name="LoyaltyEventsFailed", unit=MetricUnit.Count, value=len(failed))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
