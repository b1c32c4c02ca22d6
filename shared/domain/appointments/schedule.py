"""Where and when a service can be given: service types, locations with their opening hours,
closures and capacity, and the slots that follow from them, all in the location's own timezone.

Slots are expanded per local date: from each opening window's start, every `duration + buffer`
minutes, while the service still ends inside the window. A local time that a DST change skips is
no slot (nobody is asked to come at 02:30 on a night that has no 02:30); an hour that repeats is
taken once, at its first occurrence. A slot is kept as its UTC start and the location's zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"
ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MAX_RANGE_DAYS = 31
REMINDER_LOOKBACK_DAYS = 8
CLOSING_MARGIN = timedelta(minutes=15)  # a reminder is not sent in the last minutes before closing


def _clock(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    return time.max if hours == 24 else time(hours, minutes)


def _minutes(text: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    return hours * 60 + minutes


class OpeningWindow(BaseModel):
    """Open from `open` to `close` local time, the same day (`24:00`: until midnight)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    open: str = Field(pattern=HHMM)
    close: str = Field(pattern=HHMM)

    @model_validator(mode="after")
    def _ordered(self) -> OpeningWindow:
        if _minutes(self.open) >= _minutes(self.close):
            raise ValueError("open must be before close (a window does not cross midnight)")
        return self


class ServiceType(BaseModel):
    """A service a brand gives at its locations: an installation, an eye test, a fitting, a pickup."""

    model_config = ConfigDict(extra="forbid")

    service_id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=200)
    duration_minutes: int = Field(ge=5, le=12 * 60)
    buffer_minutes: int = Field(default=0, ge=0, le=240)  # after each slot; widens the step
    cutoff_hours: float = Field(default=24, ge=0, le=24 * 14)  # the customer's cancel/reschedule notice
    min_notice_minutes: int = Field(default=60, ge=0, le=24 * 60 * 14)  # the earliest bookable slot
    horizon_days: int = Field(default=90, ge=1, le=400)  # the latest bookable slot
    skus: list[str] = Field(default_factory=list, max_length=1000)  # order lines that need it

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes + self.buffer_minutes)


