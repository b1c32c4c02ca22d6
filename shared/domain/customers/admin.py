"""Reading profiles (by id or by any identifier), their touchpoints and merge log, and undoing a
merge.

Unmerge restores both profiles from the merge log: each goes back to its snapshot taken at the
merge, then the touchpoints the survivor received after the merge are folded in again, each to
the side its identifiers name (one carrying only the loser's identifiers goes back to the loser;
the linking touchpoint and anything mixed stay with the survivor). The two profiles are then
marked as separated, so the same link never merges them again. Limits: merges are undone newest
first (a later merge into the survivor must be undone before an earlier one); touchpoints past the
archive retention are not folded again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain.customers.history import walk
from shared.domain.customers.identity import IdentityRecord, identity_key
from shared.domain.customers.ports import CustomerGraph, MergeRecord, UnmergeCommit
from shared.domain.customers.profiles import Profile, apply_touchpoint
from shared.domain.ingest.ports import ArchivedTouchpoint, TouchpointArchive
from shared.domain.ingest.touchpoints import Touchpoint
from shared.domain.kernel.errors import ConflictError, InvalidInputError, NotFoundError
from shared.domain.kernel.events import PROFILES_UNMERGED
from shared.domain.kernel.identifiers import Identifier, IdentifierType, normalise
from shared.domain.kernel.ports import Clock, EventPublisher

MAX_RECENT_TOUCHPOINTS = 100


class ProfileNotFoundError(NotFoundError):
    code = "profile_not_found"


class MergeNotFoundError(NotFoundError):
    code = "merge_not_found"


class UnmergeRefusedError(ConflictError):
    code = "unmerge_refused"


def lookup_identifier(query: dict[str, str], *, default_country_code: str | None = None) -> Identifier:
    """Exactly one `type=value` pair, normalised exactly as at ingest."""
    known = {t.value for t in IdentifierType}
    given = {name: value for name, value in query.items() if name in known}
    unknown = sorted(set(query) - known - {"country_code"})
    if unknown or len(given) != 1:
        raise InvalidInputError(
            "Give exactly one identifier as a query parameter",
            details={"known": sorted(known), "unknown": unknown},
        )
    ((name, raw),) = given.items()
    identifier = normalise(IdentifierType(name), raw, default_country_code=default_country_code)
    if identifier is None:
        raise InvalidInputError(f"Not a usable {name}", details={"type": name})
    return identifier


def live_profile(profile_id: str, *, graph: CustomerGraph) -> Profile:
    """The profile, following merges to the survivor."""
    seen: set[str] = set()
    current = profile_id
    while current not in seen:
        seen.add(current)
        found = graph.profiles([current]).get(current)
        if found is None or (not found.exists and found.merged_into is None):
            break
        if found.merged_into is None:
            return found
        current = found.merged_into
    raise ProfileNotFoundError("No profile with this id", details={"profile_id": profile_id})


def survivor_id(profile_id: str, *, graph: CustomerGraph) -> str:
    """The live profile an id now belongs to, following merges: an event that named a profile
    before it was merged is applied to the person it became. An id not (or no longer) visible is
    answered as it is, so a consumer never fails for it."""
    try:
        return live_profile(profile_id, graph=graph).profile_id
    except ProfileNotFoundError:
        return profile_id


def find_by_identifier(identifier: Identifier, *, graph: CustomerGraph) -> Profile:
    """The person an identifier names. A quarantined shared device names nobody (it still points
    at the first person seen on it, who must not be read, exported or erased through it)."""
    record = graph.identities([identity_key(identifier)]).get(identity_key(identifier))
    if record is None or record.profile_id is None or record.suppressed or record.shared:
        raise ProfileNotFoundError("No profile has this identifier", details={"type": identifier.type.value})
    return live_profile(record.profile_id, graph=graph)


def lineage(profile: Profile, *, graph: CustomerGraph) -> list[Profile]:
    """The live profile and every profile merged into it (their histories are kept apart)."""
    return [profile, *graph.profiles(profile.merged_from).values()]


def recent_touchpoints(
    profile: Profile, *, graph: CustomerGraph, archive: TouchpointArchive, clock: Clock, limit: int
) -> list[Touchpoint]:
    """Newest first, across the profile and every profile merged into it."""
    now = clock.now()
    found = [
        entry.touchpoint
        for member in lineage(profile, graph=graph)
        for entry in walk(
            archive, member.last_touchpoint, now=now, limit=limit, detours=member.applied
        ).entries
    ]
    return sorted(found, key=lambda tp: (tp.occurred_at, tp.touchpoint_id), reverse=True)[:limit]


def merge_log(profile: Profile, *, graph: CustomerGraph) -> list[MergeRecord]:
    return sorted(graph.merges(profile.profile_id), key=lambda entry: entry.merged_at)


def merge_view(entry: MergeRecord) -> dict[str, Any]:
    return {
        "merge_id": entry.merge_id,
        "survivor_id": entry.survivor_id,
        "loser_id": entry.loser_id,
        "merged_at": entry.merged_at.isoformat(),
        "touchpoint_id": entry.touchpoint_id,
        "source_id": entry.source_id,
        "reason": entry.reason,
        "loser_identifiers": [{"type": i.type.value, "value": i.value} for i in entry.loser_identifiers],
        "unmerged_at": entry.unmerged_at.isoformat() if entry.unmerged_at else None,
    }


@dataclass(frozen=True)
class UnmergeResult:
    survivor: Profile
    restored: Profile
    moved_touchpoints: list[str]


def unmerge(
    profile_id: str,
    merge_id: str,
    *,
    graph: CustomerGraph,
    archive: TouchpointArchive,
    clock: Clock,
    publisher: EventPublisher,
) -> UnmergeResult:
    entries = {entry.merge_id: entry for entry in graph.merges(profile_id)}
    entry = entries.get(merge_id)
    if entry is None:
        raise MergeNotFoundError("This profile has no merge with this id", details={"merge_id": merge_id})
    profiles = graph.profiles([entry.survivor_id, entry.loser_id])
    survivor, loser = profiles.get(entry.survivor_id), profiles.get(entry.loser_id)
    if entry.unmerged_at is not None and survivor is not None and loser is not None:
        return UnmergeResult(survivor=survivor, restored=loser, moved_touchpoints=[])  # already done
    if survivor is None or loser is None or loser.merged_into != survivor.profile_id:
        raise UnmergeRefusedError("The merged profiles no longer exist as they were merged")
    if survivor.merged_into is not None:
        raise UnmergeRefusedError(
            "The survivor was merged again since; undo that merge first",
            details={"merged_into": survivor.merged_into},
        )
    later = [e.merge_id for e in entries.values() if e.merged_at > entry.merged_at and e.unmerged_at is None]
    if later:
        raise UnmergeRefusedError(
            "Undo the later merges into this profile first", details={"merge_ids": later}
        )

    now = clock.now()
    # The survivor's history since the merge: from its head back to its head at the merge.
    since = walk(
        archive,
        survivor.last_touchpoint,
        now=now,
        stop_at=entry.survivor_before.last_touchpoint,
        detours=survivor.applied,
    ).entries[::-1]
    loser_ids = set(entry.loser_identifiers)
    kept_ids = set(entry.survivor_before.identifiers)
    to_loser = [
        e
        for e in since
        if set(e.touchpoint.identifiers) & loser_ids and not set(e.touchpoint.identifiers) & kept_ids
    ]
    to_survivor = [e for e in since if e not in to_loser]

    restored_survivor = _rebuilt(entry.survivor_before, survivor, to_survivor, now=now, separated=loser)
    restored_loser = _rebuilt(entry.loser_before, loser, to_loser, now=now, separated=survivor)
    owner = {i: restored_survivor.profile_id for i in survivor.identifiers}
    for moved_entry in to_loser:
        for identifier in moved_entry.touchpoint.identifiers:
            if identifier in owner and identifier not in kept_ids:
                owner[identifier] = restored_loser.profile_id
    for identifier in loser_ids:
        owner[identifier] = restored_loser.profile_id
    restored_survivor.identifiers = sorted(
        (i for i, pid in owner.items() if pid == restored_survivor.profile_id), key=_identifier_order
    )
    restored_loser.identifiers = sorted(
        (i for i, pid in owner.items() if pid == restored_loser.profile_id), key=_identifier_order
    )
    records = graph.identities([identity_key(i) for i in restored_loser.identifiers])
    moved_records = []
    for identifier in restored_loser.identifiers:
        record = records.get(identity_key(identifier)) or IdentityRecord.new(identifier)
        record.profile_id = restored_loser.profile_id
        moved_records.append(record)
    graph.unmerge(
        UnmergeCommit(
            survivor=restored_survivor,
            restored=restored_loser,
            records=moved_records,
            log=entry.model_copy(update={"unmerged_at": now}),
        )
    )
    # Split the history: each side's touchpoints chained after its own head at the merge.
    for profile, chain in ((restored_survivor, to_survivor), (restored_loser, to_loser)):
        for previous, current in zip([None, *chain], chain, strict=False):
            link = previous.touchpoint.touchpoint_id if previous else _head_at_merge(profile, entry)
            if current.previous != link or current.profile_id != profile.profile_id:
                archive.relink(current.touchpoint.touchpoint_id, profile_id=profile.profile_id, previous=link)
    moved = [e.touchpoint.touchpoint_id for e in to_loser]
    publisher.publish_all(
        [
            (
                PROFILES_UNMERGED,
                {
                    "profile_id": restored_survivor.profile_id,
                    "restored": restored_loser.profile_id,
                    "merge_id": merge_id,
                },
            ),
            (
                "ProfileChanged",
                {"profile_id": restored_survivor.profile_id, "changed": ["identifiers", "unmerged"]},
            ),
            (
                "ProfileChanged",
                {"profile_id": restored_loser.profile_id, "changed": ["identifiers", "unmerged"]},
            ),
        ]
    )
    return UnmergeResult(survivor=restored_survivor, restored=restored_loser, moved_touchpoints=moved)


def _identifier_order(identifier: Identifier) -> tuple[str, str]:
    return identifier.type.value, identifier.value


def _head_at_merge(profile: Profile, entry: MergeRecord) -> str | None:
    snapshot = entry.survivor_before if profile.profile_id == entry.survivor_id else entry.loser_before
    return snapshot.last_touchpoint


def _rebuilt(
    snapshot: Profile,
    current: Profile,
    entries: Sequence[ArchivedTouchpoint],
    *,
    now: datetime,
    separated: Profile,
) -> Profile:
    profile = snapshot.model_copy(deep=True)
    profile.version = current.version
    profile.merged_into = None
    for entry in sorted(entries, key=lambda e: (e.touchpoint.occurred_at, e.touchpoint.touchpoint_id)):
        apply_touchpoint(profile, entry.touchpoint, applied_at=now)
    profile.applied = {}  # redeliveries of these are caught by the archive
    profile.last_touchpoint = entries[-1].touchpoint.touchpoint_id if entries else snapshot.last_touchpoint
    profile.separated_from = sorted({*profile.separated_from, separated.profile_id})
    return profile
