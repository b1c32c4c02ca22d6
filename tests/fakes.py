"""In-memory implementations of the domain's ports, for unit tests (no AWS, no network)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.customers.identity import IdentityRecord
from shared.domain.customers.ports import MergeCommit, MergeRecord, UnmergeCommit
from shared.domain.customers.privacy import ErasureRequest
from shared.domain.customers.profiles import Profile
from shared.domain.ingest.credentials import secret_digest
from shared.domain.ingest.ports import ArchivedTouchpoint
from shared.domain.ingest.touchpoints import Source, SourceSecrets, Touchpoint
from shared.domain.kernel.errors import ConcurrentUpdateError, ConflictError, DependencyUnavailableError
from shared.domain.loyalty.coupons import Coupon, MemberCoupon
from shared.domain.loyalty.ledger import Account
from shared.domain.operations.queue_health import QueueDepth
from shared.domain.segments.classification import CutPoints
from shared.domain.segments.live import MembershipState, SegmentDefinition
from shared.domain.segments.recompute import PartSample, Phase, RecomputeJob


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
    signing: dict[str, list[str]] = field(default_factory=dict)
    write_keys: dict[str, str] = field(default_factory=dict)  # digest → source id
    encryption_keys: dict[str, str] = field(default_factory=dict)
    app_secrets: dict[str, str] = field(default_factory=dict)

    def find_by_write_key(self, write_key: str) -> Source | None:
        source_id = self.write_keys.get(secret_digest(write_key))
        return None if source_id is None else self.sources[source_id]

    def find(self, source_id: str) -> Source | None:
        return self.sources.get(source_id)

    def secrets(self, source_id: str) -> SourceSecrets:
        return SourceSecrets(
            list(self.signing.get(source_id, [])),
            self.encryption_keys.get(source_id),
            self.app_secrets.get(source_id),
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
        app_secret: str | None = None,
    ) -> None:
        if source.source_id in self.sources:
            raise ConflictError("A source with this id exists")
        if write_key is not None and secret_digest(write_key) in self.write_keys:
            raise ConflictError("This write key is already registered")
        self.sources[source.source_id] = source
        self.signing[source.source_id] = list(signing_secrets)
        if encryption_key is not None:
            self.encryption_keys[source.source_id] = encryption_key
        if app_secret is not None:
            self.app_secrets[source.source_id] = app_secret
        if write_key is not None:
            self.write_keys[secret_digest(write_key)] = source.source_id

    def save(self, source: Source) -> None:
        self.sources[source.source_id] = source

    def add_signing_secret(self, source_id: str, secret: str, *, keep: int) -> None:
        self.signing[source_id] = [secret, *self.signing.get(source_id, [])][:keep]

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

    profile_of: dict[str, str | None] = field(default_factory=dict)
    archived_at: dict[str, datetime] = field(default_factory=dict)
    previous: dict[str, str | None] = field(default_factory=dict)

    def add(
        self,
        touchpoint: Touchpoint,
        *,
        expires_at: datetime,
        now: datetime,
        profile_id: str | None = None,
        previous: str | None = None,
    ) -> bool:
        existing = self.items.get(touchpoint.touchpoint_id)
        if existing is not None and existing[1] > now:
            return False
        self.items[touchpoint.touchpoint_id] = (touchpoint, expires_at)
        self.profile_of[touchpoint.touchpoint_id] = profile_id
        self.previous[touchpoint.touchpoint_id] = previous
        self.archived_at[touchpoint.touchpoint_id] = now
        return True

    def existing(self, touchpoint_ids: Collection[str], *, now: datetime) -> set[str]:
        return {tid for tid in touchpoint_ids if tid in self.items and self.items[tid][1] > now}

    def entry(self, touchpoint_id: str, *, now: datetime) -> ArchivedTouchpoint | None:
        found = self.items.get(touchpoint_id)
        if found is None or found[1] <= now:
            return None
        return ArchivedTouchpoint(
            touchpoint=found[0],
            profile_id=self.profile_of.get(touchpoint_id),
            previous=self.previous.get(touchpoint_id),
            archived_at=self.archived_at.get(touchpoint_id),
        )

    def relink(self, touchpoint_id: str, *, profile_id: str, previous: str | None) -> None:
        if touchpoint_id in self.items:
            self.profile_of[touchpoint_id], self.previous[touchpoint_id] = profile_id, previous

    def delete(self, touchpoint_ids: Sequence[str]) -> None:
        for tid in touchpoint_ids:
            self.items.pop(tid, None)
            self.profile_of.pop(tid, None)
            self.previous.pop(tid, None)

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


@dataclass
class InMemoryCustomerGraph:
    """The identity graph and profiles with DynamoDB's semantics: every write is conditional on
    the version read, a merge is all-or-nothing. `before_write` lets a test interleave a
    concurrent writer just before a write is checked."""

    records: dict[str, IdentityRecord] = field(default_factory=dict)
    stored_profiles: dict[str, Profile] = field(default_factory=dict)
    merge_log: dict[str, MergeRecord] = field(default_factory=dict)
    before_write: Callable[[], None] | None = None
    writes: int = 0
    key: bytes = b"in-memory-graph-profile-id-key-0"  # fixed: the same test data, the same ids

    def id_key(self) -> bytes:
        return self.key

    def identities(self, keys: Collection[str]) -> dict[str, IdentityRecord]:
        return {key: copy.deepcopy(self.records[key]) for key in keys if key in self.records}

    def profiles(self, profile_ids: Collection[str]) -> dict[str, Profile]:
        return {
            pid: self.stored_profiles[pid].model_copy(deep=True)
            for pid in profile_ids
            if pid in self.stored_profiles
        }

    def _hook(self) -> None:
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook()

    def _check_record(self, record: IdentityRecord) -> None:
        stored = self.records.get(record.key)
        if (stored.version if stored else 0) != record.version:
            raise ConcurrentUpdateError(f"identity record changed {record} {stored}")

    def _check_profile(self, profile: Profile) -> None:
        stored = self.stored_profiles.get(profile.profile_id)
        if (stored.version if stored else 0) != profile.version:
            raise ConcurrentUpdateError("profile changed")

    def save_identities(self, records: Sequence[IdentityRecord]) -> None:
        self._hook()
        for record in records:
            self._check_record(record)
            record.version += 1
            self.records[record.key] = copy.deepcopy(record)
            self.writes += 1

    def save_profile(self, profile: Profile) -> None:
        self._hook()
        self._check_profile(profile)
        profile.version += 1
        self.stored_profiles[profile.profile_id] = profile.model_copy(deep=True)
        self.writes += 1

    def merge(self, commit: MergeCommit) -> None:
        self._hook()
        for record in commit.records:
            self._check_record(record)
        for profile in [commit.survivor, *commit.losers]:
            self._check_profile(profile)
        if any(entry.merge_id in self.merge_log for entry in commit.log):
            raise ConcurrentUpdateError("merge already logged")
        for record in commit.records:
            record.version += 1
            self.records[record.key] = copy.deepcopy(record)
        for profile in [commit.survivor, *commit.losers]:
            profile.version += 1
            self.stored_profiles[profile.profile_id] = profile.model_copy(deep=True)
        for entry in commit.log:
            self.merge_log[entry.merge_id] = entry.model_copy(deep=True)
        self.writes += 1

    def merges(self, profile_id: str) -> list[MergeRecord]:
        return [e.model_copy(deep=True) for e in self.merge_log.values() if e.survivor_id == profile_id]

    def unmerge(self, commit: UnmergeCommit) -> None:
        self._hook()
        for record in commit.records:
            self._check_record(record)
        for profile in (commit.survivor, commit.restored):
            self._check_profile(profile)
        if self.merge_log[commit.log.merge_id].unmerged_at is not None:
            raise ConcurrentUpdateError("already unmerged")
        for record in commit.records:
            record.version += 1
            self.records[record.key] = copy.deepcopy(record)
        for profile in (commit.survivor, commit.restored):
            profile.version += 1
            self.stored_profiles[profile.profile_id] = profile.model_copy(deep=True)
        self.merge_log[commit.log.merge_id] = commit.log.model_copy(deep=True)

    def live_profiles(self) -> list[Profile]:
        return [p for p in self.stored_profiles.values() if p.merged_into is None and p.exists]


@dataclass
class InMemoryPersonalData:
    graph: InMemoryCustomerGraph
    erasures: dict[str, ErasureRequest] = field(default_factory=dict)

    def save_erasure(self, request: ErasureRequest) -> None:
        self.erasures[request.request_id] = request.model_copy(deep=True)

    def find_erasure(self, request_id: str) -> ErasureRequest | None:
        return self.erasures.get(request_id)

    def delete_profile_partition(self, profile_id: str) -> int:
        removed = 1 if self.graph.stored_profiles.pop(profile_id, None) else 0
        for merge_id in [m for m, e in self.graph.merge_log.items() if e.survivor_id == profile_id]:
            del self.graph.merge_log[merge_id]
            removed += 1
        return removed

    def delete_merge_entries(self, survivor_id: str, involving: set[str]) -> int:
        doomed = [
            m
            for m, e in self.graph.merge_log.items()
            if e.survivor_id == survivor_id and {e.survivor_id, e.loser_id} & involving
        ]
        for merge_id in doomed:
            del self.graph.merge_log[merge_id]
        return len(doomed)


@dataclass
class RecordingErasureJobs:
    submitted: list[tuple[str, int, int]] = field(default_factory=list)

    def submit(self, request_id: str, *, sweep: int, delay_seconds: int = 0) -> None:
        self.submitted.append((request_id, sweep, delay_seconds))


@dataclass
class InMemorySegmentStore:
    stored_definitions: dict[str, SegmentDefinition] = field(default_factory=dict)
    states: dict[str, MembershipState] = field(default_factory=dict)
    memberships: dict[str, dict[str, datetime]] = field(default_factory=dict)  # segment → profile → since
    timers: set[tuple[str, datetime]] = field(default_factory=set)
    cuts: CutPoints = field(default_factory=CutPoints)
    commits: int = 0

    def definitions(self) -> list[SegmentDefinition]:
        return sorted(self.stored_definitions.values(), key=lambda d: d.segment_id)

    def definition(self, segment_id: str) -> SegmentDefinition | None:
        return self.stored_definitions.get(segment_id)

    def create_definition(self, definition: SegmentDefinition) -> None:
        if definition.segment_id in self.stored_definitions:
            raise ConflictError("A segment with this id exists")
        self.stored_definitions[definition.segment_id] = definition

    def replace_definition(self, definition: SegmentDefinition, *, expected_version: int) -> None:
        if self.stored_definitions[definition.segment_id].version != expected_version:
            raise ConcurrentUpdateError("segment changed")
        self.stored_definitions[definition.segment_id] = definition

    def delete_definition(self, segment_id: str) -> None:
        self.stored_definitions.pop(segment_id, None)

    def state(self, profile_id: str) -> MembershipState | None:
        found = self.states.get(profile_id)
        return None if found is None else found.model_copy(deep=True)

    def states_of(self, profile_ids: Sequence[str]) -> dict[str, MembershipState]:
        found = {pid: self.state(pid) for pid in profile_ids}
        return {pid: state for pid, state in found.items() if state is not None}

    def commit(
        self,
        state: MembershipState,
        *,
        entered: Sequence[tuple[str, datetime]],
        exited: Sequence[str],
        gone: bool,
    ) -> None:
        stored = self.states.get(state.profile_id)
        if (stored.version if stored else 0) != state.version:
            raise ConcurrentUpdateError("membership state changed")
        if gone:
            self.states.pop(state.profile_id, None)
        else:
            self.states[state.profile_id] = state.model_copy(update={"version": state.version + 1}, deep=True)
        for segment_id, since in entered:
            self.memberships.setdefault(segment_id, {})[state.profile_id] = since
        for segment_id in exited:
            self.memberships.get(segment_id, {}).pop(state.profile_id, None)
        self.commits += 1

    def members(self, segment_id: str, *, after: str | None, limit: int) -> tuple[list[str], str | None]:
        ordered = sorted(self.memberships.get(segment_id, {}))
        page = [pid for pid in ordered if after is None or pid > after][:limit]
        return page, (page[-1] if len(page) == limit else None)

    def count(self, segment_id: str) -> int:
        return len(self.memberships.get(segment_id, {}))

    def schedule_recheck(self, profile_id: str, at: datetime) -> None:
        self.timers.add((profile_id, at))

    def due_rechecks(self, now: datetime, *, limit: int) -> list[tuple[str, datetime]]:
        return sorted((t for t in self.timers if t[1] <= now), key=lambda t: (t[1], t[0]))[:limit]

    def clear_recheck(self, profile_id: str, at: datetime) -> None:
        self.timers.discard((profile_id, at))

    def cut_points(self) -> CutPoints:
        return self.cuts

    def save_cut_points(self, cuts: CutPoints) -> None:
        self.cuts = cuts


@dataclass
class InMemoryRecomputeJobs:
    jobs: dict[str, RecomputeJob] = field(default_factory=dict)
    parts: dict[tuple[str, int], PartSample] = field(default_factory=dict)

    def create(self, job: RecomputeJob) -> None:
        self.jobs[job.job_id] = job.model_copy(update={"version": 1})

    def get(self, job_id: str) -> RecomputeJob | None:
        return self.jobs.get(job_id)

    def save(self, job: RecomputeJob) -> None:
        if self.jobs[job.job_id].version != job.version:
            raise ConcurrentUpdateError("job changed")
        self.jobs[job.job_id] = job.model_copy(update={"version": job.version + 1})

    def save_sample(self, job_id: str, part: int, sample: PartSample) -> None:
        self.parts[(job_id, part)] = sample

    def samples(self, job_id: str) -> list[PartSample]:
        return [sample for (jid, _part), sample in sorted(self.parts.items()) if jid == job_id]


@dataclass
class QueuedRecomputeTasks:
    queued: list[tuple[str, Phase, int]] = field(default_factory=list)

    def submit(self, job_id: str, *, phase: Phase, part: int) -> None:
        self.queued.append((job_id, phase, part))


@dataclass
class GraphScanner:
    """Parallel-scan parts over the in-memory graph's profiles (by a stable hash of the id)."""

    graph: InMemoryCustomerGraph
    page_size: int = 3

    def pages(self, *, part: int, parts: int) -> Iterator[list[Profile]]:
        mine = [
            p
            for pid, p in sorted(self.graph.stored_profiles.items())
            if p.merged_into is None
            and p.exists
            and int(hashlib.sha256(pid.encode()).hexdigest(), 16) % parts == part
        ]
        for start in range(0, len(mine), self.page_size):
            yield [p.model_copy(deep=True) for p in mine[start : start + self.page_size]]


