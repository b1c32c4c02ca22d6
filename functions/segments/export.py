"""Audience exports (ExportQueue, one job per message): a segment's members as a CSV of hashed,
normalised emails and phones in the exports bucket, with progress on the job."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, Json

from shared import wiring
from shared.domain.segments.export import run_export
from shared.observability import logger, metrics, tracer
from shared.wiring import customers as customers_wiring
from shared.wiring import segments as segments_wiring


class ExportJob(BaseModel):
    export_id: str = Field(min_length=1, max_length=100)


class ExportJobRecord(SqsRecordModel):
    body: Json[ExportJob]


processor = BatchProcessor(event_type=EventType.SQS, model=ExportJobRecord)


def record_handler(record: ExportJobRecord) -> None:
    export = run_export(
        record.body.export_id,
        segments=segments_wiring.get_segment_store(),
        graph=customers_wiring.get_customer_graph(),
        jobs=segments_wiring.get_export_jobs(),
        files=segments_wiring.get_export_files(),
        now=wiring.get_clock().now(),
    )
    metrics.add_metric(name="AudienceRowsExported", unit=MetricUnit.Count, value=export.rows)
    logger.info("audience exported", extra={"export_id": export.export_id, "rows": export.rows})


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
