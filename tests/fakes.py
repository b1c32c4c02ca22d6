"""In-memory implementations of the domain's ports, for unit tests (no AWS, no network)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.credentials import secret_digest
from shared.domain.errors import ConflictError, DependencyUnavailableError
from shared.domain.queue_health import QueueDepth
from shared.domain.touchpoints import Source, SourceSecrets, Touchpoint


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
    secrets: dict[str, list[str]] = field(default_factory=dict)
    write_keys: dict[str, str] = field(default_factory=dict)  # digest → source id
    encryption_keys: dict[str, str] = field(default_factory=dict)

    def find_by_write_key(self, write_key: str) -> Source | None:
        source_id = self.write_keys.get(secret_digest(write_key))
        return None if source_id is None else self.sources[source_id]

    def find(self, source_id: str) -> tuple[Source, SourceSecrets] | None:
        source = self.sources.get(source_id)
        if source is None:
            return None
        return source, SourceSecrets(
            list(self.secrets.get(source_id, [])), self.encryption_keys.get(source_id)
        )

    def all_sources(self) -> list[Source]:
        return sorted(self.sources.values(), key=lambda source: source.source_id)

    def create(
        self,
        source: Source,
        *,
        write_key: str | None,
        signing_secrets: list[str],
        encryption_key: str | None = None,
    ) -> None:
        if source.source_id in self.sources:
            raise ConflictError("A source with this id exists")
        if write_key is not None and secret_digest(write_key) in self.write_keys:
            raise ConflictError("This write key is already registered")
        self.sources[source.source_id] = source
        self.secrets[source.source_id] = list(signing_secrets)
        if encryption_key is not None:
            self.encryption_keys[source.source_id] = encryption_key
        if write_key is not None:
            self.write_keys[secret_digest(write_key)] = source.source_id

    def save(self, source: Source) -> None:
        self.sources[source.source_id] = source

    def set_signing_secrets(self, source_id: str, secrets: list[str]) -> None:
        self.secrets[source_id] = list(secrets)

    def add(
        self,
        source: Source,
        write_key: str | None = None,
        signing_secrets: tuple[str, ...] = (),
        encryption_key: str | None = None,
    ) -> None:
        """Test helper."""
        self.create(
            source, write_key=write_key, signing_secrets=list(signing_secrets), encryption_key=encryption_key
        )


@dataclass
class InMemoryTouchpointQueue:
    sent: list[Touchpoint] = field(default_factory=list)
    unavailable: bool = False

    def send_all(self, touchpoints: Sequence[Touchpoint]) -> None:
        if self.unavailable:
            raise DependencyUnavailableError("queue down")
        self.sent.extend(touchpoints)


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

    def publish_all(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        self.published.extend(events)
