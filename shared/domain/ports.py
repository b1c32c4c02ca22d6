"""What the domain needs from the outside world. Adapters in `shared.adapters` implement these;
unit tests use the in-memory fakes in `tests/fakes.py`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from shared.domain.queue_health import QueueDepth
from shared.domain.touchpoints import Source, Touchpoint


class Clock(Protocol):
    def now(self) -> datetime: ...


class SourceRegistry(Protocol):
    def find_by_write_key(self, write_key: str) -> Source | None: ...

    def register(self, source: Source, write_key: str) -> None:
        """Raises ConflictError if the write key is already registered."""
        ...


class TouchpointQueue(Protocol):
    def send(self, touchpoint: Touchpoint) -> None: ...


class TouchpointArchive(Protocol):
    def add(self, touchpoint: Touchpoint, *, expires_at: datetime, now: datetime) -> bool:
        """Store the touchpoint unless a live one with its id exists. True if it was stored."""
        ...

    def get(self, touchpoint_id: str) -> tuple[Touchpoint, datetime] | None:
        """The touchpoint and when it expires, or None."""
        ...


class QueueInspector(Protocol):
    def depth(self, queue_url: str) -> QueueDepth: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...
