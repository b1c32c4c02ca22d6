"""EventBridge publisher for the product's bus."""

from __future__ import annotations

import json
from typing import Any

from shared.adapters.aws_clients import client as aws_client
from shared.domain.errors import DependencyUnavailableError

EVENT_SOURCE = "omnireach"


class EventBridgePublisher:
    def __init__(self, bus_name: str, *, client: Any = None) -> None:
        self._bus_name = bus_name
        self._client = client or aws_client("events")

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        response = self._client.put_events(
            Entries=[
                {
                    "EventBusName": self._bus_name,
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, separators=(",", ":"), default=str),
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise DependencyUnavailableError(
                "The event bus rejected an event", details={"entries": response.get("Entries")}
            )
