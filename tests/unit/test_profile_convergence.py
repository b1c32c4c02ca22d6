"""Any interleaving, batching and duplication of identify/alias/track/order touchpoints for a set
of people — with crashes between the profile write and the archive — yields the same profiles as
processing each touchpoint once, in timestamp order."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from shared.domain.ingest.touchpoints import Channel, ConsentSignal, ConsentStatus, Touchpoint, TouchpointType
from shared.domain.kernel.identifiers import Identifier
from tests.unit.customers_support import Harness, canonical, ids, touchpoint

PEOPLE = ("ann", "bob", "cy")


@st.composite
def person_touchpoints(draw: st.DrawFn, person: str, start: int) -> list[Touchpoint]:
    user = ids(user_id=f"user-{person}")
    emails = [ids(email=f"{person}{n}@example.com")[0] for n in range(draw(st.integers(1, 2)))]
    anons = [ids(anonymous_id=f"anon-{person}-{n}")[0] for n in range(draw(st.integers(1, 3)))]
    kinds = st.sampled_from(["identify", "alias", "track", "order", "anon_track"])
    made: list[Touchpoint] = []
    for n in range(draw(st.integers(2, 7))):
        tid = f"{person}-{start + n}"
        minutes = draw(st.integers(0, 600))
        channel = draw(st.sampled_from([Channel.WEB, Channel.APP, Channel.POS]))
        kind = draw(kinds)
        anon = draw(st.sampled_from(anons))
        if kind == "identify":
            email = draw(st.sampled_from(emails))
            consent = draw(
                st.sampled_from(
                    [
                        [],
                        [ConsentSignal(channel=Channel.EMAIL, status=ConsentStatus.GRANTED, reason="form")],
                        [ConsentSignal(channel=Channel.EMAIL, status=ConsentStatus.REVOKED, reason="link")],
                    ]
                )
            )
            made.append(
                touchpoint(
                    tid,
                    [*user, email, anon],
                    kind=TouchpointType.IDENTIFY,
                    minutes=minutes,
                    channel=channel,
                    traits={"plan": draw(st.sampled_from(["free", "gold", "vip"])), "city": person},
                    consent=consent,
                )
            )
        elif kind == "alias":
            made.append(touchpoint(tid, [*user, anon], kind=TouchpointType.ALIAS, minutes=minutes))
        elif kind == "track":
            made.append(touchpoint(tid, [*user], minutes=minutes, channel=channel))
        elif kind == "anon_track":
            made.append(touchpoint(tid, [anon], minutes=minutes, channel=channel))
        else:
            made.append(
                touchpoint(
                    tid,
                    [*user, anon],
                    kind=TouchpointType.ORDER,
                    order_id=f"order-{tid}",
                    total=str(draw(st.integers(1, 500))),
                    minutes=minutes,
                    channel=channel,
                )
            )
    return made


class FlakyArchive:
    """Wraps the archive: `crash_next` makes the next `add` fail like a function dying after the
    profile write and before the archive (the batch is then redelivered)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.crash_next = False

    def existing(self, ids: Any, *, now: Any) -> set[str]:
        return self.inner.existing(ids, now=now)

    def add(self, touchpoint: Touchpoint, **kwargs: Any) -> bool:
        if self.crash_next:
            self.crash_next = False
            raise RuntimeError("function died before archiving")
        return self.inner.add(touchpoint, **kwargs)


class ProfileConvergence(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.harness = Harness()
        self.flaky = FlakyArchive(self.harness.archive)
        self.harness.archive = self.flaky  # type: ignore[assignment]
        self.pool: list[Touchpoint] = []

    @initialize(data=st.data())
    def people(self, data: st.DataObject) -> None:
        for n, person in enumerate(PEOPLE):
            self.pool += data.draw(person_touchpoints(person, n * 100), label=person)

    @rule(data=st.data())
    def deliver_a_batch(self, data: st.DataObject) -> None:
        batch = data.draw(st.lists(st.sampled_from(self.pool), min_size=1, max_size=8), label="batch")
        self.harness.fold(batch)

    @rule(data=st.data())
    def crash_before_archiving(self, data: st.DataObject) -> None:
        batch = data.draw(st.lists(st.sampled_from(self.pool), min_size=1, max_size=4), label="crashed")
        self.flaky.crash_next = True
        with contextlib.suppress(RuntimeError):  # the batch is redelivered by a later rule or teardown
            self.harness.fold(batch)
        self.flaky.crash_next = False

    @precondition(lambda self: bool(self.pool))
    @invariant()
    def no_profile_shares_an_identifier(self) -> None:
        seen: set[Identifier] = set()
        for profile in self.harness.live():
            assert not seen & set(profile.identifiers)
            seen |= set(profile.identifiers)

    def teardown(self) -> None:
        if not self.pool:
            return
        self.harness.fold(self.pool)  # whatever was not delivered yet arrives at last
        reference = Harness()
        for tp in sorted(self.pool, key=lambda tp: (tp.occurred_at, tp.touchpoint_id)):
            reference.fold([tp])
        assert canonical(self.harness.live()) == canonical(reference.live())


ProfileConvergence.TestCase.settings = settings(
    max_examples=150, stateful_step_count=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestProfileConvergence = ProfileConvergence.TestCase
