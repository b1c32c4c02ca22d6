"""The product's EventBridge bus: the publisher, the envelope as a rule delivers it to a queue, and
the loop every bus consumer runs over its SQS batch."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field, Json, ValidationError

from shared.adapters.aws_clients import client as aws_client
from shared.adapters.batching import chunks
from shared.domain.kernel.errors import DependencyUnavailableError, OmnireachError
from shared.observability import logger, metrics

EVENT_SOURCE = "omnireach"
PUT_EVENTS_ENTRIES = 10
PUT_EVENTS_BYTES = 256 * 1024


class BusEvent(BaseModel):
    """The part of an EventBridge envelope a consumer reads (what every deliverer sends; moto's
    EventBridge-to-SQS delivery lacks `account`, so nothing else is required)."""

    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]


class BusEventRecord(SqsRecordModel):
    """An SQS record whose body is a bus event (an EventBridge rule targeting a queue)."""

    body: Json[BusEvent]


class EventBridgePublisher:
    def __init__(self, bus_name: str, *, client: Any = None) -> None:
        self._bus_name = bus_name
        self._client = client or aws_client("events")

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.publish_all([(detail_type, detail)])

    def publish_all(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        entries = []
        for detail_type, detail in events:
            entry = {
                "EventBusName": self._bus_name,
                "Source": EVENT_SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail, separators=(",", ":"), default=str),
            }
            # EventBridge sizes an entry by its source, detail-type and detail.
            entries.append((entry, len(EVENT_SOURCE) + len(detail_type) + len(entry["Detail"].encode())))
        for chunk in chunks(entries, max_entries=PUT_EVENTS_ENTRIES, max_bytes=PUT_EVENTS_BYTES):
            self._put(chunk)

    def _put(self, entries: list[dict[str, Any]], *, retries: int = 1) -> None:
        try:
            response = self._client.put_events(Entries=entries)
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailableError("The event bus did not answer") from error
        if not response.get("FailedEntryCount"):
            return
        failed = [
            entry
            for entry, result in zip(entries, response["Entries"], strict=True)
            if result.get("ErrorCode")
        ]
        if retries > 0:
            self._put(failed, retries=retries - 1)
        else:
            raise DependencyUnavailableError("The event bus rejected events", details={"failed": len(failed)})


def consume_bus_records(
    records: list[dict[str, Any]], handle: Callable[[BusEvent], str], *, consumer: str
) -> PartialItemFailureResponse:
    """Hand each bus event of an SQS batch to `handle`, which answers an outcome. An unreadable
    record, or one whose handling raised a product error (a dependency was down, a write
    conflicted), is reported as failed so SQS brings it back; repeated failures end on the DLQ.
    Outcomes are counted as metrics `<consumer><Outcome>`."""
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
            outcome = handle(record.body)
        except OmnireachError as error:
            logger.warning(
                f"{consumer.lower()} event retried",
                extra={"code": error.code, "reason": error.message, "detail_type": record.body.detail_type},
            )
            failed.append(record.messageId)
            continue
        counts[outcome] = counts.get(outcome, 0) + 1
    for outcome, count in counts.items():
        name = outcome.title().replace("_", "")
        metrics.add_metric(name=f"{consumer}{name}", unit=MetricUnit.Count, value=count)
    metrics.add_metric(name=f"{consumer}EventsFailed", unit=MetricUnit.Count, value=len(failed))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
