"""Fold a batch of touchpoints into the identity graph and the profiles.

Cost model (the physical minimum is: store each touchpoint once, write each profile once):
- a profile's history is a chain: the profile names its newest touchpoint, each archived
  touchpoint the one folded before it — no index write per touchpoint;
- one strongly consistent batch read of the archive skips touchpoints already fully processed;
- the graph and the profiles are read once per batch; touchpoints of the same person are folded
  in memory and written as **one conditional put per profile** (optimistic lock on `version`),
  which also carries the touchpoints' dedupe marks (`Profile.applied`);
- identity records are written only when an identifier is new or a device meets a new user;
- a merge is one transaction (survivor, tombstoned loser, repointed identity records, merge log).

A conflicting concurrent write makes the whole batch run again from fresh reads; what the first
attempt already wrote is recognised (`applied`, repointed records), so nothing counts twice.

Order of writes, and why a crash anywhere is safe:
1. identity claims (a claim pointing at a profile not written yet reads as an empty profile);
2. profiles (effect + dedupe mark in one write);
3. events on the bus; 4. the archive put — the commit marker. A touchpoint found applied but not
   archived (a crash between 2 and 4) has its events announced again; consumers dedupe by id.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.domain.customers.identity import (
    IdentityPolicy,
    IdentityRecord,
    Resolution,
    identity_key,
    note_device_users,
    resolve,
)
from shared.domain.customers.ports import CustomerGraph, MergeCommit, MergeRecord
from shared.domain.customers.profiles import (
    Profile,
    add_identifiers,
    apply_touchpoint,
    consent_key,
    fold_profiles,
    forget_old_applied,
    oldest_first,
    order_key,
)
from shared.domain.ingest.ports import TouchpointArchive
from shared.domain.ingest.touchpoints import Touchpoint, TouchpointType
from shared.domain.kernel.errors import ConcurrentUpdateError
from shared.domain.kernel.events import (
    CART_UPDATED,
    CONSENT_CHANGED,
    ORDER_PLACED,
    ORDER_REFUNDED,
    PROFILE_CHANGED,
    PROFILES_MERGED,
    TOUCHPOINT_RECORDED,
    batched,
)
from shared.domain.kernel.identifiers import Identifier
from shared.domain.kernel.ports import Clock, EventPublisher

# Fields every touch changes: a ProfileChanged is sent when something else changed too.
ENGAGEMENT_FIELDS = frozenset(
    {
        "touches_by_channel",
        "touches_by_device",
        "last_seen_by_channel",
        "best_hour_utc",
        "last_seen_at",
        "behaviour",
        "last_cart_at",
    }
)


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    SUPPRESSED = "suppressed"  # an identifier of an erased person: dropped, not stored
    UNATTRIBUTED = "unattributed"  # no usable identifier (only junk or shared devices): archived


@dataclass
class FoldResult:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    profile_of: dict[str, str] = field(default_factory=dict)  # touchpoint id → profile id
    previous_of: dict[str, str | None] = field(default_factory=dict)  # → the one folded before it
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    merges: int = 0
    created: set[str] = field(default_factory=set)  # profiles this batch created (a set: attempts repeat)
    attempts: int = 0
    dropped_identifiers: int = 0


_MERGE_NAMESPACE = uuid.UUID("5b0c7f52-8f7e-4a8e-9a53-6f0c1d9b2e11")


def new_profile_id(touchpoint: Touchpoint, key: bytes) -> str:
    """Deterministic: a redelivered touchpoint creates the same profile, never a second one. Keyed
    with the deployment's secret (`CustomerGraph.id_key`): nobody can derive a person's profile
    id from a touchpoint id they know."""
    named = f"{touchpoint.source_id}/{touchpoint.touchpoint_id}".encode()
    return str(uuid.UUID(bytes=hmac.new(key, named, hashlib.sha256).digest()[:16], version=4))


class _Attempt:
    """One pass over the batch against fresh reads. Profiles and records are cached and written
    once at the end (or inside a merge transaction, which first flushes what is pending)."""

    def __init__(
        self, graph: CustomerGraph, policy: IdentityPolicy, now: datetime, result: FoldResult
    ) -> None:
        self.graph = graph
        self.policy = policy
        self.now = now
        self.result = result
        self.records: dict[str, IdentityRecord] = {}
        self.profiles: dict[str, Profile] = {}
        self.dirty_records: dict[str, IdentityRecord] = {}
        self.dirty_profiles: dict[str, set[str]] = {}  # profile id → changed fields
        self.pending_events: dict[str, list[tuple[str, dict[str, Any]]]] = {}  # per profile

    # ---------------------------------------------------------------------------- reads
    def prefetch(self, touchpoints: Sequence[Touchpoint]) -> None:
        keys = {identity_key(i) for tp in touchpoints for i in tp.identifiers}
        self.records.update(self.graph.identities(keys - self.records.keys()))
        # With the profiles the graph points at, the ones a touchpoint would create (stored by an
        # earlier delivery that crashed before its claims were used): one read for the batch.
        pointed = {r.profile_id for r in self.records.values() if r.profile_id}
        unknown = [
            tp for tp in touchpoints if not any(self.records.get(identity_key(i)) for i in tp.identifiers)
        ]
        key = self.graph.id_key()
        self._load_profiles(pointed | {new_profile_id(tp, key) for tp in unknown})

    def _load_profiles(self, profile_ids: set[str]) -> None:
        wanted = profile_ids - self.profiles.keys()
        while wanted:
            found = self.graph.profiles(wanted)
            for profile_id in wanted:
                self.profiles[profile_id] = found.get(profile_id) or Profile(profile_id=profile_id)
            wanted = {p.merged_into for p in found.values() if p.merged_into} - self.profiles.keys()

    def record(self, identifier: Identifier) -> IdentityRecord:
        key = identity_key(identifier)
        if key not in self.records:
            self.records[key] = IdentityRecord.new(identifier)
        return self.records[key]

    def live(self, profile_id: str) -> Profile:
        profile = self.profiles[profile_id]
        seen = {profile_id}
        while profile.merged_into and profile.merged_into not in seen:
            seen.add(profile.merged_into)
            self._load_profiles({profile.merged_into})
            profile = self.profiles[profile.merged_into]
        return profile

    # ---------------------------------------------------------------------------- fold
    def fold(self, touchpoint: Touchpoint) -> None:
        tid = touchpoint.touchpoint_id
        for identifier in touchpoint.identifiers:
            self.record(identifier)
        for record in note_device_users(touchpoint.identifiers, self.records, self.policy):
            self.dirty_records[record.key] = record
        self._load_profiles({r.profile_id for r in self.records.values() if r.profile_id})
        live = {pid: self.live(pid) for pid in {r.profile_id for r in self.records.values() if r.profile_id}}
        resolution = resolve(touchpoint.identifiers, records=self.records, profiles=live, policy=self.policy)
        self.result.dropped_identifiers += len(resolution.dropped)
        if resolution.suppressed:
            self.result.outcomes[tid] = Outcome.SUPPRESSED
            return
        if not resolution.linked:
            self.result.outcomes[tid] = Outcome.UNATTRIBUTED
            return
        if len(resolution.matched) > 1:
            self._merge(touchpoint, resolution)
            return
        if resolution.matched:
            profile = self.profiles[resolution.matched[0]]
        else:
            created = new_profile_id(touchpoint, self.graph.id_key())
            self._load_profiles({created})  # usually prefetched with the batch
            profile = self.live(created)
            if not profile.exists:
                self.result.created.add(created)
        self._link(profile, resolution.linked)
        self._apply(profile, touchpoint)

    def _link(self, profile: Profile, linked: Sequence[Identifier]) -> None:
        """Point the touchpoint's identifiers at `profile` (new ones only, up to the cap)."""
        for identifier in linked:
            record = self.record(identifier)
            if record.profile_id == profile.profile_id:
                if identifier not in profile.identifiers:  # claimed by a delivery whose profile write lost
                    add_identifiers(profile, [identifier])
                    self.dirty_profiles.setdefault(profile.profile_id, set()).add("identifiers")
                continue
            if record.profile_id is None and len(profile.identifiers) >= self.policy.max_identifiers:
                continue
            record.profile_id = profile.profile_id
            self.dirty_records[record.key] = record
            add_identifiers(profile, [identifier])
            self.dirty_profiles.setdefault(profile.profile_id, set()).add("identifiers")

    def _apply(self, profile: Profile, touchpoint: Touchpoint) -> None:
        tid = touchpoint.touchpoint_id
        already = tid in profile.applied
        changed = apply_touchpoint(profile, touchpoint, applied_at=self.now)
        self.result.outcomes[tid] = Outcome.APPLIED
        self.result.profile_of[tid] = profile.profile_id
        self.result.previous_of[tid] = profile.applied[tid][1]
        events = touchpoint_events(profile, touchpoint)
        if already:
            # Written by an earlier attempt or delivery that did not reach the archive (the commit
            # marker): its events may not have been announced, so they are, again.
            self.result.events.extend(events)
            return
        self.dirty_profiles.setdefault(profile.profile_id, set()).update(changed)
        self.pending_events.setdefault(profile.profile_id, []).extend(events)

    def _merge(self, touchpoint: Touchpoint, resolution: Resolution) -> None:
        self.flush()  # the transaction then holds only this touchpoint's changes
        candidates = oldest_first([self.profiles[p] for p in resolution.matched])
        survivor, losers = candidates[0], candidates[1:]
        survivor_before = survivor.model_copy(deep=True)
        loser_keys = {identity_key(i) for loser in losers for i in loser.identifiers}
        self.records.update(self.graph.identities(loser_keys - self.records.keys()))
        repointed: dict[str, IdentityRecord] = {}
        log: list[MergeRecord] = []
        for loser in losers:
            log.append(
                MergeRecord(
                    merge_id=str(
                        uuid.uuid5(_MERGE_NAMESPACE, f"{touchpoint.touchpoint_id}/{loser.profile_id}")
                    ),
                    survivor_id=survivor.profile_id,
                    loser_id=loser.profile_id,
                    merged_at=self.now,
                    touchpoint_id=touchpoint.touchpoint_id,
                    source_id=touchpoint.source_id,
                    reason=",".join(sorted({i.type.value for i in resolution.linked})),
                    survivor_before=survivor_before,
                    loser_before=loser.model_copy(deep=True),
                    loser_identifiers=list(loser.identifiers),
                )
            )
            for identifier in loser.identifiers:
                record = self.record(identifier)
                record.profile_id = survivor.profile_id
                repointed[record.key] = record
            fold_profiles(survivor, loser)
            loser.merged_into = survivor.profile_id
        self._link(survivor, resolution.linked)
        repointed.update(self.dirty_records)
        self.dirty_records.clear()
        self._apply(survivor, touchpoint)
        forget_old_applied(survivor, now=self.now)
        commit = MergeCommit(survivor=survivor, losers=losers, records=list(repointed.values()), log=log)
        self.graph.merge(commit)
        changed = self.dirty_profiles.pop(survivor.profile_id, set()) | {"identifiers", "merged_from"}
        self.result.events.append(
            (
                PROFILE_CHANGED,
                {"profile_id": survivor.profile_id, "changed": sorted(changed), "version": survivor.version},
            )
        )
        self._committed(survivor.profile_id)
        self.result.merges += len(losers)
        self.result.events.append(
            (
                PROFILES_MERGED,
                {
                    "profile_id": survivor.profile_id,
                    "merged": [loser.profile_id for loser in losers],
                    "merge_ids": [entry.merge_id for entry in log],
                    "touchpoint_id": touchpoint.touchpoint_id,
                    "reason": log[0].reason,
                },
            )
        )

    def _committed(self, profile_id: str) -> None:
        self.result.events.extend(self.pending_events.pop(profile_id, []))

    def flush(self) -> None:
        if self.dirty_records:
            self.graph.save_identities(list(self.dirty_records.values()))
            self.dirty_records.clear()
        for profile_id, changed in list(self.dirty_profiles.items()):
            profile = self.profiles[profile_id]
            forget_old_applied(profile, now=self.now)
            self.graph.save_profile(profile)
            del self.dirty_profiles[profile_id]
            fields = sorted(changed)
            if set(fields) - ENGAGEMENT_FIELDS:  # a touch alone is announced by its TouchpointRecorded
                self.result.events.append(
                    (
                        PROFILE_CHANGED,
                        {"profile_id": profile_id, "changed": fields, "version": profile.version},
                    )
                )
            self._committed(profile_id)


