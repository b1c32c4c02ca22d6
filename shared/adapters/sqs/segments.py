"""The nightly recompute's tasks and audience export jobs."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client as aws_client
from shared.domain.kernel.errors import DependencyUnavailableError
from shared.domain.segments.recompute import Phase


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