class Location(BaseModel):
    """A store, clinic or depot: its timezone, weekly hours, closures (holidays included) and how
    many customers each service takes per slot."""

    model_config = ConfigDict(extra="forbid")

    location_id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=200)
    timezone: str
    hours: dict[Weekday, list[OpeningWindow]] = Field(default_factory=dict)
    closures: list[date] = Field(default_factory=list, max_length=1000)  # holidays and closed days
    special_hours: dict[date, list[OpeningWindow]] = Field(default_factory=dict)  # instead of the week's
    capacity: dict[str, int] = Field(default_factory=dict)  # service_id → customers per slot

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"{value!r} is not an IANA timezone") from error
        return value

    @field_validator("capacity")
    @classmethod
    def _capacities(cls, value: dict[str, int]) -> dict[str, int]:
        if any(not 1 <= count <= 1000 for count in value.values()):
            raise ValueError("a capacity is 1 to 1000 customers per slot")
        return value

    @model_validator(mode="after")
    def _no_overlap(self) -> Location:
        for windows in [*self.hours.values(), *self.special_hours.values()]:
            spans = sorted((_minutes(w.open), _minutes(w.close)) for w in windows)
            if any(later[0] < earlier[1] for earlier, later in pairwise(spans)):
                raise ValueError("opening windows of one day overlap")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def at(self, day: date, clock: str) -> datetime | None:
        """`clock` on `day` here, as UTC; None when a DST change skips that local time."""
        if clock == "24:00":
            return self.at(day + timedelta(days=1), "00:00")
        naive = datetime.combine(day, _clock(clock))
        moment = naive.replace(tzinfo=self.zone, fold=0)
        if moment.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None) != naive:
            return None
        return moment.astimezone(UTC)

    def windows_on(self, day: date) -> list[OpeningWindow]:
        if day in self.closures:
            return []
        if day in self.special_hours:
            return list(self.special_hours[day])
        return list(self.hours.get(WEEKDAYS[day.weekday()], []))  # type: ignore[call-overload]

    def open_spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's opening windows as UTC spans (a window whose edge DST skips starts or ends at
        the first valid moment after it)."""
        spans = []
        for window in self.windows_on(day):
            start = self.at(day, window.open) or _after_gap(self, day, window.open)
            end = self.at(day, window.close) or _after_gap(self, day, window.close)
            if start < end:
                spans.append((start, end))
        return spans

    def is_open_between(self, start: datetime, end: datetime) -> bool:
        day = self.local(start).date()
        return any(open_ <= start and end <= close for open_, close in self.open_spans(day))

    def latest_open_at_or_before(self, moment: datetime) -> datetime | None:
        """The latest moment no later than `moment` when the location is open (and not in its last
        minutes): when a reminder due at `moment` is sent so that it arrives in opening hours."""
        day = self.local(moment).date()
        for back in range(REMINDER_LOOKBACK_DAYS):
            for start, end in sorted(self.open_spans(day - timedelta(days=back)), reverse=True):
                latest = end - CLOSING_MARGIN
                if latest <= start:
                    latest = start
                if start <= moment:
                    return min(moment, latest)
        return None


def _after_gap(location: Location, day: date, clock: str) -> datetime:
    naive = datetime.combine(day, _clock(clock)) + timedelta(hours=1)
    return naive.replace(tzinfo=location.zone).astimezone(UTC)


class Slot(BaseModel):
    model_config = ConfigDict(frozen=True)

    starts_at: datetime
    ends_at: datetime
    local_day: date
    local_time: str  # HH:MM at the location: the slot's key there

    def local_label(self, location: Location) -> str:
        return location.local(self.starts_at).strftime("%Y-%m-%d %H:%M")


def slots_on(service: ServiceType, location: Location, day: date) -> Iterator[Slot]:
    """Every slot of `service` at `location` on the local date `day`, ignoring bookings and now."""
    duration = timedelta(minutes=service.duration_minutes)
    for window in location.windows_on(day):
        close = _minutes(window.close)
        start = _minutes(window.open)
        while start + service.duration_minutes <= close:
            clock = f"{start // 60:02d}:{start % 60:02d}"
            moment = location.at(day, clock)
            if moment is not None:
                end = moment + duration
                if location.is_open_between(moment, end):  # not across a DST jump out of hours
                    yield Slot(starts_at=moment, ends_at=end, local_day=day, local_time=clock)
            start += service.duration_minutes + service.buffer_minutes


def bookable_window(service: ServiceType, now: datetime) -> tuple[datetime, datetime]:
    return now + timedelta(minutes=service.min_notice_minutes), now + timedelta(days=service.horizon_days)


def slots_between(
    service: ServiceType, location: Location, first: date, last: date, *, now: datetime
) -> list[Slot]:
    """The bookable slots from local date `first` to `last` (at most 31 days): inside opening
    hours, not on closures, not before the service's minimum notice nor beyond its horizon."""
    if last < first:
        raise ValueError("the range ends before it starts")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise ValueError(f"a range is at most {MAX_RANGE_DAYS} days")
    earliest, latest = bookable_window(service, now)
    found: list[Slot] = []
    day = first
    while day <= last:
        found += [s for s in slots_on(service, location, day) if earliest <= s.starts_at <= latest]
        day += timedelta(days=1)
    return found


def slot_at(service: ServiceType, location: Location, starts_at: datetime) -> Slot | None:
    """The slot starting at `starts_at` (any timezone), if the schedule has one: the server's own
    check of a slot the client names."""
    day = location.local(starts_at).date()
    return next((s for s in slots_on(service, location, day) if s.starts_at == starts_at), None)