def touchpoint_events(profile: Profile, touchpoint: Touchpoint) -> list[tuple[str, dict[str, Any]]]:
    """The business events a touchpoint raises, derived from it and the profile it landed on, so
    announcing them again after a crash gives the same events (ids are the touchpoint's)."""
    base = {"profile_id": profile.profile_id, "touchpoint_id": touchpoint.touchpoint_id}
    events: list[tuple[str, dict[str, Any]]] = []
    seen = profile.recent_orders.get(order_key(touchpoint))
    if touchpoint.type is TouchpointType.ORDER and seen is not None and seen[1] == touchpoint.touchpoint_id:
        order = touchpoint.order
        events.append(
            (
                ORDER_PLACED,
                {
                    **base,
                    "order_id": order.order_id if order else None,
                    "channel": touchpoint.channel.value,
                    "occurred_at": touchpoint.occurred_at.isoformat(),
                    "order": order.model_dump(mode="json") if order else None,
                },
            )
        )
    if touchpoint.type is TouchpointType.REFUND and touchpoint.order and touchpoint.order.order_id:
        events.append(
            (
                ORDER_REFUNDED,
                {
                    **base,
                    "order_id": touchpoint.order.order_id,
                    "refund_id": touchpoint.touchpoint_id,
                    "amount": str(abs(touchpoint.order.total or 0)),
                    "lines": [line.model_dump(mode="json") for line in touchpoint.order.lines],
                    "channel": touchpoint.channel.value,
                    "occurred_at": touchpoint.occurred_at.isoformat(),
                },
            )
        )
    if touchpoint.type is TouchpointType.CART:
        events.append(
            (
                CART_UPDATED,
                {
                    **base,
                    "event": touchpoint.event,
                    "channel": touchpoint.channel.value,
                    "occurred_at": touchpoint.occurred_at.isoformat(),
                    "properties": touchpoint.properties,
                },
            )
        )
    for signal in touchpoint.consent:
        key = consent_key(signal.channel.value, signal.purpose)
        state = profile.consent.get(key)
        events.append(
            (
                CONSENT_CHANGED,
                {
                    **base,
                    "channel": signal.channel.value,
                    "purpose": signal.purpose,
                    "status": state.status.value if state else signal.status.value,
                    "signal": signal.status.value,
                    "occurred_at": touchpoint.occurred_at.isoformat(),
                },
            )
        )
    return events


