"""Scheduled nightly: rebuild the recommendation model (co-purchase neighbours, the popular list,
the premium price line) from every customer's purchase history."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import logger, metrics, tracer
from shared.wiring import recommendations as recommendations_wiring


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = recommendations_wiring.get_recommender().rebuild(
        progress=lambda read: logger.debug("histories read", extra={"histories": read})
    )
    metrics.add_metric(name="RecommendationProducts", unit=MetricUnit.Count, value=summary.products)
    logger.info(
        "recommendation model rebuilt",
        extra={"customers": summary.customers, "products": summary.products, "pairs": summary.pairs},
    )
    return summary.model_dump(mode="json", exclude={"popular"}) | {"popular": len(summary.popular)}
