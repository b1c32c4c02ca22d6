"""SQS adapters: the touchpoint queue (producer side) and queue depth readings."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client as aws_client
from shared.adapters.batching import chunks
from shared.domain.commerce.channel_sync import sync_message
from shared.domain.engagement.models import DispatchTask
from shared.domain.ingest.touchpoints import Touchpoint
from shared.domain.kernel.errors import DependencyUnavailableError
from shared.domain.operations.queue_health import QueueDepth
from shared.domain.segments.recompute import Phase

SQS_BATCH_ENTRIES = 10
SQS_BATCH_BYTES = 256 * 1024


class SqsTouchpointQueue:
    def __init__(self, queue_url: str, *, client: Any = None) -> None:
        self._queue_url = queue_url
        self._client = client or aws_client("sqs")

    def send_all(self, touchpoints: Sequence[Touchpoint]) -> None:
        bodies = [touchpoint.model_dump_json() for touchpoint in touchpoints]
        sized = [((str(index), body), len(body.encode())) for index, body in enumerate(bodies)]
        for chunk in chunks(sized, max_entries=SQS_BATCH_ENTRIES, max_bytes=SQS_BATCH_BYTES):
            self._send_chunk(chunk)

    def _send_chunk(self, chunk: list[tuple[str, str]], *, retries: int = 1) -> None:
        entries = [{"Id": entry_id, "MessageBody": body} for entry_id, body in chunk]
        try:
            response = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailableError("The touchpoint queue did not accept the messages") from error
        failed = {failure["Id"] for failure in response.get("Failed", [])}
        if failed and retries > 0:
            self._send_chunk([entry for entry in chunk if entry[0] in failed], retries=retries - 1)
        elif failed:
            raise DependencyUnavailableError(
                "The touchpoint queue refused some messages", details={"failed": len(failed)}
            )


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


class SqsErasureJobs:
    """Erasure sweeps as messages on the privacy queue (the second one delayed, ≤ 15 minutes)."""

    def __init__(self, queue_url: str, *, client: Any = None) -> None:
        self._queue_url = queue_url
        self._client = client or aws_client("sqs")

    def submit(self, request_id: str, *, sweep: int, delay_seconds: int = 0) -> None:
        body = json.dumps({"request_id": request_id, "sweep": sweep})
        try:
            self._client.send_message(
                QueueUrl=self._queue_url, MessageBody=body, DelaySeconds=min(max(delay_seconds, 0), 900)
            )
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailableError("The privacy queue did not accept the job") from error


class SqsRecomputeTasks:
    """One message per part of the nightly recompute."""

    def __init__(self, queue_url: str, *, client: Any = None) -> None:
        self._queue_url = queue_url
        self._client = client or aws_client("sqs")

    def submit(self, job_id: str, *, phase: Phase, part: int) -> None:
        body = json.dumps({"job_id": job_id, "phase": phase.value, "part": part})
        try:
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=body)
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailableError("The recompute queue did not accept the task") from error


class SqsExportQueue:
    def __init__(self, queue_url: str, *, client: Any = None) -> None:
        self._queue_url = queue_url
        self._client = client or aws_client("sqs")

    def submit(self, export_id: str) -> None:
        try:
            self._client.send_message(
                QueueUrl=self._queue_url, MessageBody=json.dumps({"export_id": export_id})
            )
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailableError("The export queue did not accept the job") from error


class _WorkQueue:
    """A queue a worker backs off on: bodies sent in batches of 10, visibility moved on retry."""

    name = "work"

    def __init__(self, queue_url: str, *, client: Any = None) -> None:
        self._queue_url = queue_url
        self._client = client or aws_client("sqs")

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

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        """Back off: the message comes back after `seconds` (SQS caps visibility at 12 h)."""
        with contextlib.suppress(BotoCoreError, ClientError):  # else the queue's own timeout applies
            self._client.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )


class SqsSyncRequests(_WorkQueue):
    """Channel sync requests: one message per (channel, SKU); the worker reads the value itself."""

    name = "channel sync"

    def request(self, pairs: Sequence[tuple[str, str]], *, force: bool = False) -> None:
        self._send_bodies([sync_message(channel_id, sku, force=force) for channel_id, sku in pairs])


class SqsDispatchQueue(_WorkQueue):
    """Dispatch tasks, up to 20 per message (one message per batch the caller packs)."""

    name = "dispatch"

    def send(self, batches: Sequence[Sequence[DispatchTask]]) -> None:
        self._send_bodies(
            [
                json.dumps({"tasks": [task.model_dump(mode="json") for task in batch]}, separators=(",", ":"))
                for batch in batches
                if batch
            ]
        )


FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 900


def backoff_seconds(receive_count: int, chooser: random.Random) -> int:
    """Full jitter over an exponential ceiling: 10, 20, 40, ... 900 s."""
    ceiling = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, receive_count - 1))
    return max(1, int(chooser.uniform(ceiling / 2, ceiling)))