@dataclass
class Backoff:
    attempts: int = 40
    base_seconds: float = 0.005
    cap_seconds: float = 0.2
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def pause(self, attempt: int) -> None:
        self.sleep(min(self.cap_seconds, self.base_seconds * 2**attempt) * self.jitter())


def fold_touchpoints(
    touchpoints: Sequence[Touchpoint],
    *,
    graph: CustomerGraph,
    archive: TouchpointArchive,
    publisher: EventPublisher,
    policy: IdentityPolicy,
    clock: Clock,
    expires_at: Callable[[Touchpoint], datetime],
    backoff: Backoff | None = None,
) -> FoldResult:
    """Resolve, fold, write, announce, archive. Raises ConcurrentUpdateError when the batch
    kept conflicting for every attempt (the queue retries it)."""
    backoff = backoff or Backoff()
    unique = list({tp.touchpoint_id: tp for tp in touchpoints}.values())
    archived = archive.existing([tp.touchpoint_id for tp in unique], now=clock.now())
    fresh = sorted(
        (tp for tp in unique if tp.touchpoint_id not in archived),
        key=lambda tp: (tp.occurred_at, tp.touchpoint_id),
    )
    result = FoldResult(outcomes={tid: Outcome.DUPLICATE for tid in archived})
    for attempt in range(backoff.attempts):
        result.attempts = attempt + 1
        run = _Attempt(graph, policy, clock.now(), result)
        try:
            run.prefetch(fresh)
            for touchpoint in fresh:
                run.fold(touchpoint)
            run.flush()
            break
        except ConcurrentUpdateError:
            if attempt + 1 == backoff.attempts:
                raise
            backoff.pause(attempt)
    recorded = [
        (
            TOUCHPOINT_RECORDED,
            {**tp.model_dump(mode="json"), "profile_id": result.profile_of.get(tp.touchpoint_id)},
        )
        for tp in fresh
        if result.outcomes.get(tp.touchpoint_id) is not Outcome.SUPPRESSED
    ]
    publisher.publish_all(batched([*recorded, *_unique_events(result.events)]))
    now = clock.now()
    for touchpoint in fresh:
        if result.outcomes.get(touchpoint.touchpoint_id) is Outcome.SUPPRESSED:
            continue
        archive.add(
            touchpoint,
            profile_id=result.profile_of.get(touchpoint.touchpoint_id),
            previous=result.previous_of.get(touchpoint.touchpoint_id),
            expires_at=expires_at(touchpoint),
            now=now,
        )
    return result


def _unique_events(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """A conflicting attempt may have committed some writes and announced their events; the
    retry produces them again. Keep one of each (ProfileChanged: the latest per profile)."""
    unique: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for detail_type, detail in events:
        key = detail.get("touchpoint_id") or detail["profile_id"]
        if detail_type == CONSENT_CHANGED:
            key = f"{key}/{detail['channel']}:{detail['purpose']}"
        unique[(detail_type, str(key))] = (detail_type, detail)
    return list(unique.values())
