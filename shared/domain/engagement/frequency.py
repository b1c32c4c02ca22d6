"""When a customer may be messaged: their timezone, quiet hours, business hours, and the frequency
caps (不重) with their windows.

Windows are the customer's calendar day or ISO week in their timezone (correct across DST: the
day starts at their local midnight), or rolling hours counted in whole hours (the window is the
current hour and the N-1 before it; an hour's sends all leave the window together).

Caps are counted from the customer's contact history (`ContactHistory`): every message they were
sent lately, whichever program and channel sent it, in one item.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
CHANNELS = ("email", "sms", "push", "wechat", "inbox", "webhook")
Channel = Literal["email", "sms", "push", "wechat", "inbox", "webhook"]


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _known_zone(value: str) -> str:
    if not valid_timezone(value):
        raise ValueError(f"{value!r} is not an IANA timezone")
    return value


IanaTimezone = Annotated[str, AfterValidator(_known_zone)]


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


class LocalTime(BaseModel):
    """The customer's timezone and where it came from (profile trait, or the recorded fallback)."""

    model_config = ConfigDict(frozen=True)

    zone: str
    source: Literal["profile", "fallback"]

    @property
    def info(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.info)

    def at(self, day: date, clock: time) -> datetime:
        """`clock` on `day` here, as UTC. A time the DST jump skips is taken as the first valid
        moment after it (fold 0), an hour that repeats as its first occurrence."""
        naive = datetime.combine(day, clock)
        candidate = naive.replace(tzinfo=self.info)
        if candidate.astimezone(UTC).astimezone(self.info).replace(tzinfo=None) != naive:  # skipped
            candidate = (naive + timedelta(hours=1)).replace(tzinfo=self.info)
        return candidate.astimezone(UTC)


def resolve_timezone(trait: object, fallback: str) -> LocalTime:
    if isinstance(trait, str) and valid_timezone(trait):
        return LocalTime(zone=trait, source="profile")
    return LocalTime(zone=fallback, source="fallback")


class DailyWindow(BaseModel):
    """A daily stretch of local time, `start` to `end`; it may wrap midnight (21:00-08:00)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str = Field(pattern=HHMM)
    end: str = Field(pattern=HHMM)

    @model_validator(mode="after")
    def _not_empty(self) -> DailyWindow:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self

    def contains(self, local: datetime) -> bool:
        now, start, end = local.time().replace(tzinfo=None), _clock(self.start), _clock(self.end)
        return start <= now < end if start < end else now >= start or now < end

    def end_after(self, moment: datetime, where: LocalTime) -> datetime:
        """The first moment at or after `moment` outside this window (its end), as UTC."""
        local = where.local(moment)
        for offset in (0, 1):
            candidate = where.at(local.date() + timedelta(days=offset), _clock(self.end))
            if candidate > moment:
                return candidate
        return where.at(local.date() + timedelta(days=2), _clock(self.end))

    def next_start(self, moment: datetime, where: LocalTime) -> datetime:
        """The first moment at or after `moment` inside the window, as UTC."""
        if self.contains(where.local(moment)):
            return moment
        local = where.local(moment)
        for offset in (0, 1, 2):
            candidate = where.at(local.date() + timedelta(days=offset), _clock(self.start))
            if candidate >= moment:
                return candidate
        return moment


def next_local_time(moment: datetime, clock_text: str, where: LocalTime) -> datetime:
    """The next `HH:MM` in the customer's timezone at or after `moment` (today's if not yet past)."""
    local = where.local(moment)
    for offset in (0, 1, 2):
        candidate = where.at(local.date() + timedelta(days=offset), _clock(clock_text))
        if candidate >= moment:
            return candidate
    return moment


class Cap(BaseModel):
    """At most `count` messages per window. `scope`: one `channel`, or `all` channels together."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: Literal["channel", "all"]
    channel: Channel | None = None
    count: int = Field(ge=1, le=1000)
    window: Literal["day", "week", "rolling"]
    hours: int | None = Field(default=None, ge=1, le=24 * 31)

    @model_validator(mode="after")
    def _consistent(self) -> Cap:
        if (self.scope == "channel") != (self.channel is not None):
            raise ValueError("a channel cap names its channel; an `all` cap names none")
        if (self.window == "rolling") != (self.hours is not None):
            raise ValueError("a rolling window needs `hours` (and only a rolling one)")
        return self

    def applies(self, channel: str) -> bool:
        return self.scope == "all" or self.channel == channel


class CapWindow(BaseModel):
    """The window a send at some moment counts in for a cap: [starts_at, ends_at)."""

    starts_at: datetime
    ends_at: datetime  # when the window frees its slots


def window_of(cap: Cap, moment: datetime, where: LocalTime) -> CapWindow:
    local = where.local(moment)
    if cap.window == "day":
        return CapWindow(
            starts_at=where.at(local.date(), time(0, 0)),
            ends_at=where.at(local.date() + timedelta(days=1), time(0, 0)),
        )
    if cap.window == "week":
        monday = local.date() - timedelta(days=local.weekday())
        return CapWindow(
            starts_at=where.at(monday, time(0, 0)), ends_at=where.at(monday + timedelta(days=7), time(0, 0))
        )
    hour = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    # The current hour and the N-1 before it; the window frees a slot when its oldest hour leaves it.
    return CapWindow(
        starts_at=hour - timedelta(hours=(cap.hours or 1) - 1), ends_at=hour + timedelta(hours=1)
    )


