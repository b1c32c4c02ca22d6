"""Erasure sweeps as messages on the privacy queue."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client as aws_client
from shared.domain.kernel.errors import DependencyUnavailableError


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
