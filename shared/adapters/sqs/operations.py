"""Queue depth readings for the queue monitor."""

from __future__ import annotations

from typing import Any

from shared.adapters.aws_clients import client as aws_client
from shared.domain.operations.queue_health import QueueDepth


class SqsQueueInspector:
    def __init__(self, *, client: Any = None) -> None:
        self._client = client or aws_client("sqs")

    def depth(self, queue_url: str) -> QueueDepth:
        attributes = self._client.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return QueueDepth(
            visible=int(attributes["ApproximateNumberOfMessages"]),
            in_flight=int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )
