"""Moving the local stack's clock: stops at each due item and each daily schedule time, in order;
the daily schedules fire at each of their times, the frequent ones once per stop; the queues are
drained at every stop before the next."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.lambda_runtime import LocalFunction, ScheduleFirer, VirtualClock
from infra.local_stack import parse_duration
from infra.template import FunctionSpec, ScheduleTrigger
from infra.time_travel import DueSource, TimeTravel

START = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)


class FixedClock(VirtualClock):
    """The stack's clock, with a wall clock that stands still (the test moves only by advancing)."""

    def __init__(self) -> None:
        super().__init__(1.0, start=START)
        self._wall = START

    def now(self) -> datetime:
        return self._wall + self.offset

    def stack_now(self) -> datetime:
        return self._wall + self.offset


class DueAt:
    """A due index holding items at fixed times; an item is gone once the clock has passed it."""

    def __init__(self, clock: VirtualClock, *moments: datetime) -> None:
        self.clock, self.moments = clock, sorted(moments)

    def next_due(self, prefix: str, after: datetime, until: datetime) -> datetime | None:
        return next((m for m in self.moments if after < m <= until), None)


def firer(
    name: str,
    expression: str,
    clock: VirtualClock,
    calls: list[tuple[str, datetime]],
    *,
    sweeps: DueAt | None = None,
) -> ScheduleFirer:
    """A schedule that records when it fired (and, given `sweeps`, clears what is due there)."""

    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append((name, clock.stack_now()))
        if sweeps is not None:
            sweeps.moments = [m for m in sweeps.moments if m > clock.stack_now()]

    spec = FunctionSpec(logical_id=name, handler="x.y", timeout=30, memory=128, environment={})
    return ScheduleFirer(
        LocalFunction(spec, "us-east-1", _handler=handler),
        ScheduleTrigger(name="T", expression=expression, input=None, enabled=True),
        clock=clock,
        stop=threading.Event(),
        report=lambda record: None,
    )


def test_the_walk_stops_at_each_due_item_and_daily_time_in_order_and_drains_each_stop():
    clock = FixedClock()
    calls: list[tuple[str, datetime]] = []
    timer = START + timedelta(days=1, hours=9, minutes=29)  # 2 December 09:59
    index = DueAt(clock, timer)
    drains: list[datetime] = []

    def backlog() -> dict[str, int]:
        drains.append(clock.stack_now())
        return {}

    travel = TimeTravel(
        clock=clock,
        firers=[
            firer("Nightly", "cron(0 18 * * ? *)", clock, calls),
            firer("Sweep", "rate(1 minute)", clock, calls, sweeps=index),
        ],
        due=[DueSource(lambda: index, "JTIMER")],
        backlog=backlog,
        report=lambda record: None,
    )
    outcome = travel.advance(timedelta(days=2))

    nightly = [at for name, at in calls if name == "Nightly"]
    sweeps = [at for name, at in calls if name == "Sweep"]
    assert nightly == [datetime(2026, 12, 1, 18, tzinfo=UTC), datetime(2026, 12, 2, 18, tzinfo=UTC)]
    assert sweeps == sorted({*nightly, timer, START + timedelta(days=2)})  # once per stop, in order
    assert outcome["stops"] == 4 and outcome["still_queued"] == {}
    assert drains[1:] == sweeps  # after the drain before leaving, one at each stop
    assert clock.stack_now() == START + timedelta(days=2)


def test_an_item_left_after_its_minutes_stop_gets_one_more_stop_at_the_minutes_end():
    """A reservation expiring at 09:00:27 is kept under 09:00; the sweep at 09:00:00 leaves it, so
    the walk stops again at 09:00:59. An item no sweep ever clears asks for nothing more."""
    clock = FixedClock()
    calls: list[tuple[str, datetime]] = []
    expiry = START + timedelta(hours=8, minutes=30)  # 09:00, never cleared by this test's sweep
    stale = START - timedelta(hours=1)  # long past, never cleared either
    index = DueAt(clock, stale, expiry)
    travel = TimeTravel(
        clock=clock,
        firers=[firer("Sweep", "rate(1 minute)", clock, calls)],
        due=[DueSource(lambda: index, "DUE")],
        backlog=dict,
        report=lambda record: None,
    )
    outcome = travel.advance(timedelta(hours=10))
    assert [at for _, at in calls] == [expiry, expiry + timedelta(seconds=59), START + timedelta(hours=10)]
    assert outcome["stops"] == 3


def test_the_clock_only_moves_forward_within_bounds():
    clock = FixedClock()
    travel = TimeTravel(clock=clock, firers=[], due=[], backlog=dict, report=lambda record: None)
    for wrong in (timedelta(0), timedelta(seconds=-5), timedelta(days=401)):
        with pytest.raises(ValueError, match="advance by"):
            travel.advance(wrong)
    assert clock.stack_now() == START


def test_a_sleeping_schedule_rereads_its_next_time_after_the_clock_moves():
    clock = FixedClock()
    calls: list[tuple[str, datetime]] = []
    daily = firer("Nightly", "cron(0 18 * * ? *)", clock, calls)
    stop = threading.Event()
    daily._stopping = stop
    daily.start()
    TimeTravel(clock=clock, firers=[daily], due=[], backlog=dict, report=lambda record: None).advance(
        timedelta(hours=20)
    )
    stop.set()
    clock.wake()
    daily.join(timeout=5)
    assert not daily.is_alive()
    assert calls == [("Nightly", datetime(2026, 12, 1, 18, tzinfo=UTC))]  # fired by the move, once


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("36h", 129_600), ("20d", 1_728_000), (" 1.5h ", 5400)],
)
def test_durations_read_as_people_write_them(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "-1d", "3w", None, [1]])
def test_other_durations_are_refused(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
