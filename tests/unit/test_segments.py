"""Segments kept live: a behavioural window gains a member when the behaviour arrives and loses
it when the window passes (a timer), live and in the nightly recompute alike; replaying the same
touchpoints in another order gives the same memberships."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from shared.domain.ingest.touchpoints import OrderLine, Touchpoint, TouchpointType
from shared.domain.kernel.errors import ConflictError, InvalidInputError
from shared.domain.kernel.events import unbatched
from shared.domain.segments.classification import ClassificationRules
from shared.domain.segments.live import (
    LIFECYCLE_STAGE_CHANGED,
    SEGMENT_ENTERED,
    SEGMENT_EXITED,
    NewSegment,
    Refresher,
    SegmentChange,
    change_segment,
    create_segment,
    preview,
    profiles_named,
    run_due_rechecks,
)
from tests.fakes import InMemorySegmentStore
from tests.unit.customers_support import T0, Harness, ids, touchpoint

VIEWED_NOT_BOUGHT = {
    "all": [
        {"did": {"event": "Product Viewed", "sku": "TEA-01", "within_days": 7}},
        {"not": {"bought": {"sku": "TEA-01", "within_days": 7}}},
    ]
}


class World:
    """The consumer (Harness) plus the segment engine on one clock, the way the functions run."""

    def __init__(self, *segments: tuple[str, dict]) -> None:
        self.harness = Harness()
        self.store = InMemorySegmentStore()
        for segment_id, rule in segments:
            create_segment(
                NewSegment(segment_id=segment_id, name=segment_id, rule=rule),
                store=self.store,
                clock=self.clock,
            )

    @property
    def clock(self):
        return self.harness.clock

    def refresher(self) -> Refresher:
        return Refresher(
            graph=self.harness.graph,
            store=self.store,
            publisher=self.harness.publisher,
            clock=self.clock,
            rules=ClassificationRules(),
            sleep=lambda _s: None,
        )

    def deliver(self, touchpoints: list[Touchpoint]) -> None:
        """Fold, then re-evaluate whom the bus events of that fold name (as the segments function)."""
        already = len(self.harness.publisher.published)
        self.harness.fold(touchpoints)
        named = [
            pid
            for kind, announced in self.harness.publisher.published[already:]
            for single, detail in unbatched(kind, announced)
            for pid in profiles_named(single, detail)
        ]
        self.refresher().refresh(named)

    def sweep(self) -> int:
        return run_due_rechecks(self.refresher())

    def nightly(self) -> None:
        self.refresher().refresh([p.profile_id for p in self.harness.graph.stored_profiles.values()])

    def members(self, segment_id: str) -> set[str]:
        return set(self.store.memberships.get(segment_id, {}))

    def events(self, kind: str) -> list[dict]:
        return self.harness.events(kind)


def viewed(tid: str, who, *, minutes: int, sku: str = "TEA-01") -> Touchpoint:
    tp = touchpoint(tid, who, minutes=minutes)
    return tp.model_copy(update={"event": "Product Viewed", "properties": {"sku": sku}})


def test_a_behaviour_window_gains_a_member_and_loses_it_when_the_window_passes() -> None:
    world = World(("viewed-not-bought", VIEWED_NOT_BOUGHT))
    ann = ids(user_id="ann")
    world.clock.current = T0 + timedelta(minutes=10)
    world.deliver([viewed("v1", ann, minutes=5)])
    ann_id = world.harness.profile_of(ann[0]).profile_id
    assert world.members("viewed-not-bought") == {ann_id}
    assert [e["segment_id"] for e in world.events(SEGMENT_ENTERED)] == ["viewed-not-bought"]

    world.clock.advance(timedelta(days=6))
    assert world.sweep() == 0  # nothing due yet
    world.clock.advance(timedelta(days=1))
    assert world.sweep() == 1  # the window closed: the timer re-evaluated her
    assert world.members("viewed-not-bought") == set()
    assert [e["segment_id"] for e in world.events(SEGMENT_EXITED)] == ["viewed-not-bought"]
    assert world.store.timers == set()


def test_the_nightly_recompute_gives_the_same_result_as_live() -> None:
    live = World(("viewed-not-bought", VIEWED_NOT_BOUGHT))
    nightly = World(("viewed-not-bought", VIEWED_NOT_BOUGHT))
    people = [ids(user_id=f"u{n}") for n in range(6)]
    for world in (live, nightly):
        world.clock.current = T0 + timedelta(days=1)
    for n, who in enumerate(people):
        batch = [viewed(f"v{n}", who, minutes=n * 60)]
        if n % 3 == 0:
            batch.append(
                touchpoint(
                    f"o{n}", who, kind=TouchpointType.ORDER, order_id=f"o{n}", total="5", minutes=n * 60 + 1
                )
            )
        live.deliver(batch)
        nightly.harness.fold(batch)  # the nightly world only recomputes, never live
    for moment in (timedelta(0), timedelta(days=5, hours=20), timedelta(days=6, hours=6), timedelta(days=8)):
        for world in (live, nightly):
            world.clock.current = T0 + timedelta(days=1) + moment
        live.sweep()
        nightly.nightly()
        assert _by_user(live) == _by_user(nightly)
    assert not any(_by_user(live).values())  # every window has closed


def _by_user(world: World) -> dict[str, bool]:
    members = world.members("viewed-not-bought")
    return {
        profile.identifier_values("user_id")[0]: profile.profile_id in members
        for profile in world.harness.live()
    }


def test_replaying_in_another_order_gives_the_same_memberships() -> None:
    segments = [
        ("viewed-not-bought", VIEWED_NOT_BOUGHT),
        ("spring", {"bought_in_months": [11]}),
        ("big", {"field": "revenue", "op": "gte", "value": 10}),
    ]
    touchpoints = []
    for n in range(5):
        who = [*ids(user_id=f"u{n}"), *ids(anonymous_id=f"a{n}")]
        touchpoints.append(viewed(f"v{n}", who[1:], minutes=n))
        touchpoints.append(touchpoint(f"l{n}", who, kind=TouchpointType.IDENTIFY, minutes=10 + n))
        if n % 2:
            order = touchpoint(
                f"o{n}",
                who[:1],
                kind=TouchpointType.ORDER,
                order_id=f"o{n}",
                total=str(5 * n),
                minutes=20 + n,
            )
            assert order.order is not None
            lines = [OrderLine(sku="TEA-01", quantity=Decimal(1))]
            touchpoints.append(
                order.model_copy(update={"order": order.order.model_copy(update={"lines": lines})})
            )
    results = []
    for seed in range(4):
        world = World(*segments)
        world.clock.current = T0 + timedelta(hours=2)
        shuffled = touchpoints[:]
        random.Random(seed).shuffle(shuffled)
        for start in range(0, len(shuffled), 3):
            world.deliver(shuffled[start : start + 3])
        results.append(
            {
                segment_id: sorted(
                    world.harness.graph.stored_profiles[pid].identifier_values("user_id")[0]
                    for pid in world.members(segment_id)
                )
                for segment_id, _rule in segments
            }
        )
    assert all(result == results[0] for result in results)
    assert results[0] == {"viewed-not-bought": ["u0", "u2", "u4"], "spring": ["u1", "u3"], "big": ["u3"]}


def test_stage_changes_are_events_and_merged_profiles_leave_their_segments() -> None:
    world = World(("buyers", {"field": "orders", "op": "gte", "value": 1}))
    world.clock.current = T0 + timedelta(hours=1)
    world.deliver(
        [touchpoint("o1", ids(email="bo@example.com"), kind=TouchpointType.ORDER, order_id="o1", total="9")]
    )
    (stage,) = world.events(LIFECYCLE_STAGE_CHANGED)
    assert (stage["from"], stage["stage"]) == ("potential", "new")
    world.deliver([touchpoint("a1", ids(anonymous_id="c1"), minutes=-30)])  # older: survives a merge
    world.deliver([touchpoint("l1", [*ids(email="bo@example.com"), *ids(anonymous_id="c1")], minutes=5)])
    (survivor,) = world.harness.live()
    loser = next(p for p in world.harness.graph.stored_profiles.values() if p.merged_into)
    world.refresher().refresh([loser.profile_id, survivor.profile_id])
    assert world.members("buyers") == {survivor.profile_id}
    assert loser.profile_id not in world.store.states


def test_segment_definitions_are_validated_versioned_and_previewed() -> None:
    world = World()
    with pytest.raises(InvalidInputError):
        NewSegment(segment_id="bad", name="Bad", rule={"did": {"within_days": 3}})
    create_segment(
        NewSegment(segment_id="s", name="S", rule={"field": "orders", "op": "gte", "value": 1}),
        store=world.store,
        clock=world.clock,
    )
    with pytest.raises(ConflictError):
        create_segment(
            NewSegment(segment_id="s", name="S", rule={"birthday": "today"}),
            store=world.store,
            clock=world.clock,
        )
    changed = change_segment("s", SegmentChange(name="Buyers"), store=world.store, clock=world.clock)
    assert (changed.name, changed.version) == ("Buyers", 2)
    world.harness.fold(
        [touchpoint("o", ids(user_id="u"), kind=TouchpointType.ORDER, order_id="o", total="1")]
    )
    world.harness.fold([touchpoint("t", ids(user_id="v"))])
    profiles = list(world.harness.graph.stored_profiles.values())
    estimate = preview(
        {"field": "orders", "op": "gte", "value": 1},
        profiles,
        population=2,
        cuts=world.store.cuts,
        rules=ClassificationRules(),
        now=world.clock.now(),
    )
    assert (estimate["matched"], estimate["estimated_members"], estimate["exact"]) == (1, 1, True)
    sampled = preview(
        {"field": "orders", "op": "gte", "value": 1},
        profiles,
        population=20,
        cuts=world.store.cuts,
        rules=ClassificationRules(),
        now=world.clock.now(),
    )
    assert (sampled["estimated_members"], sampled["exact"]) == (10, False)


def test_hashed_export_follows_the_published_normalisation() -> None:
    from hashlib import sha256

    from shared.domain.segments.export import ExportFormat, normalised_email, rows_for

    assert normalised_email(" Foo.Bar@GMAIL.com ", ExportFormat.GOOGLE) == "foobar@gmail.com"
    assert normalised_email(" Foo.Bar@GMAIL.com ", ExportFormat.META) == "foo.bar@gmail.com"
    assert normalised_email("Foo.Bar@example.com", ExportFormat.GOOGLE) == "foo.bar@example.com"
    google = rows_for([" Foo.Bar@GMAIL.com "], ["+8613800138000"], ExportFormat.GOOGLE)
    assert google == [f"{sha256(b'foobar@gmail.com').hexdigest()},{sha256(b'+8613800138000').hexdigest()}"]
    meta = rows_for([], ["+8613800138000"], ExportFormat.META)
    assert meta == [f",{sha256(b'8613800138000').hexdigest()}"]
    # Google's rules (Customer Match, enhanced conversions): dots go only for gmail.com and
    # googlemail.com; the same address on googlemail.com normalises the same way.
    assert normalised_email("F.o.o.bar@googlemail.com", ExportFormat.GOOGLE) == "foobar@googlemail.com"


class CountingReads:
    """Wraps a graph or a store and counts the reads the refresher asks it for."""

    def __init__(self, inner, names: tuple[str, ...]) -> None:
        self.inner, self.reads = inner, {name: [] for name in names}

    def __getattr__(self, name: str):
        attribute = getattr(self.inner, name)
        if name not in self.reads:
            return attribute

        def counted(*args, **kwargs):
            self.reads[name].append(args[0] if args else kwargs)
            return attribute(*args, **kwargs)

        return counted


def test_a_batch_of_profiles_is_evaluated_from_one_read_of_their_profiles_and_one_of_their_states() -> None:
    world = World(("viewed-not-bought", VIEWED_NOT_BOUGHT))
    world.clock.current = T0 + timedelta(minutes=10)
    people = [ids(user_id=name) for name in ("ann", "bo", "cy")]
    world.deliver([viewed(f"v{index}", who, minutes=5) for index, who in enumerate(people)])
    profile_ids = [world.harness.profile_of(who[0]).profile_id for who in people]
    graph = CountingReads(world.harness.graph, ("profiles",))
    store = CountingReads(world.store, ("state", "states_of"))
    refresher = world.refresher()
    refresher.graph, refresher.store = graph, store
    world.clock.advance(timedelta(days=8))  # everyone's window has closed

    refresher.refresh(profile_ids)

    assert graph.reads["profiles"] == [profile_ids]  # one read for all three
    assert store.reads["states_of"] == [profile_ids]
    assert store.reads["state"] == []
    assert world.members("viewed-not-bought") == set()  # and each was evaluated on what was read
    assert len(world.events(SEGMENT_EXITED)) == 3


def test_segments_see_appointments_booked_attended_and_missed() -> None:
    """A booking's changes are touchpoints (appointments' `announcement`): a segment of the
    customers who missed an appointment lately, or came to an eye test, uses them as behaviour."""
    from shared.domain.appointments.bookings import EVENTS

    missed = {"did": {"event": EVENTS["no_show"], "within_days": 30}}
    eye_tests = {"did": {"event": EVENTS["attended"], "sku": "eye-test", "within_days": 365}}
    world = World(("missed", missed), ("eye-tests", eye_tests))
    ann, bo = ids(user_id="ann"), ids(user_id="bo")
    world.clock.current = T0 + timedelta(minutes=10)

    def change(tid: str, who, event: str, service: str) -> Touchpoint:
        tp = touchpoint(tid, who, minutes=5)
        return tp.model_copy(update={"event": event, "properties": {"booking_id": tid, "sku": service}})

    world.deliver(
        [
            change("a1", ann, EVENTS["booked"], "eye-test"),
            change("a2", ann, EVENTS["no_show"], "eye-test"),
            change("b1", bo, EVENTS["attended"], "eye-test"),
        ]
    )
    ann_id = world.harness.profile_of(ann[0]).profile_id
    bo_id = world.harness.profile_of(bo[0]).profile_id
    assert world.members("missed") == {ann_id}
    assert world.members("eye-tests") == {bo_id}
    world.clock.advance(timedelta(days=31))
    world.sweep()
    assert world.members("missed") == set()  # the window passed