# Counted contacts are kept as long as the longest window (a rolling 31 days); the last message and
# the last holdout assignment as long as attribution looks back.
CONTACTS_KEPT = timedelta(days=32)
LAST_CONTACT_KEPT = timedelta(days=90)


class Contact(BaseModel):
    """One message (or holdout assignment) a customer received, in their contact history."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    program_id: str = Field(alias="p")
    run_key: str = Field(alias="r")
    at: datetime = Field(alias="t")
    channel: str | None = Field(default=None, alias="c")
    variant: str | None = Field(default=None, alias="v")
    holdout: bool = Field(default=False, alias="h")
    counted: bool = Field(default=True, alias="n")  # counts against the caps (not exempt, not a holdout)
    paid: bool = Field(default=False, alias="a")  # an ad platform's exposure (contact plans), not a send

    def same_send(self, program_id: str, run_key: str) -> bool:
        return self.program_id == program_id and self.run_key == run_key


class ContactHistory(BaseModel):
    """What one customer was sent lately, and the channels they unsubscribed from: read together,
    so one read decides suppression, every cap and whether a send was already under way, and one
    conditional write (on `version`) counts a send in every cap at once."""

    profile_id: str
    contacts: list[Contact] = Field(default_factory=list)
    suppressed: frozenset[str] = frozenset()  # channels, or "*"
    version: int = 0  # 0: no history stored yet

    def suppresses(self, channel: str) -> bool:
        return channel in self.suppressed or "*" in self.suppressed

    def find(self, program_id: str, run_key: str) -> Contact | None:
        return next((c for c in self.contacts if c.same_send(program_id, run_key)), None)

    def counted(self, cap: Cap, window: CapWindow, *, program_id: str | None = None) -> int:
        """Sends in the window that this cap counts (a program's own cap: only that program's)."""
        return sum(
            1
            for contact in self.contacts
            if contact.counted
            and window.starts_at <= contact.at < window.ends_at
            and (cap.scope == "all" or contact.channel == cap.channel)
            and (program_id is None or contact.program_id == program_id)
        )

    def with_contact(self, contact: Contact, *, now: datetime) -> ContactHistory:
        """This contact added (replacing one for the same send), the old ones no window needs gone."""
        kept = [c for c in self.contacts if not c.same_send(contact.program_id, contact.run_key)] + [contact]
        last_sent = max((c.at for c in kept if not c.holdout and not c.paid), default=None)
        last_holdout = max((c.at for c in kept if c.holdout), default=None)
        kept = [
            c
            for c in kept
            if c.at >= now - CONTACTS_KEPT
            or (
                c.at >= now - LAST_CONTACT_KEPT
                and not c.paid
                and c.at == (last_holdout if c.holdout else last_sent)
            )
        ]
        return self.model_copy(update={"contacts": kept})

    def without(self, program_id: str, run_key: str) -> ContactHistory:
        return self.model_copy(
            update={"contacts": [c for c in self.contacts if not c.same_send(program_id, run_key)]}
        )

    def last_messages(self) -> list[Contact]:
        """The last message sent and the last holdout assignment (what attribution credits)."""
        found = []
        for holdout in (False, True):
            mine = [c for c in self.contacts if c.holdout == holdout and not c.paid]
            if mine:
                found.append(max(mine, key=lambda c: c.at))
        return found


class FrequencyPolicy(BaseModel):
    """The global policy (one per deployment, `PUT /frequency-policy`)."""

    model_config = ConfigDict(extra="forbid")

    caps: list[Cap] = Field(default_factory=list, max_length=20)
    quiet_hours: DailyWindow | None = DailyWindow(start="21:00", end="08:00")
    default_timezone: IanaTimezone = "Asia/Shanghai"
    # Attribution window per channel (days) and per-message cost (for ROI), configurable.
    attribution_days: dict[str, int] = Field(
        default_factory=lambda: {"email": 5, "sms": 1, "push": 1, "wechat": 3, "inbox": 3, "webhook": 1}
    )
    message_cost: dict[str, str] = Field(
        default_factory=lambda: {
            "email": "0.0001",
            "sms": "0.045",
            "push": "0.000001",
            "wechat": "0.0",
            "inbox": "0.0",
            "webhook": "0.0",
        }
    )

    @field_validator("attribution_days")
    @classmethod
    def _days(cls, value: dict[str, int]) -> dict[str, int]:
        for channel, days in value.items():
            if channel not in CHANNELS or not 0 <= days <= 30:
                raise ValueError("attribution_days: a channel and 0-30 days")
        return value

    @field_validator("message_cost")
    @classmethod
    def _costs(cls, value: dict[str, str]) -> dict[str, str]:
        for channel, cost in value.items():
            if channel not in CHANNELS or not re.fullmatch(r"\d{1,6}(\.\d{1,6})?", cost):
                raise ValueError("message_cost: a channel and a decimal amount")
        return value
