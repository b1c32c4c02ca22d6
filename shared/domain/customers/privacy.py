"""Privacy requests: erasure by any identifier, and export of everything held about a person.

Erasure, in this order:
1. at once (in the request): every identifier of the person becomes a **suppression record** —
   the same graph node, keyed by the identifier's SHA-256, pointing at nobody. From then on a late
   or replayed touchpoint bearing any of them is dropped before it is stored;
2. the job: the person's touchpoints (through the archive's profile index), every item in their
   profiles' partitions (profile, tombstones, merge log, and whatever later capabilities keep
   there), and merge-log entries elsewhere that hold a snapshot of them;
3. a second sweep after `second_sweep` catches a touchpoint that was folded in just before the
   suppression and archived after the first sweep;
4. the request record is the audit: who (hashed), when requested, when each sweep ran, what was
   removed. It holds no raw PII.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field

from shared.domain.customers.admin import find_by_identifier, live_profile, merge_log, merge_view
from shared.domain.customers.history import walk
from shared.domain.customers.identity import IdentityRecord, identity_key
from shared.domain.customers.ports import CustomerGraph
from shared.domain.customers.profiles import Profile
from shared.domain.ingest.ports import TouchpointArchive
from shared.domain.kernel.errors import ConcurrentUpdateError, NotFoundError
from shared.domain.kernel.events import PROFILE_ERASED
from shared.domain.kernel.identifiers import Identifier
from shared.domain.kernel.ports import Clock, EventPublisher

MAX_EXPORT_TOUCHPOINTS = 1000


class ErasureNotFoundError(NotFoundError):
    code = "erasure_not_found"


class ErasureStatus(StrEnum):
    ACCEPTED = "accepted"  # suppressed; the job will remove the data
    SWEPT = "swept"  # first sweep done; the second follows
    COMPLETED = "completed"


class ErasureRequest(BaseModel):
    request_id: str
    identifier_type: str
    # SHA-256 of a random salt and "type:value": the audit record says which identifier was asked
    # for to whoever already knows it, and cannot be looked up in a table of precomputed hashes.
    identifier_hash: str
    identifier_salt: str = ""
    requested_at: datetime
    status: ErasureStatus = ErasureStatus.ACCEPTED
    profile_ids: list[str] = Field(default_factory=list)  # the person's (live and merged into it)
    separated_ids: list[str] = Field(default_factory=list)  # unmerged partners: their logs hold the person
    # Where the person's histories start (touchpoint ids, not PII), with the steps over touchpoints
    # folded in but not archived yet; what the first sweep finds missing, the second removes.
    history_heads: list[str] = Field(default_factory=list)
    detours: dict[str, tuple[datetime, str | None]] = Field(default_factory=dict)
    pending: list[str] = Field(default_factory=list)
    identity_keys: list[str] = Field(default_factory=list)
    swept_at: list[datetime] = Field(default_factory=list)
    completed_at: datetime | None = None
    removed: dict[str, int] = Field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        hidden = {"identity_keys", "history_heads", "detours", "pending"}
        hidden |= {"identifier_salt"}
        suppressed = self.removed.get("identifiers", len(self.identity_keys))
        return self.model_dump(mode="json", exclude=hidden) | {"identifiers": suppressed}


class PersonalData(Protocol):
    """Where the person's data is removed from, beyond the graph's conditional writes."""

    def save_erasure(self, request: ErasureRequest) -> None: ...

    def find_erasure(self, request_id: str) -> ErasureRequest | None: ...

    def delete_profile_partition(self, profile_id: str) -> int:
        """Delete every item in the profile's partition. Returns how many."""
        ...

    def delete_merge_entries(self, survivor_id: str, involving: set[str]) -> int:
        """Delete the survivor's merge-log entries whose loser or survivor is in `involving`."""
        ...


class ErasureJobs(Protocol):
    def submit(self, request_id: str, *, sweep: int, delay_seconds: int = 0) -> None: ...


def _lineage(profile: Profile, graph: CustomerGraph) -> list[Profile]:
    """The live profile and every tombstone merged into it."""
    found = graph.profiles(profile.merged_from)
    return [profile, *found.values()]


def request_erasure(
    identifier: Identifier,
    *,
    graph: CustomerGraph,
    data: PersonalData,
    jobs: ErasureJobs,
    clock: Clock,
    attempts: int = 5,
) -> ErasureRequest:
    """Suppress the person now and queue the removal. Asking again for the same person is
    harmless: the identifiers are already suppressed and the job only finds what is left."""
    key = identity_key(identifier)
    for _attempt in range(attempts):
        records = graph.identities([key])
        record = records.get(key)
        profiles: list[Profile] = []
        if record is not None and record.profile_id is not None:
            try:
                profiles = _lineage(live_profile(record.profile_id, graph=graph), graph)
            except NotFoundError:
                profiles = []
        identifiers = {identifier, *(i for p in profiles for i in p.identifiers)}
        keys = {identity_key(i): i for i in identifiers}
        stored = graph.identities(list(keys))
        suppressed = []
        for k, i in keys.items():
            node = stored.get(k) or IdentityRecord.new(i)
            if node.suppressed and node.profile_id is None:
                continue
            node.suppressed, node.profile_id, node.shared, node.seen_user_ids = True, None, False, []
            suppressed.append(node)
        try:
            graph.save_identities(suppressed)
            for profile in profiles:  # fence: a fold that read before this point must retry (and drop)
                graph.save_profile(profile)
        except ConcurrentUpdateError:
            continue  # a touchpoint linked or folded something meanwhile: look again
        break
    else:
        raise ConcurrentUpdateError("The person's identities kept changing; try again")
    salt = secrets.token_hex(16)
    request = ErasureRequest(
        request_id=str(uuid.uuid4()),
        identifier_type=identifier.type.value,
        identifier_hash=salted_digest(salt, identifier),
        identifier_salt=salt,
        requested_at=clock.now(),
        profile_ids=sorted({p.profile_id for p in profiles}),
        separated_ids=sorted(
            {pid for p in profiles for pid in p.separated_from} - {p.profile_id for p in profiles}
        ),
        identity_keys=sorted(keys),
        history_heads=[p.last_touchpoint for p in profiles if p.last_touchpoint],
        detours={tid: mark for p in profiles for tid, mark in p.applied.items()},
    )
    data.save_erasure(request)
    jobs.submit(request.request_id, sweep=1)
    return request


