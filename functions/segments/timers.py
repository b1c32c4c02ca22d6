"""Scheduled: re-evaluate profiles whose recheck timer is due (a behaviour window closed, a
birthday month began, a customer became overdue), until none is due or time runs short."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.segments.live import run_due_rechecks
from shared.observability import logger, metrics, tracer
from shared.wiring import segments as segments_wiring

PAGE = 500
RESERVE_MS = 20_000  # stop early enough to finish the page in hand


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    done = 0
    refresher = segments_wiring.get_refresher()
    while context.get_remaining_time_in_millis() > RESERVE_MS:
        handled = run_due_rechecks(refresher, limit=PAGE)
        done += handled
        if handled < PAGE:
            break
    metrics.add_metric(name="RechecksRun", unit=MetricUnit.Count, value=done)
    logger.info("rechecks run", extra={"rechecks": done, "changed": refresher.result.changed})
    return {"rechecks": done, "changed": refresher.result.changed}
