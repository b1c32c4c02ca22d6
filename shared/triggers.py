"""How SQS records and bus events reach a handler: the part of a bus event a consumer reads, the
loop every bus consumer runs over its SQS batch (partial failures reported), and the back-off a
queue worker applies when it gives a message back. Handlers use these; no AWS client is built here."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, Field, Json, ValidationError

from shared.domain.kernel.errors import OmnireachError
from shared.domain.kernel.events import unbatched
from shared.observability import logger, metrics


class BusEvent(BaseModel):
    """The part of an EventBridge envelope a consumer reads (what every deliverer sends; moto's
    EventBridge-to-SQS delivery lacks `account`, so nothing else is required)."""

    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]

    def singles(self) -> list[BusEvent]:
        """The single events this one stands for: a batch event's, or itself."""
        return [
            BusEvent.model_validate({"detail-type": detail_type, "detail": detail})
            for detail_type, detail in unbatched(self.detail_type, self.detail)
        ]


class BusEventRecord(SqsRecordModel):
    """An SQS record whose body is a bus event (an EventBridge rule targeting a queue)."""

    body: Json[BusEvent]


def consume_bus_records(
    records: list[dict[str, Any]], handle: Callable[[BusEvent], str], *, consumer: str
) -> PartialItemFailureResponse:
    """Hand each bus event of an SQS batch to `handle` (a batch event's single events one by
    one), which answers an outcome. An unreadable record, or one whose handling raised (a
    dependency was down, a write conflicted, or a fault of ours), is reported as failed so SQS
    brings it back alone; repeated failures end on the DLQ. Its neighbours are never held back.
    Outcomes are counted as metrics
    `<consumer><Outcome>`."""
    failed: list[str] = []
    counts: dict[str, int] = {}
    for raw in records:
        try:
            record = BusEventRecord.model_validate(raw)
        except ValidationError as error:
            logger.error(
                "unreadable bus event",
                extra={"message_id": raw.get("messageId"), "errors": error.error_count()},
            )
            failed.append(raw["messageId"])
            continue
        try:
            # a batch event's single events in turn; when one fails the record comes back whole,
            # and the ones already handled are recognised (every consumer dedupes)
            outcomes = [handle(event) for event in record.body.singles()]
        except OmnireachError as error:
            logger.warning(
                f"{consumer.lower()} event retried",
                extra={"code": error.code, "reason": error.message, "detail_type": record.body.detail_type},
            )
            failed.append(record.messageId)
            continue
        except Exception:  # a fault of ours with this one event: it alone goes back (and to the DLQ)
            logger.exception(
                f"{consumer.lower()} event failed",
                extra={"message_id": record.messageId, "detail_type": record.body.detail_type},
            )
            failed.append(record.messageId)
            continue
        for outcome in outcomes:
            counts[outcome] = counts.get(outcome, 0) + 1
    for outcome, count in counts.items():
        name = outcome.title().replace("_", "")
        metrics.add_metric(name=f"{consumer}{name}", unit=MetricUnit.Count, value=count)
    metrics.add_metric(name=f"{consumer}EventsFailed", unit=MetricUnit.Count, value=len(failed))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 900


def backoff_seconds(receive_count: int, chooser: random.Random) -> int:
    """Full jitter over an exponential ceiling: 10, 20, 40, ... 900 s."""
    ceiling = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, receive_count - 1))
    return max(1, int(chooser.uniform(ceiling / 2, ceiling)))


class RetryLater(Protocol):
    """A consumer's back-off on its own queue (`shared.adapters.sqs.Redelivery`)."""

    def retry_later(self, receipt_handle: str, seconds: int) -> None: ...


def receive_count(record: dict[str, Any] | SqsRecordModel) -> int:
    """How many times SQS has delivered this record (1 the first time)."""
    if isinstance(record, SqsRecordModel):
        return int(record.attributes.ApproximateReceiveCount)
    return int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
