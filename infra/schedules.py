"""EventBridge schedule expressions: `rate(...)` and `cron(...)`, evaluated the way AWS does
(six cron fields: minutes hours day-of-month month day-of-week year; day-of-week 1-7 = SUN-SAT;
one of the two day fields must be `?`). `W` and `#` are refused with a clear error."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_MONTHS = {
    name: index
    for index, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_DAYS = {name: index for index, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
_SEARCH_YEARS = 5


class Schedule(Protocol):
    def next_after(self, moment: datetime) -> datetime: ...


@dataclass(frozen=True)
class Rate:
    period: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.period


def _value(text: str, names: dict[str, int]) -> int:
    return names[text.upper()] if text.upper() in names else int(text)


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    names = names or {}
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(base, names)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None: the field is `?`
    last_day_of_month: bool
    months: frozenset[int]
    days_of_week: frozenset[int] | None
    years: frozenset[int]
    timezone: ZoneInfo

    def _day_matches(self, moment: datetime) -> bool:
        if self.days_of_month is None:
            assert self.days_of_week is not None
            return (moment.isoweekday() % 7) + 1 in self.days_of_week
        if self.last_day_of_month:
            return (moment + timedelta(days=1)).month != moment.month
        return moment.day in self.days_of_month

    def next_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.timezone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = local.year + _SEARCH_YEARS
        while local.year <= limit:
            if local.year not in self.years:
                local = local.replace(year=local.year + 1, month=1, day=1, hour=0, minute=0)
            elif local.month not in self.months:
                year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
                local = local.replace(year=year, month=month, day=1, hour=0, minute=0)
            elif not self._day_matches(local):
                local = (local + timedelta(days=1)).replace(hour=0, minute=0)
            elif local.hour not in self.hours:
                local = (local + timedelta(hours=1)).replace(minute=0)
            elif local.minute not in self.minutes:
                local += timedelta(minutes=1)
            else:
                return local.astimezone(UTC)
        raise ValueError(f"No time matches this cron expression within {_SEARCH_YEARS} years")


def parse_schedule(expression: str, timezone: str = "UTC") -> Schedule:
    rate = _RATE.match(expression.strip())
    if rate:
        count, unit = int(rate.group(1)), rate.group(2)
        if count < 1 or (count == 1) != (not unit.endswith("s")):
            raise ValueError(f"{expression!r}: use 'rate(1 minute)' or 'rate(N minutes)' with N > 1")
        return Rate(_UNIT[unit.rstrip("s")] * count)
    cron = _CRON.match(expression.strip())
    if not cron:
        raise ValueError(f"{expression!r} is neither rate(...) nor cron(...)")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ValueError(f"{expression!r}: cron needs 6 fields, got {len(fields)}")
    minutes, hours, day_of_month, month, day_of_week, year = fields
    if any(mark in field for field in fields for mark in ("W", "#")) or day_of_week.endswith("L"):
        raise ValueError(f"{expression!r}: W, # and weekday L are not supported by the local stack")
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ValueError(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")
    return Cron(
        minutes=_field(minutes, 0, 59),
        hours=_field(hours, 0, 23),
        days_of_month=None if day_of_month == "?" else _field(day_of_month.replace("L", "*"), 1, 31),
        last_day_of_month=day_of_month == "L",
        months=_field(month, 1, 12, _MONTHS),
        days_of_week=None if day_of_week == "?" else _field(day_of_week, 1, 7, _DAYS),
        years=_field(year, 1970, 2199),
        timezone=ZoneInfo(timezone),
    )
