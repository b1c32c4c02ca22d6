"""The product's EventBridge bus: the publisher. What a consumer reads of a bus event, and its loop
over an SQS batch, are in `shared.triggers`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client as aws_client
from shared.adapters.batching import chunks
from shared.domain.kernel.errors import DependencyUnavailableError

EVENT_SOURCE = "omnireach"
PUT_EVENTS_ENTRIES = 10
PUT_EVENTS_BYTES = 256 * 1024


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
