"""Scheduled nightly: start the recompute (cut points, then every profile), in parallel parts."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import wiring
from shared.domain.segments.recompute import start_recompute
from shared.observability import logger, metrics, tracer
from shared.settings import get_settings
from shared.wiring import segments as segments_wiring


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = start_recompute(
        jobs=segments_wiring.get_recompute_jobs(),
        tasks=segments_wiring.get_recompute_tasks(),
        now=wiring.get_clock().now(),
        parts=get_settings().recompute_parts,
    )
    metrics.add_metric(name="RecomputesStarted", unit=MetricUnit.Count, value=1)
    logger.info("recompute started", extra={"job_id": job.job_id, "parts": job.parts})
    return job.view()
