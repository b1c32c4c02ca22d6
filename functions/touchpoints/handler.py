"""Touchpoint consumer: SQS batch → identity resolution → one write per profile → events →
archive. The batch is folded as a whole (touchpoints of one person become one profile write); a
record that cannot be read is reported alone (ReportBatchItemFailures) and ends on the DLQ.

When the whole batch cannot be folded (a write kept conflicting through every retry, a product
error, or a fault of ours), each touchpoint is folded alone so the rest land now and only the ones
that still fail go back, each after a short back-off (10 s doubling, at most the queue's visibility
timeout) rather than the whole batch after three minutes. Every write is idempotent, so what the
failed attempt already wrote is recognised. A dependency that is down stops the one-by-one pass:
the remaining touchpoints go back with it."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json, ValidationError

from shared import wiring
from shared.domain.customers.folding import FoldResult, Outcome, fold_touchpoints
from shared.domain.ingest.touchpoints import Touchpoint
from shared.domain.kernel.activity import HourlyActivity, hour_of
from shared.domain.kernel.errors import DependencyUnavailableError, OmnireachError
from shared.observability import logger, metrics, tracer
from shared.triggers import backoff_seconds, receive_count
from shared.wiring import activity as activity_wiring
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


MAX_RETRY_SECONDS = 180  # the queue's visibility timeout: a back-off never waits longer than that
SAFETY_MILLIS = 5000  # the one-by-one pass stops while there is still time to answer
_chooser = random.Random()  # noqa: S311 - jitter


def _fold(touchpoints: Sequence[Touchpoint]) -> FoldResult:
    return fold_touchpoints(
        touchpoints,
        graph=customers_wiring.get_customer_graph(),
        archive=ingest_wiring.get_touchpoint_archive(),
        publisher=wiring.get_event_publisher(),
        policy=customers_wiring.get_identity_policy(),
        clock=wiring.get_clock(),
        expires_at=ingest_wiring.get_archive_policy().expires_at,
    )


def _fold_one_by_one(
    records: list[TouchpointRecord], context: LambdaContext
) -> tuple[list[FoldResult], list[TouchpointRecord]]:
    """Each touchpoint alone: the results, and the records that go back (those that still
    failed, and the rest once a dependency is down or time is short)."""
    results: list[FoldResult] = []
    returned: list[TouchpointRecord] = []
    for index, record in enumerate(records):
        if context.get_remaining_time_in_millis() < SAFETY_MILLIS:
            return results, returned + records[index:]
        try:
            results.append(_fold([record.body]))
        except DependencyUnavailableError as error:
            logger.warning("touchpoint batch retried", extra={"code": error.code, "reason": error.message})
            return results, returned + records[index:]
        except OmnireachError as error:
            logger.warning(
                "touchpoint retried",
                extra={
                    "touchpoint_id": record.body.touchpoint_id,
                    "code": error.code,
                    "reason": error.message,
                },
            )
            returned.append(record)
        except Exception:  # our fault: logged, and only this touchpoint goes back
            logger.exception("touchpoint failed", extra={"touchpoint_id": record.body.touchpoint_id})
            returned.append(record)
    return results, returned


def _count(results: list[FoldResult]) -> None:
    outcomes: Counter[Outcome] = Counter()
    for result in results:
        for touchpoint_id, outcome in result.outcomes.items():
            if outcome is Outcome.DUPLICATE:
                logger.info("duplicate touchpoint ignored", extra={"touchpoint_id": touchpoint_id})
            elif outcome is Outcome.SUPPRESSED:
                logger.info("touchpoint of an erased person dropped", extra={"touchpoint_id": touchpoint_id})
        outcomes.update(result.outcomes.values())
    for outcome, metric in _METRIC_BY_OUTCOME.items():
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=outcomes[outcome])
    metrics.add_metric(name="ProfilesMerged", unit=MetricUnit.Count, value=sum(r.merges for r in results))
    metrics.add_metric(
        name="IdentifiersNotLinked",
        unit=MetricUnit.Count,
        value=sum(r.dropped_identifiers for r in results),
    )
    metrics.add_metric(name="FoldAttempts", unit=MetricUnit.Count, value=sum(r.attempts for r in results))


_STORED = (Outcome.APPLIED, Outcome.UNATTRIBUTED)


def _record_activity(records: list[TouchpointRecord], results: list[FoldResult]) -> None:
    """The console's activity figures: one counter write for the batch. Best effort: a write the
    table refused is logged and the batch is not sent back for it (its touchpoints are stored)."""
    channel_of = {record.body.touchpoint_id: record.body.channel.value for record in records}
    activity = HourlyActivity(hour=hour_of(wiring.get_clock().now()))
    for result in results:
        activity.touchpoints.update(
            channel_of[tid]
            for tid, outcome in result.outcomes.items()
            if outcome in _STORED and tid in channel_of
        )
        activity.profiles_created += len(result.created)
        activity.merges += result.merges
    try:
        activity_wiring.get_activity_log().record(activity)
    except OmnireachError as error:
        logger.warning("activity not counted", extra={"code": error.code, "reason": error.message})


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
            results = [_fold([record.body for record in records])]
        except Exception as error:  # a product error, or our own fault: the batch is split either way
            logger.warning(
                "touchpoint batch folded one by one",
                extra={"code": getattr(error, "code", type(error).__name__), "reason": str(error)[:200]},
            )
            results, returned = _fold_one_by_one(records, context)
            redelivery = ingest_wiring.get_touchpoint_redelivery()
            for record in returned:
                seconds = min(MAX_RETRY_SECONDS, backoff_seconds(receive_count(record), _chooser))
                redelivery.retry_later(record.receiptHandle, seconds)
                failed.append(record.messageId)
        _count(results)
        _record_activity(records, results)
    metrics.add_metric(name="TouchpointsFailed", unit=MetricUnit.Count, value=len(failed))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
