"""Dispatch tasks and contact plan refreshes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client as aws_client
from shared.adapters.sqs import WorkQueue
from shared.domain.engagement.models import DispatchTask
from shared.domain.kernel.errors import DependencyUnavailableError


class SqsDispatchQueue(WorkQueue):
    """Dispatch tasks, up to 20 per message (one message per batch the caller packs)."""

    name = "dispatch"

    def send(self, batches: Sequence[Sequence[DispatchTask]]) -> None:
        self._send_bodies(
            [
                json.dumps(
                    {"tasks": [task.model_dump(mode="json", exclude_defaults=True) for task in batch]},
                    separators=(",", ":"),
                )
                for batch in batches
                if batch
            ]
        )


class SqsPlanQueue:
    """Contact plan refreshes, one job per message."""

    def __init__(self, queue_url: str, *, client: Any = None) -> None:
        self._queue_url = queue_url
        self._client = client or aws_client("sqs")

    def submit(self, plan_id: str) -> None:
        try:
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps({"plan_id": plan_id}))
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailableError("The plan queue did not answer") from error
