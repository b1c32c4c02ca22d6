"""The overview's windows: the last 24 hours hour by hour, the last 7 UTC days day by day, totals
that add up, and nothing outside the windows counted."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.kernel.activity import HourlyActivity, QueueSnapshot, hour_of, overview

NOW = datetime(2026, 12, 3, 9, 41, tzinfo=UTC)


class MemoryActivityLog:
    def __init__(self) -> None:
        self.by_hour: dict[datetime, HourlyActivity] = {}
        self.snapshot: QueueSnapshot | None = None

    def record(self, activity: HourlyActivity) -> None:
        self.by_hour.setdefault(activity.hour, HourlyActivity(hour=activity.hour)).add(activity)

    def hours(self, start: datetime, end: datetime) -> list[HourlyActivity]:
        return [self.by_hour[h] for h in sorted(self.by_hour) if start <= h < end]

    def save_queue_snapshot(self, snapshot: QueueSnapshot) -> None:
        self.snapshot = snapshot

    def queue_snapshot(self) -> QueueSnapshot | None:
        return self.snapshot


def tally(hours_ago: int, **channels: int) -> HourlyActivity:
    return HourlyActivity(hour=hour_of(NOW) - timedelta(hours=hours_ago), touchpoints=Counter(channels))


def test_the_windows_take_what_falls_inside_them_only():
    log = MemoryActivityLog()
    log.record(tally(0, web=2, pos=1))
    log.record(tally(23, app=4))  # the first hour of the last 24
    log.record(tally(24, app=8))  # yesterday's: in the week, not the day
    log.record(tally(9 + 24 * 6, wechat=16))  # 00:00 UTC six days ago: the week's first day
    log.record(tally(10 + 24 * 6, email=32))  # the day before that: outside both
    log.record(HourlyActivity(hour=hour_of(NOW), profiles_created=3, merges=1))

    shown = overview(log, NOW)

    day, week = shown["last_day"], shown["last_week"]
    assert [point["start"] for point in day["hours"]][-1] == hour_of(NOW).isoformat()
    assert day["hours"][0]["touchpoints"] == {"app": 4}
    assert day["totals"]["touchpoints_by_channel"] == {"app": 4, "pos": 1, "web": 2}
    assert week["days"][0]["start"] == "2026-11-27T00:00:00+00:00" and week["days"][0]["touchpoints"] == {
        "wechat": 16
    }
    assert week["totals"]["touchpoints"] == 2 + 1 + 4 + 8 + 16
    assert (week["totals"]["profiles_created"], week["totals"]["merges"]) == (3, 1)
    assert shown["queues"] is None


@given(st.lists(st.tuples(st.integers(0, 24 * 9), st.integers(1, 50)), max_size=40))
def test_the_totals_are_the_sum_of_their_points(entries):
    log = MemoryActivityLog()
    for hours_ago, count in entries:
        log.record(tally(hours_ago, web=count))
    shown = overview(log, NOW)
    for window, points in (("last_day", "hours"), ("last_week", "days")):
        part = shown[window]
        assert part["totals"]["touchpoints"] == sum(sum(p["touchpoints"].values()) for p in part[points])
    assert shown["last_day"]["totals"]["touchpoints"] == sum(c for h, c in entries if h < 24)