@dataclass
class InMemoryLoyaltyStore:
    """LoyaltyStore and CouponStore in memory. `crash_before_entries` makes the next
    `write_entries` fail once (a crash between the account's commit and its ledger items)."""

    accounts: dict[str, Any] = field(default_factory=dict)  # profile → Account JSON
    ledgers: dict[str, dict[int, Any]] = field(default_factory=dict)
    keys: dict[str, dict[str, int]] = field(default_factory=dict)
    schedules: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    referral_codes: dict[str, str] = field(default_factory=dict)
    coupon_definitions: dict[str, Any] = field(default_factory=dict)
    member_index: dict[str, dict[str, Any]] = field(default_factory=dict)
    issued: dict[str, Any] = field(default_factory=dict)  # code → Coupon JSON
    crash_before_entries: int = 0

    def account(self, profile_id: str) -> Any:
        raw = self.accounts.get(profile_id)
        return None if raw is None else Account.model_validate_json(raw)

    def save_account(self, account: Any, *, expected_version: int, member_coupon: Any = None) -> None:
        stored = self.account(account.profile_id)
        if (stored.version if stored else 0) != expected_version:
            raise ConcurrentUpdateError("changed")
        if member_coupon is not None:
            key = f"{member_coupon.coupon.definition.definition_id}#{member_coupon.slot}"
            if key in self.member_index.get(account.profile_id, {}):
                raise ConcurrentUpdateError("slot taken")
            self.member_index.setdefault(account.profile_id, {})[key] = member_coupon.model_dump_json()
        self.accounts[account.profile_id] = account.model_dump_json()

    def committed(self, profile_id: str, entry_ids: Sequence[str]) -> dict[str, int]:
        keys = self.keys.get(profile_id, {})
        return {entry_id: keys[entry_id] for entry_id in entry_ids if entry_id in keys}

    def write_entries(self, profile_id: str, entries: Sequence[Any]) -> None:
        if self.crash_before_entries:
            self.crash_before_entries -= 1
            raise DependencyUnavailableError("crash before the ledger items")
        for entry in entries:
            self.ledgers.setdefault(profile_id, {})[entry.seq] = entry.model_copy()
        for entry in entries:
            self.keys.setdefault(profile_id, {})[entry.entry_id] = entry.seq

    def entry(self, profile_id: str, seq: int) -> Any:
        return self.ledgers.get(profile_id, {}).get(seq)

    def ledger(self, profile_id: str, *, before: int | None, limit: int) -> tuple[list[Any], int | None]:
        entries = sorted(self.ledgers.get(profile_id, {}).values(), key=lambda e: -e.seq)
        if before is not None:
            entries = [e for e in entries if e.seq < before]
        page = entries[:limit]
        return page, (page[-1].seq if len(entries) > limit else None)

    def schedule(self, kind: str, bucket: str, profile_id: str, detail: dict[str, Any] | None = None) -> None:
        self.schedules.setdefault((kind, bucket), {})[profile_id] = dict(detail or {})

    def unschedule(self, kind: str, bucket: str, profile_id: str) -> None:
        self.schedules.get((kind, bucket), {}).pop(profile_id, None)

    def scheduled(self, kind: str, bucket: str) -> list[tuple[str, dict[str, Any]]]:
        return sorted(self.schedules.get((kind, bucket), {}).items())

    def claim_referral_code(self, code: str, profile_id: str) -> bool:
        if code in self.referral_codes:
            return False
        self.referral_codes[code] = profile_id
        return True

    def referral_owner(self, code: str) -> str | None:
        return self.referral_codes.get(code)

    def definition(self, definition_id: str) -> Any:
        return self.coupon_definitions.get(definition_id)

    def definitions(self) -> list[Any]:
        return [self.coupon_definitions[k] for k in sorted(self.coupon_definitions)]

    def create_definition(self, definition: Any) -> None:
        if definition.definition_id in self.coupon_definitions:
            raise ConflictError("exists")
        self.coupon_definitions[definition.definition_id] = definition

    def save_definition(self, definition: Any) -> None:
        self.coupon_definitions[definition.definition_id] = definition

    def member_coupons(self, profile_id: str, definition_id: str | None = None) -> list[Any]:
        prefix = f"{definition_id}#" if definition_id else ""
        return [
            MemberCoupon.model_validate_json(raw)
            for key, raw in sorted(self.member_index.get(profile_id, {}).items())
            if key.startswith(prefix)
        ]

    def add_member_coupon(self, profile_id: str, entry: Any) -> bool:
        key = f"{entry.coupon.definition.definition_id}#{entry.slot}"
        index = self.member_index.setdefault(profile_id, {})
        if key in index:
            return False
        index[key] = entry.model_dump_json()
        return True

    def coupon(self, code: str) -> Any:
        raw = self.issued.get(code)
        return None if raw is None else Coupon.model_validate_json(raw)

    def coupons(self, codes: list[str]) -> dict[str, Any]:
        return {code: found for code in codes if (found := self.coupon(code)) is not None}

    def create_coupon(self, coupon: Any) -> bool:
        existing = self.coupon(coupon.code)
        if existing is not None:
            return bool(existing.issue_key == coupon.issue_key)
        self.issued[coupon.code] = coupon.model_dump_json()
        return True

    def save_coupon(self, coupon: Any, *, expected_version: int) -> None:
        stored = self.coupon(coupon.code)
        if stored is None or stored.version != expected_version:
            raise ConcurrentUpdateError("changed")
        self.issued[coupon.code] = coupon.model_dump_json()


