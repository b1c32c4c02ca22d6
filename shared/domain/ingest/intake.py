"""Ingest: authenticate the source, validate and normalise each call, enqueue in batches, answer
fast. The consumer (`shared.domain.customers.folding`) folds, announces and archives each touchpoint once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from shared.domain.ingest.credentials import matches_digest
from shared.domain.ingest.ports import SourceRegistry, TouchpointArchive, TouchpointQueue
from shared.domain.ingest.touchpoints import (
    MAX_EVENT_BYTES,
    SegmentCall,
    SegmentCallType,
    Source,
    SourceKind,
    Touchpoint,
    archive_expiry,
    touchpoint_from_segment,
)
from shared.domain.kernel.errors import AuthenticationError, PermissionDeniedError, TouchpointNotFoundError
from shared.domain.kernel.ports import Clock


def authenticate_source(write_key: str | None, *, registry: SourceRegistry) -> Source:
    if not write_key:
        raise AuthenticationError("A source write key is required (HTTP Basic username or writeKey)")
    source = registry.find_by_write_key(write_key)
    if source is None:
        raise AuthenticationError("Unknown write key")
    return ensure_usable(source, kind=SourceKind.SEGMENT)


def ensure_usable(source: Source, *, kind: SourceKind) -> Source:
    if not source.enabled:
        raise PermissionDeniedError("This source is disabled", details={"source_id": source.source_id})
    if source.kind is not kind:
        raise PermissionDeniedError(
            f"This source sends {source.kind.value}, not {kind.value}",
            details={"source_id": source.source_id},
        )
    return source


@dataclass(frozen=True)
class RejectedItem:
    index: int
    code: str
    message: str


@dataclass
class IngestResult:
    accepted: list[Touchpoint] = field(default_factory=list)
    rejected: list[RejectedItem] = field(default_factory=list)


def _validation_message(error: ValidationError) -> str:
    issue = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in issue["loc"])
    return f"{where}: {issue['msg']}" if where else str(issue["msg"])


# A client regenerates these on each retry; they do not say which call it is.
_NOT_IDENTITY = ("sentAt", "writeKey", "write_key")


def content_id(source_id: str, item: dict[str, Any], index: int) -> str:
    """The id of a call sent without a messageId: derived from what the call says and where it
    stands in its request, so a client's retry of the same request names the same touchpoints
    (and they are stored once), while two equal calls in one batch stay two."""
    kept = {key: value for key, value in item.items() if key not in _NOT_IDENTITY}
    canonical = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    digest = hashlib.sha256(f"{source_id}\n{index}\n{canonical}".encode()).hexdigest()
    return f"api-{digest[:40]}"


def parse_segment_calls(
    items: Sequence[Any],
    *,
    source: Source,
    received_at: datetime,
    call_type: SegmentCallType | None = None,
    defaults: dict[str, Any] | None = None,
) -> IngestResult:
    """Validate and normalise each item on its own: a bad item is reported with its index and
    never holds back the good ones. `defaults` (a batch's context, integrations, sentAt) fill
    what an item leaves out."""
    defaults = defaults or {}
    result = IngestResult()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            result.rejected.append(RejectedItem(index, "invalid_event", "each event must be a JSON object"))
            continue
        try:
            size = len(json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode())
        except UnicodeEncodeError:
            result.rejected.append(RejectedItem(index, "invalid_event", "the event contains invalid Unicode"))
            continue
        if size > MAX_EVENT_BYTES:
            result.rejected.append(
                RejectedItem(index, "event_too_large", f"{size} bytes; the limit is {MAX_EVENT_BYTES}")
            )
            continue
        merged = {**defaults, **item}
        for key in ("context", "integrations"):
            if isinstance(defaults.get(key), dict) and isinstance(item.get(key), dict):
                merged[key] = {**defaults[key], **item[key]}
        if call_type is not None:
            merged["type"] = call_type.value
        try:
            call = SegmentCall.model_validate(merged)
            touchpoint = touchpoint_from_segment(
                call,
                source=source,
                received_at=received_at,
                fallback_id=None if call.message_id else content_id(source.source_id, merged, index),
            )
        except ValidationError as error:
            result.rejected.append(RejectedItem(index, "invalid_event", _validation_message(error)))
            continue
        result.accepted.append(touchpoint)
    return result


def enqueue(touchpoints: Sequence[Touchpoint], *, queue: TouchpointQueue) -> None:
    if touchpoints:
        queue.send_all(touchpoints)


@dataclass(frozen=True)
class ArchivePolicy:
    retention: timedelta

    def expires_at(self, touchpoint: Touchpoint) -> datetime:
        return archive_expiry(touchpoint, self.retention)


def find_touchpoint(touchpoint_id: str, *, archive: TouchpointArchive, clock: Clock) -> Touchpoint:
    found = archive.get(touchpoint_id)
    # TTL deletion lags (up to ~48 h in AWS, never in the emulator): expiry is checked here.
    if found is None or found[1] <= clock.now():
        raise TouchpointNotFoundError("No touchpoint with this id", details={"message_id": touchpoint_id})
    return found[0]


def check_admin_key(presented: str, *, expected_digest: str) -> None:
    if not matches_digest(presented, expected_digest):
        raise AuthenticationError("Invalid admin API key")
