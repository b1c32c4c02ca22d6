"""Activity figures for the console's overview: touchpoints per channel, profiles created and
merges, per hour; and the queue monitor's latest reading. In the kernel: the touchpoint consumer
counts, the queue monitor reads the queues, the API shows both.

The touchpoint consumer adds one hour's tally per batch it folds (one counter write per batch,
not per touchpoint). The figures are activity, not an audit: a batch whose counter write fails is
logged and not counted, and a redelivered batch whose touchpoints were already stored counts
nothing again (they are duplicates by then)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

DAY_HOURS = 24
WEEK_DAYS = 7


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass
class HourlyActivity:
    hour: datetime  # the start of the hour, UTC
    touchpoints: Counter[str] = field(default_factory=Counter)  # channel → touchpoints stored
    profiles_created: int = 0
    merges: int = 0

    @property
    def empty(self) -> bool:
        return not sum(self.touchpoints.values()) and not self.profiles_created and not self.merges

    def add(self, other: HourlyActivity) -> None:
        self.touchpoints.update(other.touchpoints)
        self.profiles_created += other.profiles_created
        self.merges += other.merges


@dataclass(frozen=True)
class QueueSnapshot:
    observed_at: datetime
    queues: list[dict[str, Any]]  # name, visible, in_flight, dead_letter, needs_attention


class ActivityLog(Protocol):
    def record(self, activity: HourlyActivity) -> None: ...

    def hours(self, start: datetime, end: datetime) -> list[HourlyActivity]:
        """Every recorded hour in [start, end), summed over the log's shards."""
        ...

    def save_queue_snapshot(self, snapshot: QueueSnapshot) -> None: ...

    def queue_snapshot(self) -> QueueSnapshot | None: ...


def _series(buckets: list[HourlyActivity], starts: list[datetime], width: timedelta) -> list[dict[str, Any]]:
    points = []
    for start in starts:
        total = HourlyActivity(hour=start)
        for bucket in buckets:
            if start <= bucket.hour < start + width:
                total.add(bucket)
        points.append(
            {
                "start": start.isoformat(),
                "touchpoints": dict(sorted(total.touchpoints.items())),
                "profiles_created": total.profiles_created,
                "merges": total.merges,
            }
        )
    return points


def _totals(points: list[dict[str, Any]]) -> dict[str, Any]:
    channels: Counter[str] = Counter()
    for point in points:
        channels.update(point["touchpoints"])
    return {
        "touchpoints": sum(channels.values()),
        "touchpoints_by_channel": dict(sorted(channels.items())),
        "profiles_created": sum(point["profiles_created"] for point in points),
        "merges": sum(point["merges"] for point in points),
    }


def overview(log: ActivityLog, now: datetime) -> dict[str, Any]:
    """The last 24 hours hour by hour (the current hour last) and the last 7 days day by day (UTC
    days, today last), each with touchpoints per channel, profiles created and merges; their
    totals; and the queue monitor's latest reading."""
    this_hour = hour_of(now)
    today = this_hour.replace(hour=0)
    week_start = today - timedelta(days=WEEK_DAYS - 1)
    buckets = log.hours(
        min(week_start, this_hour - timedelta(hours=DAY_HOURS - 1)), this_hour + timedelta(hours=1)
    )
    hourly = _series(
        buckets,
        [this_hour - timedelta(hours=back) for back in range(DAY_HOURS - 1, -1, -1)],
        timedelta(hours=1),
    )
    daily = _series(buckets, [week_start + timedelta(days=n) for n in range(WEEK_DAYS)], timedelta(days=1))
    snapshot = log.queue_snapshot()
    return {
        "generated_at": now.isoformat(),
        "last_day": {"hours": hourly, "totals": _totals(hourly)},
        "last_week": {"days": daily, "totals": _totals(daily)},
        "queues": (
            {"observed_at": snapshot.observed_at.isoformat(), "queues": snapshot.queues} if snapshot else None
        ),
    }
