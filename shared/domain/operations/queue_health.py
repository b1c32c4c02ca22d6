"""Queue health: poison messages must never wait unseen on a dead-letter queue."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MonitoredQueue:
    name: str
    url: str
    is_dead_letter: bool


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int


@dataclass(frozen=True)
class QueueReading:
    queue: MonitoredQueue
    depth: QueueDepth

    @property
    def needs_attention(self) -> bool:
        return self.queue.is_dead_letter and self.depth.visible > 0


DEAD_LETTERS_WAITING = "DeadLettersWaiting"
