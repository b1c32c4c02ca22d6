"""Touchpoint consumer: SQS batch → identity resolution → one write per profile → events →
archive. The batch is folded as a whole (touchpoints of one person become one profile write); a
record that cannot be read is reported alone (ReportBatchItemFailures) and ends on the DLQ."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json, ValidationError

from shared import wiring
from shared.domain.customers.folding import Outcome, fold_touchpoints
from shared.domain.ingest.touchpoints import Touchpoint
from shared.domain.kernel.errors import OmnireachError
from shared.observability import logger, metrics, tracer
from shared.wiring import customers as customers_wiring
from shared.wiring import ingest as ingest_wiring


class TouchpointRecord(SqsRecordModel):
    body: Json[Touchpoint]


_METRIC_BY_OUTCOME = {
    Outcome.APPLIED: "TouchpointsStored",
    Outcome.UNATTRIBUTED: "TouchpointsUnattributed",
    Outcome.DUPLICATE: "TouchpointsDuplicate",
    Outcome.SUPPRESSED: "TouchpointsSuppressed",
}


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    failed: list[str] = []
    records: list[TouchpointRecord] = []
    for raw in event["Records"]:
        try:
            records.append(TouchpointRecord.model_validate(raw))
        except ValidationError as error:
            logger.error(
                "unreadable touchpoint message",
                extra={"message_id": raw.get("messageId"), "errors": error.error_count()},
            )
            failed.append(raw["messageId"])
    if records:
        try:
            result = fold_touchpoints(
                [record.body for record in records],
                graph=customers_wiring.get_customer_graph(),
                archive=ingest_wiring.get_touchpoint_archive(),
                publisher=wiring.get_event_publisher(),
                policy=customers_wiring.get_identity_policy(),
                clock=wiring.get_clock(),
                expires_at=ingest_wiring.get_archive_policy().expires_at,
            )
        except OmnireachError as error:
            # Nothing half-done is lost: every write is idempotent and the whole batch comes back.
            logger.warning("touchpoint batch retried", extra={"code": error.code, "reason": error.message})
            failed += [record.messageId for record in records]
        else:
            for touchpoint_id, outcome in result.outcomes.items():
                if outcome is Outcome.DUPLICATE:
                    logger.info("duplicate touchpoint ignored", extra={"touchpoint_id": touchpoint_id})
                elif outcome is Outcome.SUPPRESSED:
                    logger.info(
                        "touchpoint of an erased person dropped", extra={"touchpoint_id": touchpoint_id}
                    )
            outcomes = Counter(result.outcomes.values())
            for outcome, metric in _METRIC_BY_OUTCOME.items():
                metrics.add_metric(name=metric, unit=MetricUnit.Count, value=outcomes[outcome])
            metrics.add_metric(name="ProfilesMerged", unit=MetricUnit.Count, value=result.merges)
            metrics.add_metric(
                name="IdentifiersNotLinked", unit=MetricUnit.Count, value=result.dropped_identifiers
            )
            metrics.add_metric(name="FoldAttempts", unit=MetricUnit.Count, value=result.attempts)
    metrics.add_metric(name="TouchpointsFailed", unit=MetricUnit.Count, value=len(failed))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