@dataclass
class InMemoryStock:
    """StockStore and ReservationStore in memory, with the same conditions as the catalog table."""

    settings_by_key: dict[tuple[str, str], Any] = field(default_factory=dict)
    bucket_rows: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    moves: list[Any] = field(default_factory=list)
    records: dict[str, Any] = field(default_factory=dict)
    holds: dict[tuple[str, str, str], tuple[int, datetime]] = field(default_factory=dict)
    due_index: dict[tuple[str, str], bool] = field(default_factory=dict)
    claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    counted: dict[tuple[str, str], datetime] = field(default_factory=dict)

    # stock
    def settings(self, sku: str, location_id: str, *, fresh: bool = False) -> Any:
        return self.settings_by_key.get((sku, location_id))

    def save_settings(self, sku: str, location_id: str, settings: Any) -> None:
        self.settings_by_key[(sku, location_id)] = settings

    def claim_count(self, sku: str, location_id: str, counted_at: datetime) -> bool:
        if (sku, location_id) in self.counted and self.counted[(sku, location_id)] >= counted_at:
            return False
        self.counted[(sku, location_id)] = counted_at
        return True

    def buckets(self, sku: str, location_id: str) -> list[Any]:
        from shared.domain.commerce.stock import Bucket

        return [
            Bucket(bucket=number, **{k: v for k, v in row.items() if k != "ops"}, ops=frozenset(row["ops"]))
            for (s, loc, number), row in sorted(self.bucket_rows.items())
            if (s, loc) == (sku, location_id)
        ]

    def create_buckets(self, sku: str, location_id: str, numbers: Sequence[int], *, now: datetime) -> None:
        for number in numbers:
            self.bucket_rows.setdefault(
                (sku, location_id, number),
                {"on_hand": 0, "reserved": 0, "available": 0, "version": 0, "updated_at": now, "ops": set()},
            )

    def apply(
        self,
        sku: str,
        location_id: str,
        bucket: int,
        op_id: str,
        delta: Any,
        *,
        keep_free: int = 0,
        expected_version: int | None = None,
        now: datetime,
    ) -> Any:
        from shared.domain.commerce.stock import Outcome

        row = self.bucket_rows.get((sku, location_id, bucket))
        if row is None:
            return Outcome.MISSING
        if op_id in row["ops"]:
            return Outcome.ALREADY
        if row["available"] < max(0, -delta.available) + keep_free or row["reserved"] < max(
            0, -delta.reserved
        ):
            return Outcome.SHORT
        if expected_version is not None and row["version"] != expected_version:
            return Outcome.SHORT
        row.update(
            on_hand=row["on_hand"] + delta.on_hand,
            reserved=row["reserved"] + delta.reserved,
            available=row["available"] + delta.available,
            version=row["version"] + 1,
            updated_at=now,
        )
        row["ops"].add(op_id)
        return Outcome.APPLIED

    def undo(self, sku: str, location_id: str, bucket: int, op_id: str, delta: Any, *, now: datetime) -> bool:
        row = self.bucket_rows.get((sku, location_id, bucket))
        if row is None or op_id not in row["ops"]:
            return False
        row.update(
            on_hand=row["on_hand"] - delta.on_hand,
            reserved=row["reserved"] - delta.reserved,
            available=row["available"] - delta.available,
            version=row["version"] + 1,
        )
        row["ops"].discard(op_id)
        return True

    def clear(self, sku: str, location_id: str, bucket: int, op_ids: Sequence[str]) -> None:
        row = self.bucket_rows.get((sku, location_id, bucket))
        if row is not None:
            row["ops"] -= set(op_ids)

    def record_movements(self, movements: Sequence[Any]) -> None:
        self.moves.extend(movements)

    # reservations
    def create(self, reservation: Any) -> bool:
        if reservation.reservation_id in self.records:
            return False
        self.records[reservation.reservation_id] = copy.deepcopy(reservation)
        self.due_index[(reservation.expires_at.strftime("%Y-%m-%dT%H:%M"), reservation.reservation_id)] = True
        return True

    def get(self, reservation_id: str) -> Any:
        found = self.records.get(reservation_id)
        return copy.deepcopy(found) if found else None

    def save(self, reservation: Any, *, expected_version: int) -> bool:
        current = self.records.get(reservation.reservation_id)
        if current is None or current.version != expected_version:
            return False
        self.records[reservation.reservation_id] = copy.deepcopy(reservation)
        return True

    def add_holds(self, reservation: Any) -> None:
        for step in reservation.steps:
            self.holds[(step.sku, step.location_id, reservation.reservation_id)] = (
                step.quantity,
                reservation.expires_at,
            )

    def remove_holds(self, reservation: Any) -> None:
        for step in reservation.steps:
            self.holds.pop((step.sku, step.location_id, reservation.reservation_id), None)
        self.due_index.pop(
            (reservation.expires_at.strftime("%Y-%m-%dT%H:%M"), reservation.reservation_id), None
        )

    def expired_holds(self, sku: str, location_id: str, now: datetime) -> list[tuple[str, int, datetime]]:
        return [
            (rid, quantity, at)
            for (s, loc, rid), (quantity, at) in self.holds.items()
            if (s, loc) == (sku, location_id) and at <= now
        ]

    def due(self, until: datetime, *, limit: int) -> list[tuple[str, str]]:
        minute = until.strftime("%Y-%m-%dT%H:%M")
        return sorted(key for key in self.due_index if key[0] <= minute)[:limit]

    def undue(self, minute: str, reservation_id: str) -> None:
        self.due_index.pop((minute, reservation_id), None)

    def claim(self, key: str, detail: dict[str, Any], *, now: datetime) -> dict[str, Any] | None:
        if key in self.claims:
            return copy.deepcopy(self.claims[key])
        self.claims[key] = copy.deepcopy(detail)
        return None

    def finish_claim(self, key: str, result: dict[str, Any]) -> None:
        self.claims[key]["result"] = copy.deepcopy(result)

    def claimed(self, key: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.claims.get(key))


