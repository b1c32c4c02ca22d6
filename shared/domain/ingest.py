"""Ingest: authenticate the source, normalise the call, enqueue fast; archive idempotently."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from shared.domain.credentials import matches_digest
from shared.domain.errors import AuthenticationError, PermissionDeniedError, TouchpointNotFoundError
from shared.domain.ports import Clock, SourceRegistry, TouchpointArchive, TouchpointQueue
from shared.domain.touchpoints import Source, Touchpoint, TrackCall, archive_expiry, touchpoint_from_track


def authenticate_source(write_key: str | None, *, registry: SourceRegistry) -> Source:
    if not write_key:
        raise AuthenticationError("A source write key is required (HTTP Basic username or writeKey)")
    source = registry.find_by_write_key(write_key)
    if source is None:
        raise AuthenticationError("Unknown write key")
    if not source.enabled:
        raise PermissionDeniedError("This source is disabled", details={"source_id": source.source_id})
    return source


def accept_track(call: TrackCall, *, source: Source, queue: TouchpointQueue, clock: Clock) -> Touchpoint:
    touchpoint = touchpoint_from_track(call, source=source, received_at=clock.now())
    queue.send(touchpoint)
    return touchpoint


class ArchiveOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class ArchivePolicy:
    retention: timedelta


def archive_touchpoint(
    touchpoint: Touchpoint, *, archive: TouchpointArchive, policy: ArchivePolicy, clock: Clock
) -> ArchiveOutcome:
    """At-least-once safe: a redelivered or resent touchpoint (same id) is stored once."""
    stored = archive.add(touchpoint, expires_at=archive_expiry(touchpoint, policy.retention), now=clock.now())
    return ArchiveOutcome.STORED if stored else ArchiveOutcome.DUPLICATE


def find_touchpoint(touchpoint_id: str, *, archive: TouchpointArchive, clock: Clock) -> Touchpoint:
    found = archive.get(touchpoint_id)
    # TTL deletion lags (up to ~48 h in AWS, never in the emulator): expiry is checked here.
    if found is None or found[1] <= clock.now():
        raise TouchpointNotFoundError("No touchpoint with this id", details={"message_id": touchpoint_id})
    return found[0]


def check_admin_key(presented: str, *, expected_digest: str) -> None:
    if not matches_digest(presented, expected_digest):
        raise AuthenticationError("Invalid admin API key")
