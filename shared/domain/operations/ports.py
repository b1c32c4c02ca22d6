"""What operations needs from the outside world: queue depths."""

from __future__ import annotations

from typing import Protocol

from shared.domain.operations.queue_health import QueueDepth


class QueueInspector(Protocol):
    def depth(self, queue_url: str) -> QueueDepth: ...
