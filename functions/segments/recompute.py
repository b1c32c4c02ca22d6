"""Recompute parts (RecomputeQueue, one task per message): sample a part, or re-evaluate it with
the new cut points. Tasks are idempotent; a failed one is retried and ends on the DLQ."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, Json

from shared import wiring
from shared.domain.segments.recompute import Phase, apply_part, sample_part
from shared.observability import logger, metrics, tracer
from shared.wiring import segments as segments_wiring


class RecomputeTask(BaseModel):
    job_id: str = Field(min_length=1, max_length=100)
    phase: Phase
    part: int = Field(ge=0, le=255)


class RecomputeTaskRecord(SqsRecordModel):
    body: Json[RecomputeTask]


processor = BatchProcessor(event_type=EventType.SQS, model=RecomputeTaskRecord)


def record_handler(record: RecomputeTaskRecord) -> None:
    task = record.body
    now = wiring.get_clock().now()
    if task.phase is Phase.SAMPLING:
        job = sample_part(
            task.job_id,
            task.part,
            jobs=segments_wiring.get_recompute_jobs(),
            tasks=segments_wiring.get_recompute_tasks(),
            scanner=segments_wiring.get_profile_scanner(),
            cut_store=segments_wiring.get_segment_store(),
            rules=segments_wiring.get_classification_rules(),
            now=now,
        )
    else:
        job = apply_part(
            task.job_id,
            task.part,
            jobs=segments_wiring.get_recompute_jobs(),
            scanner=segments_wiring.get_profile_scanner(),
            refresher=segments_wiring.get_refresher(),
            now=now,
        )
    metrics.add_metric(name="RecomputePartsDone", unit=MetricUnit.Count, value=1)
    logger.info(
        "recompute part done",
        extra={
            "job_id": job.job_id,
            "phase": task.phase.value,
            "part": task.part,
            "job_phase": job.phase.value,
        },
    )


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
