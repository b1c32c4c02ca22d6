"""Loyalty schedules: the daily run (points expiry, tier reviews, then the membership summary)
and the hourly birthday perks.
Both are idempotent: a schedule that fires twice changes nothing the second time."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.loyalty.book import run_daily
from shared.domain.loyalty.perks import issue_birthday_perks
from shared.domain.loyalty.summary import summarise_membership
from shared.observability import logger, metrics, tracer
from shared.wiring import loyalty as loyalty_wiring


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def daily_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    book = loyalty_wiring.get_loyalty_book()
    result = run_daily(book)
    metrics.add_metric(name="PointsExpired", unit=MetricUnit.Count, value=result.points_expired)
    metrics.add_metric(name="TierChanges", unit=MetricUnit.Count, value=result.tier_changes)
    summary = summarise_membership(loyalty_wiring.get_membership_tallies(), book.clock.now())
    logger.info("loyalty daily run", extra={**asdict(result), "members": summary["members"]})
    return {
        **asdict(result),
        "members": summary["members"],
        "points_outstanding": summary["points_outstanding"],
    }


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def birthday_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    book = loyalty_wiring.get_loyalty_book()
    result = issue_birthday_perks(book, loyalty_wiring.get_coupons(), book.clock.now())
    metrics.add_metric(name="BirthdayPerksIssued", unit=MetricUnit.Count, value=result.issued)
    logger.info("birthday perks", extra=asdict(result))
    return asdict(result)
