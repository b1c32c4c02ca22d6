"""A profile's history: a chain through the archive. The profile names its newest touchpoint
(`last_touchpoint`); each archived touchpoint names the one folded into the profile before it.
Walking it needs one read per touchpoint but no write beyond the two the design makes anyway."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from shared.domain.ingest.ports import ArchivedTouchpoint, TouchpointArchive

MAX_WALK = 100_000  # a guard against a corrupted (cyclic) chain


@dataclass
class Walk:
    entries: list[ArchivedTouchpoint] = field(default_factory=list)  # newest first
    missing: list[str] = field(default_factory=list)  # folded in, not archived (yet)


def walk(
    archive: TouchpointArchive,
    head: str | None,
    *,
    now: datetime,
    stop_at: str | None = None,
    limit: int | None = None,
    detours: Mapping[str, tuple[datetime, str | None]] | None = None,
) -> Walk:
    """Newest first from `head`, up to (not including) `stop_at`. A touchpoint folded in but not
    archived yet (in flight, or its delivery crashed before the archive) is stepped over through
    the profile's `applied` memory (`detours`) and reported as missing."""
    result = Walk()
    seen: set[str] = set()
    current = head
    detours = detours or {}
    while current is not None and current != stop_at and current not in seen and len(seen) < MAX_WALK:
        if limit is not None and len(result.entries) >= limit:
            break
        seen.add(current)
        entry = archive.entry(current, now=now)
        if entry is not None:
            result.entries.append(entry)
            current = entry.previous
        elif current in detours:
            result.missing.append(current)
            current = detours[current][1]
        else:  # expired past retention, or erased: the history ends here
            break
    return result