def find_erasure(request_id: str, *, data: PersonalData) -> ErasureRequest:
    found = data.find_erasure(request_id)
    if found is None:
        raise ErasureNotFoundError("No erasure request with this id", details={"request_id": request_id})
    return found


def run_erasure(
    request_id: str,
    *,
    sweep: int,
    data: PersonalData,
    archive: TouchpointArchive,
    jobs: ErasureJobs,
    publisher: EventPublisher,
    clock: Clock,
    second_sweep_seconds: int,
) -> ErasureRequest:
    """One sweep; idempotent (a redelivered job removes nothing twice and reports the same)."""
    request = find_erasure(request_id, data=data)
    if request.status is ErasureStatus.COMPLETED or len(request.swept_at) >= sweep:
        return request
    erased = request.profile_ids
    removed = dict(request.removed)
    now = clock.now()
    pending: list[str] = []
    if sweep == 1:
        doomed: list[str] = []
        for head in request.history_heads:
            history = walk(archive, head, now=now, detours=request.detours)
            doomed += [entry.touchpoint.touchpoint_id for entry in history.entries]
            pending += history.missing
    else:  # the touchpoints that were in flight at the first sweep
        doomed = sorted(archive.existing(request.pending, now=now))
    archive.delete(doomed)
    removed["touchpoints"] = removed.get("touchpoints", 0) + len(doomed)
    for profile_id in erased:
        removed["customer_items"] = removed.get("customer_items", 0) + data.delete_profile_partition(
            profile_id
        )
    for profile_id in request.separated_ids:  # unmerged partners keep a snapshot of the person
        removed["merge_entries"] = removed.get("merge_entries", 0) + data.delete_merge_entries(
            profile_id, involving=set(erased)
        )
    request = request.model_copy(
        update={"removed": removed, "swept_at": [*request.swept_at, now], "pending": pending}
    )
    if sweep == 1:
        request = request.model_copy(update={"status": ErasureStatus.SWEPT})
        data.save_erasure(request)
        jobs.submit(request.request_id, sweep=2, delay_seconds=second_sweep_seconds)
        publisher.publish(PROFILE_ERASED, {"request_id": request.request_id, "profile_ids": erased})
    else:
        # What the sweeps needed to find the person goes; the audit record keeps what was done.
        scrubbed = {
            "profile_ids": [],
            "separated_ids": [],
            "identity_keys": [],
            "history_heads": [],
            "detours": {},
            "pending": [],
            "removed": {**removed, "profiles": len(erased), "identifiers": len(request.identity_keys)},
        }
        request = request.model_copy(
            update={"status": ErasureStatus.COMPLETED, "completed_at": now, **scrubbed}
        )
        data.save_erasure(request)
    return request


def salted_digest(salt: str, identifier: Identifier) -> str:
    return hashlib.sha256(f"{salt}:{identifier.type.value}:{identifier.value}".encode()).hexdigest()


def export_person(
    identifier: Identifier,
    *,
    graph: CustomerGraph,
    archive: TouchpointArchive,
    clock: Clock,
    offset: int = 0,
) -> dict[str, Any]:
    """Everything held about the person (an access request): the profile, the profiles merged
    into it, their merge log, and their touchpoints (pages of MAX_EXPORT_TOUCHPOINTS)."""
    profile = find_by_identifier(identifier, graph=graph)
    members = _lineage(profile, graph)
    now = clock.now()
    entries = [
        entry
        for member in members
        for entry in walk(archive, member.last_touchpoint, now=now, detours=member.applied).entries
    ]
    entries.sort(key=lambda e: (e.touchpoint.occurred_at, e.touchpoint.touchpoint_id))
    page = entries[offset : offset + MAX_EXPORT_TOUCHPOINTS]
    following = offset + MAX_EXPORT_TOUCHPOINTS
    return {
        "exported_at": now.isoformat(),
        "profile": profile.view(),
        "merged_profiles": [member.view() for member in members[1:]],
        "merge_log": [merge_view(entry) for entry in merge_log(profile, graph=graph)],
        "touchpoints": [entry.touchpoint.model_dump(mode="json") for entry in page],
        "touchpoints_total": len(entries),
        "next_offset": following if following < len(entries) else None,
    }
