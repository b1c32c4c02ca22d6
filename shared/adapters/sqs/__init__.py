"""SQS adapters, one module per capability that owns a queue. This module holds what they share:
the limits of a batch, a consumer's back-off (moving a message's visibility), and the base of a
queue a worker backs off on."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client as aws_client
from shared.domain.kernel.errors import DependencyUnavailableError

SQS_BATCH_ENTRIES = 10
SQS_BATCH_BYTES = 256 * 1024


class Redelivery:
    """A consumer's back-off on its own queue: a message it gives back returns after the delay it
    chooses rather than the queue's whole visibility timeout."""

    def __init__(self, queue_url: str, *, client: Any = None) -> None:
        self._queue_url = queue_url
        self._client = client or aws_client("sqs")

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        """Back off: the message comes back after `seconds` (SQS caps visibility at 12 h)."""
        with contextlib.suppress(BotoCoreError, ClientError):  # else the queue's own timeout applies
            self._client.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )


class WorkQueue(Redelivery):
    """A queue a worker backs off on: bodies sent in batches of 10, visibility moved on retry."""

    name = "work"

    def _send_bodies(self, bodies: Sequence[str]) -> None:
        for start in range(0, len(bodies), SQS_BATCH_ENTRIES):
            entries = [
                {"Id": str(index), "MessageBody": body}
                for index, body in enumerate(bodies[start : start + SQS_BATCH_ENTRIES])
            ]
            try:
                response = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            except (BotoCoreError, ClientError) as error:
                raise DependencyUnavailableError(
                    f"The {self.name} queue did not accept the messages"
                ) from error
            if response.get("Failed"):
                raise DependencyUnavailableError(
                    f"The {self.name} queue refused some messages",
                    details={"failed": len(response["Failed"])},
                )


class TaskQueue:
    """A queue of background tasks, one JSON message each."""

    name = "task"

    def __init__(self, queue_url: str, *, client: Any = None) -> None:
        self._queue_url = queue_url
        self._client = client or aws_client("sqs")

    def _send(self, body: dict[str, Any]) -> None:
        try:
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(body))
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailableError(f"The {self.name} queue did not accept the job") from error


class JobQueue(TaskQueue):
    """Jobs named by one id: `submit(id)` sends `{"<key>": id}`."""

    key = "id"

    def submit(self, job_id: str) -> None:
        self._send({self.key: job_id})
