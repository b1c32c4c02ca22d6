"""Segments and classification kept live.

For each profile the engine keeps one **state** (its classification and the segments it is in)
and, per segment, an **audience** entry, so a campaign reads a segment's members by querying, never
by scanning profiles. A profile is re-evaluated

- when a touchpoint lands on it, it is merged, unmerged or erased (bus events → SegmentQueue);
- when time alone may change an answer (a behaviour window closes, a birthday month begins, a
  customer becomes overdue): the evaluation says when, and a recheck timer fires then;
- by the nightly recompute, which also refreshes the score cut points.

Each of these paths runs the same pure evaluation, so live and nightly give the same result.
Entering or leaving a segment and a stage change are events, sent before the state is written:
a crash between the two sends them again (at least once; consumers dedupe by `event_id`).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.domain.customers.ports import CustomerGraph
from shared.domain.customers.profiles import Profile
from shared.domain.kernel.errors import ConcurrentUpdateError, ConflictError, NotFoundError
from shared.domain.kernel.events import (
    PROFILE_ERASED,
    PROFILES_MERGED,
    PROFILES_UNMERGED,
    TOUCHPOINT_RECORDED,
)
from shared.domain.kernel.ports import Clock, EventPublisher
from shared.domain.segments.classification import (
    Classification,
    ClassificationRules,
    CutPoints,
    PriceSensitivity,
    Stage,
    Tier,
    classify,
)
from shared.domain.segments.rules import Rule, Subject, evaluate, parse_rule

SEGMENT_ENTERED = "SegmentEntered"
SEGMENT_EXITED = "SegmentExited"
LIFECYCLE_STAGE_CHANGED = "LifecycleStageChanged"
AUDIENCE_SHARDS = 8  # a segment's members spread over this many index partitions
MAX_SEGMENTS = 90  # every membership change of one evaluation fits one transaction


class SegmentNotFoundError(NotFoundError):
    code = "segment_not_found"


class NewSegment(BaseModel):
    """A segment as an operator saves it."""

    segment_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    rule: dict[str, Any]

    @field_validator("rule")
    @classmethod
    def _valid_rule(cls, rule: dict[str, Any]) -> dict[str, Any]:
        parse_rule(rule)  # raises InvalidInputError with every problem and its path
        return rule


class SegmentChange(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    rule: dict[str, Any] | None = None

    @field_validator("rule")
    @classmethod
    def _valid_rule(cls, rule: dict[str, Any] | None) -> dict[str, Any] | None:
        if rule is not None:
            parse_rule(rule)
        return rule


class SegmentDefinition(BaseModel):
    segment_id: str
    name: str
    description: str = ""
    rule: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int = 1

    def parsed(self) -> Rule:
        return parse_rule(self.rule)

    def view(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ClassSummary(BaseModel):
    """What is kept of a classification: what campaigns target and transitions are about (not the
    day counts, which change every day and are computed when read)."""

    model_config = ConfigDict(frozen=True)

    stage: Stage
    tier: Tier
    price_sensitivity: PriceSensitivity
    r: int
    f: int
    m: int

    @classmethod
    def of(cls, classification: Classification) -> ClassSummary:
        scores = classification.scores
        return cls(
            stage=classification.stage,
            tier=classification.tier,
            price_sensitivity=classification.price_sensitivity,
            r=scores.r,
            f=scores.f,
            m=scores.m,
        )


DEFAULT_SUMMARY = ClassSummary(
    stage=Stage.POTENTIAL, tier=Tier.TO_BE_NURTURED, price_sensitivity=PriceSensitivity.UNKNOWN, r=0, f=0, m=0
)


class MembershipState(BaseModel):
    """Per profile: what it was classified as and which segments it is in (since when)."""

    profile_id: str
    version: int = 0
    classification: ClassSummary | None = None
    segments: dict[str, datetime] = Field(default_factory=dict)
    next_check: datetime | None = None  # the recheck timer scheduled for it, if any


class SegmentStore(Protocol):
    def definitions(self) -> list[SegmentDefinition]: ...

    def definition(self, segment_id: str) -> SegmentDefinition | None: ...

    def create_definition(self, definition: SegmentDefinition) -> None:
        """Raises ConflictError if the id exists."""
        ...

    def replace_definition(self, definition: SegmentDefinition, *, expected_version: int) -> None: ...

    def delete_definition(self, segment_id: str) -> None: ...

    def state(self, profile_id: str) -> MembershipState | None: ...

    def states_of(self, profile_ids: Sequence[str]) -> dict[str, MembershipState]:
        """The stored states of these profiles (absent: none stored), in as few reads as the store
        allows."""
        ...

    def commit(
        self,
        state: MembershipState,
        *,
        entered: Sequence[tuple[str, datetime]],
        exited: Sequence[str],
        gone: bool,
    ) -> None:
        """One transaction: the state (conditional on `state.version`, 0 = not stored; deleted when
        `gone`) and the membership entries that entered or left. Raises ConcurrentUpdateError."""
        ...

    def members(self, segment_id: str, *, after: str | None, limit: int) -> tuple[list[str], str | None]:
        """A page of member profile ids and the cursor of the next page."""
        ...

    def count(self, segment_id: str) -> int: ...

    def schedule_recheck(self, profile_id: str, at: datetime) -> None: ...

    def due_rechecks(self, now: datetime, *, limit: int) -> list[tuple[str, datetime]]:
        """(profile id, when) of timers due by `now`, oldest first."""
        ...

    def clear_recheck(self, profile_id: str, at: datetime) -> None: ...

    def cut_points(self) -> CutPoints: ...

    def save_cut_points(self, cuts: CutPoints) -> None: ...


def audience_shard(profile_id: str) -> int:
    return int(hashlib.sha256(profile_id.encode()).hexdigest()[:8], 16) % AUDIENCE_SHARDS


# ------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Evaluation:
    classification: Classification | None
    segments: dict[str, datetime]
    entered: list[str]
    exited: list[str]
    next_check: datetime | None


def evaluate_profile(
    profile: Profile | None,
    state: MembershipState,
    definitions: Sequence[SegmentDefinition],
    *,
    cuts: CutPoints,
    rules: ClassificationRules,
    now: datetime,
) -> Evaluation:
    """Pure: the profile's classification and segments now. A profile that is gone (erased, or
    merged into another) is in no segment."""
    if profile is None or profile.merged_into is not None or not profile.exists:
        return Evaluation(None, {}, [], sorted(state.segments), None)
    classification = classify(profile, cuts=cuts, rules=rules, now=now)
    subject = Subject(profile, classification)
    segments: dict[str, datetime] = {}
    changes: list[datetime] = [classification.next_change_at] if classification.next_change_at else []
    for definition in definitions:
        verdict = evaluate(definition.parsed(), subject, now)
        if verdict.changes_at is not None:
            changes.append(verdict.changes_at)
        if verdict.matched:
            segments[definition.segment_id] = state.segments.get(definition.segment_id, now)
    entered = sorted(set(segments) - set(state.segments))
    exited = sorted(set(state.segments) - set(segments))
    future = [moment for moment in changes if moment > now]
    return Evaluation(classification, segments, entered, exited, min(future) if future else None)


def _event_id(kind: str, profile_id: str, subject: str, version: int) -> str:
    return f"{kind}:{profile_id}:{subject}:{version}"


@dataclass
class RefreshResult:
    evaluated: int = 0
    changed: int = 0
    entered: int = 0
    exited: int = 0
    stage_changes: int = 0
    attempts: int = 0


@dataclass(frozen=True)
class _Read:
    """A profile and its stored state as read for one evaluation (None: absent)."""

    profile: Profile | None
    state: MembershipState | None


@dataclass
class Refresher:
    """Re-evaluates profiles against fresh reads and writes only what changed."""

    graph: CustomerGraph
    store: SegmentStore
    publisher: EventPublisher
    clock: Clock
    rules: ClassificationRules
    cuts: CutPoints | None = None
    attempts: int = 20
    sleep: Callable[[float], None] = time.sleep
    result: RefreshResult = field(default_factory=RefreshResult)

    def refresh(self, profile_ids: Sequence[str], *, read: Sequence[Profile] = ()) -> RefreshResult:
        """Re-evaluate these profiles. The first attempt of each uses reads made for all of them at
        once (their profiles, or `read`: profiles just read by the nightly scan, and their stored
        states); a conflict re-reads that one profile."""
        definitions = self.store.definitions()
        cuts = self.cuts or self.store.cut_points()
        known = {profile.profile_id: profile for profile in read}
        ordered = list(dict.fromkeys([*profile_ids, *known]))
        known.update(self.graph.profiles([pid for pid in ordered if pid not in known]))
        states = self.store.states_of(ordered)
        for profile_id in ordered:
            first = _Read(profile=known.pop(profile_id, None), state=states.pop(profile_id, None))
            for attempt in range(self.attempts):
                try:
                    self._refresh_one(profile_id, definitions, cuts, first if attempt == 0 else None)
                    break
                except ConcurrentUpdateError:
                    if attempt + 1 == self.attempts:
                        raise
                    self.sleep(min(0.2, 0.005 * 2**attempt) * random.random())  # noqa: S311 - jitter
        return self.result

    def _refresh_one(
        self,
        profile_id: str,
        definitions: Sequence[SegmentDefinition],
        cuts: CutPoints,
        read: _Read | None = None,
    ) -> None:
        self.result.attempts += 1
        now = self.clock.now()
        if read is None:
            read = _Read(
                profile=self.graph.profiles([profile_id]).get(profile_id), state=self.store.state(profile_id)
            )
        profile, stored = read.profile, read.state
        # No stored state means the default: a potential customer in no segment (not written
        # until something differs, so an anonymous visit costs no write here).
        state = stored or MembershipState(profile_id=profile_id, classification=DEFAULT_SUMMARY)
        outcome = evaluate_profile(profile, state, definitions, cuts=cuts, rules=self.rules, now=now)
        self.result.evaluated += 1
        summary = ClassSummary.of(outcome.classification) if outcome.classification else None
        # A timer already set for no later than needed is kept; a due one has fired.
        current = state.next_check if state.next_check is not None and state.next_check > now else None
        wanted = outcome.next_check
        next_check = current if wanted is None or (current is not None and current <= wanted) else wanted
        if (
            summary == state.classification
            and outcome.segments == state.segments
            and next_check == state.next_check
        ):
            return
        before = state.classification.stage if state.classification else None
        after = summary.stage if summary else None
        events: list[tuple[str, dict[str, Any]]] = []
        for segment_id in outcome.entered:
            events.append(
                (SEGMENT_ENTERED, self._detail(SEGMENT_ENTERED, profile_id, segment_id, state, now))
            )
        for segment_id in outcome.exited:
            events.append((SEGMENT_EXITED, self._detail(SEGMENT_EXITED, profile_id, segment_id, state, now)))
        if before != after and after is not None:
            detail = self._detail(LIFECYCLE_STAGE_CHANGED, profile_id, after.value, state, now)
            events.append((LIFECYCLE_STAGE_CHANGED, {**detail, "from": before.value if before else None}))
        # Events first, then the state: a crash between sends them again (same event ids).
        if events:
            self.publisher.publish_all(events)
        if next_check is not None and next_check != current:
            self.store.schedule_recheck(profile_id, next_check)
        gone = summary is None or (summary == DEFAULT_SUMMARY and not outcome.segments and next_check is None)
        if gone and stored is None:
            self.result.changed += 1
            return
        new_state = state.model_copy(
            update={"classification": summary, "segments": outcome.segments, "next_check": next_check}
        )
        self.store.commit(
            new_state,
            entered=[(segment_id, outcome.segments[segment_id]) for segment_id in outcome.entered],
            exited=outcome.exited,
            gone=gone,
        )
        self.result.changed += 1
        self.result.entered += len(outcome.entered)
        self.result.exited += len(outcome.exited)
        self.result.stage_changes += int(before != after and after is not None)

    @staticmethod
    def _detail(
        kind: str, profile_id: str, subject: str, state: MembershipState, now: datetime
    ) -> dict[str, Any]:
        key = "stage" if kind == LIFECYCLE_STAGE_CHANGED else "segment_id"
        return {
            "event_id": _event_id(kind, profile_id, subject, state.version),
            "profile_id": profile_id,
            key: subject,
            "at": now.isoformat(),
        }


# The bus events that can change a profile's classification or segments, and whom they name.
REFRESHING_EVENTS = (TOUCHPOINT_RECORDED, PROFILES_MERGED, PROFILES_UNMERGED, PROFILE_ERASED)


def profiles_named(detail_type: str, detail: dict[str, Any]) -> list[str]:
    """The profiles a bus event asks to re-evaluate."""
    named: list[Any] = []
    if detail_type in (TOUCHPOINT_RECORDED, PROFILES_MERGED, PROFILES_UNMERGED):
        named.append(detail.get("profile_id"))
    if detail_type == PROFILES_MERGED:
        named += detail.get("merged") or []
    if detail_type == PROFILES_UNMERGED:
        named.append(detail.get("restored"))
    if detail_type == PROFILE_ERASED:
        named += detail.get("profile_ids") or []
    return [str(pid) for pid in named if isinstance(pid, str) and pid]


def run_due_rechecks(refresher: Refresher, *, limit: int = 1000) -> int:
    """Re-evaluate profiles whose timers are due; a timer is cleared once its profile is done."""
    due = refresher.store.due_rechecks(refresher.clock.now(), limit=limit)
    for profile_id, at in due:
        refresher.refresh([profile_id])
        refresher.store.clear_recheck(profile_id, at)
    return len(due)


# ------------------------------------------------------------------------------ definitions


def create_segment(new: NewSegment, *, store: SegmentStore, clock: Clock) -> SegmentDefinition:
    if len(store.definitions()) >= MAX_SEGMENTS:
        raise ConflictError(f"At most {MAX_SEGMENTS} segments; delete one first")
    now = clock.now()
    definition = SegmentDefinition(**new.model_dump(), created_at=now, updated_at=now)
    store.create_definition(definition)
    return definition


def find_segment(segment_id: str, *, store: SegmentStore) -> SegmentDefinition:
    found = store.definition(segment_id)
    if found is None:
        raise SegmentNotFoundError("No segment with this id", details={"segment_id": segment_id})
    return found


def change_segment(
    segment_id: str, change: SegmentChange, *, store: SegmentStore, clock: Clock
) -> SegmentDefinition:
    current = find_segment(segment_id, store=store)
    updates = {
        key: value for key, value in change.model_dump(exclude_unset=True).items() if value is not None
    }
    changed = current.model_copy(
        update={**updates, "updated_at": clock.now(), "version": current.version + 1}
    )
    try:
        store.replace_definition(changed, expected_version=current.version)
    except ConcurrentUpdateError as error:
        raise ConflictError("The segment changed meanwhile; read it again") from error
    return changed


def preview(
    rule: dict[str, Any],
    profiles: Sequence[Profile],
    *,
    population: int,
    cuts: CutPoints,
    rules: ClassificationRules,
    now: datetime,
) -> dict[str, Any]:
    """How many would match, counted over `profiles` (all of them, or a sample of a larger
    `population`, then scaled)."""
    parsed = parse_rule(rule)
    live = [p for p in profiles if p.merged_into is None and p.exists]
    matched = sum(
        1
        for profile in live
        if evaluate(parsed, Subject(profile, classify(profile, cuts=cuts, rules=rules, now=now)), now).matched
    )
    exact = len(live) >= population
    estimate = matched if exact or not live else round(matched * population / len(live))
    return {
        "matched": matched,
        "evaluated": len(live),
        "population": population,
        "estimated_members": estimate,
        "exact": exact,
    }
