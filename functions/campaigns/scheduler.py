"""Campaign and journey scheduler (every minute): creates due campaign runs (once, however often
the schedule fires), pages their audiences onto the dispatch queue from the saved cursor, brings
deferred sends back when their time comes, and fires journey timers (each once)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import logger, metrics, tracer
from shared.wiring import engagement as engagement_wiring


def tick() -> dict[str, int]:
    counts = engagement_wiring.get_campaign_service().tick()
    counts |= {f"journey_{name}": value for name, value in engagement_wiring.get_journeys().sweep().items()}
    return counts


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def tick_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    counts = tick()
    for name, value in counts.items():
        metrics.add_metric(
            name=f"Scheduler{name.title().replace('_', '')}", unit=MetricUnit.Count, value=value
        )
    logger.info("campaign scheduler", extra=counts)
    return counts
