"""Touchpoint consumer: SQS → archive each touchpoint once → TouchpointRecorded on the bus.
Partial batch failures are reported (ReportBatchItemFailures), so one poison message never holds
back its batch and ends on the DLQ."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from shared import dependencies
from shared.domain.ingest import ArchiveOutcome, announce, archive_touchpoint
from shared.domain.touchpoints import Touchpoint
from shared.observability import logger, metrics, tracer


class TouchpointRecord(SqsRecordModel):
    body: Json[Touchpoint]


processor = BatchProcessor(event_type=EventType.SQS, model=TouchpointRecord)

_METRIC_BY_OUTCOME = {
    ArchiveOutcome.STORED: "TouchpointsStored",
    ArchiveOutcome.DUPLICATE: "TouchpointsDuplicate",
}


def record_handler(record: TouchpointRecord) -> tuple[ArchiveOutcome, Touchpoint]:
    outcome = archive_touchpoint(
        record.body,
        archive=dependencies.get_touchpoint_archive(),
        policy=dependencies.get_archive_policy(),
        clock=dependencies.get_clock(),
    )
    if outcome is ArchiveOutcome.DUPLICATE:
        logger.info("duplicate touchpoint ignored", extra={"touchpoint_id": record.body.touchpoint_id})
    return outcome, record.body


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    with processor(records=event["Records"], handler=record_handler, lambda_context=context):
        results = processor.process()
    processed = [result for status, result, _record in results if status == "success"]
    # Announced after archiving; if this fails the batch is retried and the duplicates re-announce.
    announce([touchpoint for _outcome, touchpoint in processed], publisher=dependencies.get_event_publisher())
    # One value per outcome per batch: cheaper than one per record, and under EMF's 100-value limit.
    outcomes = Counter(outcome for outcome, _touchpoint in processed)
    for outcome, metric in _METRIC_BY_OUTCOME.items():
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=outcomes[outcome])
    metrics.add_metric(name="TouchpointsFailed", unit=MetricUnit.Count, value=len(results) - len(processed))
    return processor.response()
