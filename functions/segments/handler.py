"""Segments consumer: bus events (via SegmentQueue) → re-evaluate the profiles they name, each
once per batch. When the batch fails, each record is evaluated on its own, so only the records
that still fail go back (every evaluation is idempotent); a record that cannot be read is
reported alone and ends on the DLQ."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared.domain.kernel.errors import OmnireachError
from shared.domain.segments.live import RefreshResult, profiles_named
from shared.observability import logger, metrics, tracer
from shared.triggers import BusEventRecord
from shared.wiring import segments as segments_wiring


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    failed: list[str] = []
    readable: list[BusEventRecord] = []
    for raw in event["Records"]:
        try:
            readable.append(BusEventRecord.model_validate(raw))
        except ValidationError as error:
            logger.error(
                "unreadable bus event",
                extra={"message_id": raw.get("messageId"), "errors": error.error_count()},
            )
            failed.append(raw["messageId"])
    named = [pid for record in readable for pid in _named(record)]
    if named:
        try:
            _report(segments_wiring.get_refresher().refresh(named))
        except Exception as error:
            logger.warning("segment batch split", extra={"reason": _reason(error)})
            failed += _one_by_one(readable)
    metrics.add_metric(name="SegmentEventsFailed", unit=MetricUnit.Count, value=len(failed))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def _named(record: BusEventRecord) -> list[str]:
    """The profiles a record names (a batch event's single events all together)."""
    return [pid for event in record.body.singles() for pid in profiles_named(event.detail_type, event.detail)]


def _reason(error: Exception) -> str:
    return error.code if isinstance(error, OmnireachError) else type(error).__name__


def _one_by_one(records: list[BusEventRecord]) -> list[str]:
    """Each record's profiles on their own: the ids of the records that still fail."""
    failed = []
    for record in records:
        named = _named(record)
        if not named:
            continue
        try:
            _report(segments_wiring.get_refresher().refresh(named))
        except OmnireachError as error:
            logger.warning("segment event retried", extra={"code": error.code, "reason": error.message})
            failed.append(record.messageId)
        except Exception:
            logger.exception("segment event failed", extra={"message_id": record.messageId})
            failed.append(record.messageId)
    return failed


def _report(result: RefreshResult) -> None:
    metrics.add_metric(name="ProfilesEvaluated", unit=MetricUnit.Count, value=result.evaluated)
    metrics.add_metric(name="SegmentEntries", unit=MetricUnit.Count, value=result.entered)
    metrics.add_metric(name="SegmentExits", unit=MetricUnit.Count, value=result.exited)
    metrics.add_metric(name="StageChanges", unit=MetricUnit.Count, value=result.stage_changes)
