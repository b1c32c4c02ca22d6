"""Touchpoint consumer: SQS → archive each touchpoint once. Partial batch failures are reported
(ReportBatchItemFailures), so one poison message never holds back its batch and ends on the DLQ."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from shared import dependencies
from shared.domain.ingest import ArchiveOutcome, archive_touchpoint
from shared.domain.touchpoints import Touchpoint
from shared.observability import logger, metrics, tracer


class TouchpointRecord(SqsRecordModel):
    body: Json[Touchpoint]


processor = BatchProcessor(event_type=EventType.SQS, model=TouchpointRecord)

_METRIC_BY_OUTCOME = {
    ArchiveOutcome.STORED: "TouchpointsStored",
    ArchiveOutcome.DUPLICATE: "TouchpointsDuplicate",
}


def record_handler(record: TouchpointRecord) -> str:
    outcome = archive_touchpoint(
        record.body,
        archive=dependencies.get_touchpoint_archive(),
        policy=dependencies.get_archive_policy(),
        clock=dependencies.get_clock(),
    )
    metrics.add_metric(name=_METRIC_BY_OUTCOME[outcome], unit=MetricUnit.Count, value=1)
    if outcome is ArchiveOutcome.DUPLICATE:
        logger.info("duplicate touchpoint ignored", extra={"touchpoint_id": record.body.touchpoint_id})
    return outcome.value


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
