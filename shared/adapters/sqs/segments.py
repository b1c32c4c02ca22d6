"""The nightly recompute's tasks and audience export jobs."""

from __future__ import annotations

from shared.adapters.sqs import JobQueue, TaskQueue
from shared.domain.segments.recompute import Phase


class SqsRecomputeTasks(TaskQueue):
    """One message per part of the nightly recompute."""

    name = "recompute"

    def submit(self, job_id: str, *, phase: Phase, part: int) -> None:
        self._send({"job_id": job_id, "phase": phase.value, "part": part})


class SqsExportQueue(JobQueue):
    name = "export"
    key = "export_id"
