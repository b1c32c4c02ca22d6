"""The touchpoint queue (producer side): touchpoints sent in batches of at most 10 and 256 KB."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client as aws_client
from shared.adapters.batching import chunks
from shared.adapters.sqs import SQS_BATCH_BYTES, SQS_BATCH_ENTRIES
from shared.domain.ingest.touchpoints import Touchpoint
from shared.domain.kernel.errors import DependencyUnavailableError

# A request's enqueue stops here and answers 503 (the client's retry is safe: ids are stable),
# well inside API Gateway's 29 s, however slowly SQS answers (each call: 3 s, 3 attempts).
ENQUEUE_DEADLINE_SECONDS = 20.0


class SqsTouchpointQueue:
    def __init__(
        self,
        queue_url: str,
        *,
        client: Any = None,
        deadline_seconds: float = ENQUEUE_DEADLINE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._queue_url = queue_url
        self._client = client or aws_client("sqs")
        self._deadline_seconds = deadline_seconds
        self._monotonic = monotonic

    def send_all(self, touchpoints: Sequence[Touchpoint]) -> None:
        bodies = [touchpoint.model_dump_json() for touchpoint in touchpoints]
        sized = [((str(index), body), len(body.encode())) for index, body in enumerate(bodies)]
        enqueued = 0
        deadline = self._monotonic() + self._deadline_seconds
        for chunk in chunks(sized, max_entries=SQS_BATCH_ENTRIES, max_bytes=SQS_BATCH_BYTES):
            try:
                if self._monotonic() > deadline:
                    raise DependencyUnavailableError("The touchpoint queue is answering too slowly")
                self._send_chunk(chunk)
            except DependencyUnavailableError as error:
                # What went before is queued: the caller's retry is safe (stable ids, deduplicated).
                raise DependencyUnavailableError(
                    error.message,
                    details={**(error.details or {}), "enqueued": enqueued, "of": len(bodies)},
                ) from error
            enqueued += len(chunk)

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