@dataclass
class StaticDirectory:
    channels: dict[str, list[str]]

    def channel_locations(self, channel_id: str) -> list[str]:
        return list(self.channels.get(channel_id, []))

    def location_exists(self, location_id: str) -> bool:
        return any(location_id in locations for locations in self.channels.values())

    def location_known_as(self, source_id: str, external_id: str) -> str | None:
        return None


@dataclass
class InMemoryAppointments:
    """AppointmentStore in memory, with the table's conditions (capacity, one place per booking)."""

    service_types: dict[str, Any] = field(default_factory=dict)
    places: dict[Any, set[str]] = field(default_factory=dict)  # SlotKey → booking ids holding
    stored: dict[str, Any] = field(default_factory=dict)
    location_list: dict[str, Any] = field(default_factory=dict)

    def services(self) -> list[Any]:
        return list(self.service_types.values())

    def service(self, service_id: str) -> Any:
        return self.service_types.get(service_id)

    def save_service(self, service: Any) -> None:
        self.service_types[service.service_id] = service

    def locations(self) -> list[Any]:
        return list(self.location_list.values())

    def location(self, location_id: str) -> Any:
        return self.location_list.get(location_id)

    def save_location(self, location: Any) -> None:
        self.location_list[location.location_id] = location

    def booked(self, location_id: str, service_id: str, local_day: Any) -> dict[str, int]:
        return {
            key.local_time: len(holders)
            for key, holders in self.places.items()
            if (key.location_id, key.service_id, key.local_day) == (location_id, service_id, local_day)
        }

    def take(self, slot: Any, booking_id: str, *, capacity: int) -> str:
        holders = self.places.setdefault(slot, set())
        if booking_id in holders:
            return "held"
        if len(holders) >= capacity:
            return "full"
        holders.add(booking_id)
        return "taken"

    def create(self, booking: Any) -> bool:
        if booking.booking_id in self.stored:
            return False
        self.stored[booking.booking_id] = booking
        return True

    def change(
        self, booking: Any, *, expected_version: int, release: Any, take: Any, capacity: int = 0
    ) -> str:
        current = self.stored.get(booking.booking_id)
        if current is None or current.version != expected_version:
            return "changed"
        if release is not None and booking.booking_id not in self.places.get(release, set()):
            return "changed"
        if take is not None:
            holders = self.places.get(take, set())
            if booking.booking_id in holders or len(holders) >= capacity:
                return "full"
        if release is not None:
            self.places[release].discard(booking.booking_id)
        if take is not None:
            self.places.setdefault(take, set()).add(booking.booking_id)
        self.stored[booking.booking_id] = booking
        return "saved"

    def booking(self, booking_id: str) -> Any:
        return self.stored.get(booking_id)

    def bookings_of(self, profile_id: str) -> list[Any]:
        return sorted(
            (b for b in self.stored.values() if b.profile_id == profile_id), key=lambda b: b.starts_at
        )


@dataclass
class RecordingAnnouncer:
    said: list[tuple[str, str, int]] = field(default_factory=list)  # (booking, change, version)
    customers: set[str] = field(default_factory=lambda: {"p-1", "p-2"})

    def knows(self, profile_id: str) -> bool:
        return profile_id in self.customers

    def announce(self, booking: Any, change: str, *, at: datetime) -> None:
        self.said.append((booking.booking_id, change, booking.version))
