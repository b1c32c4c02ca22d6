"""Inventory schedules.

- `sweep_handler` (every minute): releases holds whose time is up and finishes reservations a
  crash left half done. Availability reads already count expired holds as free; this gives the
  units back in the counters.
- `promotions_handler` (every minute): pushes the prices of SKUs whose promotion started or ended
  since the last run. Prices are computed when read, so this only tells channels sooner.
- `reconcile_handler` (every 15 minutes): compares each channel with the truth, repairs and reports.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import wiring
from shared.domain.commerce.pricing import boundaries_between, covered_skus
from shared.observability import logger, metrics, tracer
from shared.wiring import commerce as commerce_wiring

PROMOTION_CURSOR = "PROMOTIONS"


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def sweep_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    counts = commerce_wiring.get_inventory().sweep()
    for name, value in counts.items():
        metrics.add_metric(name=f"Reservations{name.title()}", unit=MetricUnit.Count, value=value)
    logger.info("reservation sweep", extra=counts)
    return counts


def push_promotion_boundaries() -> dict[str, Any]:
    catalog = commerce_wiring.get_catalog()
    now = wiring.get_clock().now()
    previous = catalog.cursor(PROMOTION_CURSOR)
    since = previous or now - timedelta(minutes=1)
    if since >= now:
        return {"promotions": 0, "skus": 0}
    catalog.forget()
    changed = boundaries_between(catalog.promotions(), since, now)
    skus = covered_skus(catalog, changed) if changed else []
    if not catalog.move_cursor(PROMOTION_CURSOR, now, previous=previous):
        return {"promotions": 0, "skus": 0, "skipped": "another run moved the cursor"}
    if skus:
        commerce_wiring.get_sync_fan_out().price_changed(skus)
    return {"promotions": len(changed), "skus": len(skus)}


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def promotions_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = push_promotion_boundaries()
    metrics.add_metric(name="PromotionPricePushes", unit=MetricUnit.Count, value=outcome.get("skus", 0))
    logger.info("promotion boundaries", extra=outcome)
    return outcome


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def reconcile_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = commerce_wiring.get_channel_sync().reconcile()
    metrics.add_metric(name="ChannelDrift", unit=MetricUnit.Count, value=report["drifted"])
    metrics.add_metric(name="ChannelPairsChecked", unit=MetricUnit.Count, value=report["checked"])
    logger.info(
        "reconciliation",
        extra={
            key: report[key] for key in ("checked", "in_sync", "in_flight", "drifted", "unreadable_channels")
        },
    )
    return {key: report[key] for key in ("run_at", "checked", "in_sync", "in_flight", "drifted")}
