"""Dispatch tasks and contact plan refreshes."""

from __future__ import annotations

import json
from collections.abc import Sequence

from shared.adapters.sqs import JobQueue, WorkQueue
from shared.domain.engagement.models import DispatchTask


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


class SqsPlanQueue(JobQueue):
    """Contact plan refreshes, one job per message."""

    name = "plan"
    key = "plan_id"
