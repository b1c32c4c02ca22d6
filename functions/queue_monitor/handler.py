"""Scheduled: report queue depths as metrics and put `DeadLettersWaiting` on the bus while a
dead-letter queue holds messages, so poison messages are never left unseen."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import wiring
from shared.domain.operations.monitoring import check_queues
from shared.observability import logger, metrics, tracer
from shared.wiring import operations as operations_wiring


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    readings = check_queues(
        operations_wiring.get_monitored_queues(),
        inspector=operations_wiring.get_queue_inspector(),
        publisher=wiring.get_event_publisher(),
        clock=wiring.get_clock(),
    )
    report = []
    for reading in readings:
        name = reading.queue.name
        metrics.add_metric(name=f"{name}.visible", unit=MetricUnit.Count, value=reading.depth.visible)
        metrics.add_metric(name=f"{name}.in_flight", unit=MetricUnit.Count, value=reading.depth.in_flight)
        if reading.needs_attention:
            logger.warning("dead letters waiting", extra={"queue": name, "visible": reading.depth.visible})
        report.append(
            {
                "queue": name,
                "visible": reading.depth.visible,
                "in_flight": reading.depth.in_flight,
                "needs_attention": reading.needs_attention,
            }
        )
    return {"queues": report}
