"""In-memory implementations of the domain's ports, for unit tests (no AWS, no network)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.credentials import secret_digest
from shared.domain.errors import ConflictError, DependencyUnavailableError
from shared.domain.queue_health import QueueDepth
from shared.domain.touchpoints import Source, Touchpoint


@dataclass
class FakeClock:
    current: datetime = field(default_factory=lambda: datetime(2026, 11, 24, 9, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@dataclass
class InMemorySourceRegistry:
    sources: dict[str, Source] = field(default_factory=dict)

    def find_by_write_key(self, write_key: str) -> Source | None:
        return self.sources.get(secret_digest(write_key))

    def register(self, source: Source, write_key: str) -> None:
        if secret_digest(write_key) in self.sources:
            raise ConflictError("This write key is already registered")
        self.sources[secret_digest(write_key)] = source


@dataclass
class InMemoryTouchpointQueue:
    sent: list[Touchpoint] = field(default_factory=list)
    unavailable: bool = False

    def send(self, touchpoint: Touchpoint) -> None:
        if self.unavailable:
            raise DependencyUnavailableError("queue down")
        self.sent.append(touchpoint)


@dataclass
class InMemoryTouchpointArchive:
    items: dict[str, tuple[Touchpoint, datetime]] = field(default_factory=dict)

    def add(self, touchpoint: Touchpoint, *, expires_at: datetime, now: datetime) -> bool:
        existing = self.items.get(touchpoint.touchpoint_id)
        if existing is not None and existing[1] > now:
            return False
        self.items[touchpoint.touchpoint_id] = (touchpoint, expires_at)
        return True

    def get(self, touchpoint_id: str) -> tuple[Touchpoint, datetime] | None:
        return self.items.get(touchpoint_id)


@dataclass
class FakeQueueInspector:
    depths: dict[str, QueueDepth] = field(default_factory=dict)

    def depth(self, queue_url: str) -> QueueDepth:
        return self.depths.get(queue_url, QueueDepth(visible=0, in_flight=0))


@dataclass
class RecordingPublisher:
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.published.append((detail_type, detail))
