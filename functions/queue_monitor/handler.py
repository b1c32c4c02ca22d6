"""Scheduled: report queue depths (in its answer and log, and as the reading the console's overview
shows) and put `DeadLettersWaiting` on the bus while a dead-letter queue holds messages, so poison
messages are never left unseen.

It emits no depth metrics of its own: SQS publishes each queue's depth and in-flight count
(`ApproximateNumberOfMessagesVisible`, `...NotVisible`) for free, and 42 custom metrics would cost
USD 12.60 a month."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import wiring
from shared.domain.kernel.errors import OmnireachError
from shared.domain.operations.monitoring import check_queues, snapshot_of
from shared.observability import logger, tracer
from shared.wiring import activity as activity_wiring
from shared.wiring import operations as operations_wiring


@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    clock = wiring.get_clock()
    readings = check_queues(
        operations_wiring.get_monitored_queues(),
        inspector=operations_wiring.get_queue_inspector(),
        publisher=wiring.get_event_publisher(),
        clock=clock,
    )
    try:  # the console's reading; the alarms above are what matters, so a refusal here is logged
        activity_wiring.get_activity_log().save_queue_snapshot(snapshot_of(readings, clock.now()))
    except OmnireachError as error:
        logger.warning("queue reading not kept", extra={"code": error.code, "reason": error.message})
    report = []
    for reading in readings:
        name = reading.queue.name
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
