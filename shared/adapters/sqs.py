"""SQS adapters: the touchpoint queue (producer side) and queue depth readings."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client as aws_client
from shared.domain.errors import DependencyUnavailableError
from shared.domain.queue_health import QueueDepth
from shared.domain.touchpoints import Touchpoint


class SqsTouchpointQueue:
    def __init__(self, queue_url: str, *, client: Any = None) -> None:
        self._queue_url = queue_url
        self._client = client or aws_client("sqs")

    def send(self, touchpoint: Touchpoint) -> None:
        try:
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=touchpoint.model_dump_json())
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailableError("The touchpoint queue did not accept the message") from error


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
