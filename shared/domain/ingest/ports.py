"""What ingest needs from the outside world: the source registry, the touchpoint queue and
archive, and SNS (certificates, subscriptions). Adapters in `shared.adapters` implement these;
unit tests use the in-memory fakes in `tests/fakes.py`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.domain.ingest.touchpoints import Source, SourceSecrets, Touchpoint


class SourceRegistry(Protocol):
    def find_by_write_key(self, write_key: str) -> Source | None: ...

    def find(self, source_id: str) -> Source | None: ...

    def secrets(self, source_id: str) -> SourceSecrets:
        """The source's secrets in the clear: only the functions that verify its signatures may
        (they are sealed at rest, template.yaml lets those functions open them)."""
        ...

    def all_sources(self) -> list[Source]: ...

    def create(
        self,
        source: Source,
        *,
        write_key: str | None,
        signing_secrets: list[str],
        encryption_key: str | None = None,
        app_secret: str | None = None,
    ) -> None:
        """Raises ConflictError if the source id or the write key exists."""
        ...

    def save(self, source: Source) -> None:
        """Replace an existing source's settings (not its credentials)."""
        ...

    def add_signing_secret(self, source_id: str, secret: str, *, keep: int) -> None:
        """Put `secret` first; keep the `keep` newest (the previous ones stay valid until pushed out)."""
        ...


class TouchpointQueue(Protocol):
    def send_all(self, touchpoints: Sequence[Touchpoint]) -> None:
        """Enqueue every touchpoint or raise DependencyUnavailableError (the caller retries)."""
        ...


@dataclass(frozen=True)
class ArchivedTouchpoint:
    touchpoint: Touchpoint
    profile_id: str | None
    previous: str | None  # the touchpoint folded into the same profile just before this one
    archived_at: datetime | None


class TouchpointArchive(Protocol):
    def add(
        self,
        touchpoint: Touchpoint,
        *,
        expires_at: datetime,
        now: datetime,
        profile_id: str | None = None,
        previous: str | None = None,
    ) -> bool:
        """Store the touchpoint unless a live one with its id exists. True if it was stored."""
        ...

    def existing(self, touchpoint_ids: Collection[str], *, now: datetime) -> set[str]:
        """The ids among these archived and live (strongly consistent)."""
        ...

    def get(self, touchpoint_id: str) -> tuple[Touchpoint, datetime] | None:
        """The touchpoint and when it expires, or None."""
        ...

    def entry(self, touchpoint_id: str, *, now: datetime) -> ArchivedTouchpoint | None:
        """The live archived touchpoint with its links (strongly consistent), or None."""
        ...

    def relink(self, touchpoint_id: str, *, profile_id: str, previous: str | None) -> None:
        """Move a touchpoint to another profile's history (unmerge)."""
        ...

    def delete(self, touchpoint_ids: Sequence[str]) -> None: ...


class SnsCertificates(Protocol):
    def pem(self, url: str) -> bytes:
        """The signing certificate at `url` (already checked to be an SNS https URL)."""
        ...


class SnsSubscriptions(Protocol):
    def confirm(self, subscribe_url: str) -> None: ...
