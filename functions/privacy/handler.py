"""Privacy jobs: SQS → one erasure sweep per message. A failed sweep is retried by the queue and
ends on its DLQ (watched by the queue monitor); every sweep is idempotent."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, Json

from shared import wiring
from shared.domain.customers.privacy import run_erasure
from shared.observability import logger, metrics, tracer
from shared.settings import get_settings
from shared.wiring import customers as customers_wiring
from shared.wiring import ingest as ingest_wiring


class ErasureJob(BaseModel):
    request_id: str = Field(min_length=1, max_length=100)
    sweep: int = Field(ge=1, le=2)


class ErasureJobRecord(SqsRecordModel):
    body: Json[ErasureJob]


processor = BatchProcessor(event_type=EventType.SQS, model=ErasureJobRecord)


def record_handler(record: ErasureJobRecord) -> None:
    job = record.body
    request = run_erasure(
        job.request_id,
        sweep=job.sweep,
        data=customers_wiring.get_personal_data(),
        archive=ingest_wiring.get_touchpoint_archive(),
        jobs=customers_wiring.get_erasure_jobs(),
        publisher=wiring.get_event_publisher(),
        clock=wiring.get_clock(),
        second_sweep_seconds=get_settings().erasure_second_sweep_seconds,
    )
    metrics.add_metric(name="ErasureSweeps", unit=MetricUnit.Count, value=1)
    logger.info(
        "erasure sweep done",
        extra={
            "request_id": request.request_id,
            "sweep": job.sweep,
            "status": request.status.value,
            "removed": request.removed,
        },
    )


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
