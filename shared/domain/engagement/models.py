"""What sends and what it records: programs (a campaign, or a journey's send step), schedules,
campaigns, runs, the dispatch ledger row and the dispatch task."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.engagement.frequency import (
    HHMM,
    Cap,
    Channel,
    DailyWindow,
)
from shared.domain.engagement.messaging import Variant
from shared.domain.kernel.errors import DependencyUnavailableError

ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"


LEASE = timedelta(seconds=60)


LEDGER_SHARDS = 16  # a big run's rows spread over 16 partition keys


FINAL = {"sent", "delivered", "bounced", "complained", "suppressed", "failed"}
# Sent, and what the provider said after: the message reached the customer, or came back.
TREATED = {"sent", "delivered", "bounced", "complained"}


def stable_bucket(*parts: str, buckets: int = 10_000) -> int:
    return int(hashlib.sha256(":".join(parts).encode()).hexdigest()[:12], 16) % buckets


def ledger_shard(profile_id: str) -> int:
    return stable_bucket("ledger", profile_id, buckets=LEDGER_SHARDS)


class DispatchBusyError(DependencyUnavailableError):
    code = "dispatch_busy"


class Program(BaseModel):
    """What a send needs to know about the campaign (or journey step) it belongs to."""

    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] = Field(min_length=1, max_length=6)
    variants: list[Variant] = Field(min_length=1, max_length=20)
    priority: int = Field(default=50, ge=0, le=100)
    deferrable: bool = True
    exempt: bool = False  # transactional: no caps, no quiet hours, transactional consent
    holdout_percent: Decimal = Field(default=Decimal(0), ge=0, le=50)
    caps: list[Cap] = Field(default_factory=list, max_length=5)  # per-program caps
    send_at_local: str | None = Field(default=None, pattern=HHMM)  # the customer's best hour
    send_by_hours: int = Field(default=48, ge=1, le=24 * 14)
    store_hours: DailyWindow | None = None
    coupon_definition_id: str | None = Field(default=None, max_length=63)
    sku: str | None = Field(default=None, max_length=100)  # the product whose price the content shows
    # sends only while the person is under this contact plan's maximum on the channel (plans.py)
    contact_plan_id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")

    @model_validator(mode="after")
    def _variants_cover_channels(self) -> Program:
        for variant in self.variants:
            missing = set(self.channels) - set(variant.content)
            if missing:
                raise ValueError(f"variant {variant.variant_id!r} has no content for {sorted(missing)}")
        return self


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["now", "at", "daily", "weekly"] = "now"
    at: datetime | None = None  # `at`; the first occurrence of a recurring one
    until: datetime | None = None

    @model_validator(mode="after")
    def _times(self) -> Schedule:
        if self.kind != "now" and self.at is None:
            raise ValueError("at: when to send (with an offset)")
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at needs a timezone offset")
        return self

    def due(self, launched_at: datetime, after: datetime | None, now: datetime) -> datetime | None:
        """The latest occurrence in (after, now], if any."""
        first = launched_at if self.kind == "now" else self.at
        assert first is not None
        if first > now or (self.until is not None and now > self.until and (after or first) >= self.until):
            return None
        if self.kind in ("now", "at"):
            return first if after is None or first > after else None
        step = timedelta(days=1 if self.kind == "daily" else 7)
        occurrences = math.floor((now - first) / step)
        latest = first + occurrences * step
        if self.until is not None and latest > self.until:
            return None
        return latest if after is None or latest > after else None

    def finished(self, last_run_at: datetime | None) -> bool:
        """No occurrence is left after the last run: a single send has run, a recurring one has
        passed its `until`."""
        if self.kind in ("now", "at"):
            return last_run_at is not None
        if self.until is None or self.at is None:
            return False
        step = timedelta(days=1 if self.kind == "daily" else 7)
        following = last_run_at + step if last_run_at is not None else self.at
        return following > self.until


class CampaignChange(Program):
    name: str = Field(min_length=1, max_length=200)
    segment_id: str = Field(pattern=ID)
    schedule: Schedule = Field(default_factory=Schedule)


class Campaign(CampaignChange):
    campaign_id: str
    status: Literal["draft", "active", "paused", "cancelled", "completed"] = "draft"
    launched_at: datetime | None = None
    last_run_at: datetime | None = None
    version: int = 0

    def program(self) -> Program:
        return Program.model_validate(self.model_dump(include=set(Program.model_fields)))


class PendingPage(BaseModel):
    """A page of the audience claimed for sending: where it starts and ends, and how many."""

    after: str | None = None
    cursor: str | None = None
    count: int = 0
    claimed_at: datetime | None = None


class Run(BaseModel):
    run_id: str  # <campaign_id>@<occurrence>
    program_id: str
    planned_at: datetime
    # complete: every targeted customer's row has its outcome (checked, not counted per send)
    status: Literal["paging", "dispatching", "complete"] = "paging"
    cursor: str | None = None
    targeted: int = 0
    pending: PendingPage | None = None  # claimed before it is sent, cleared after
    checked_at: datetime | None = None  # the last look at whether the run is complete
    version: int = 1


class LedgerRow(BaseModel):
    program_id: str
    run_key: str
    profile_id: str
    status: Literal[
        "processing",
        "sent",
        "delivered",
        "bounced",
        "complained",
        "suppressed",
        "deferred",
        "failed",
        "parked",
    ]
    reason: str | None = None
    channel: str | None = None
    variant: str | None = None
    planned_at: datetime
    at: datetime  # when the row last changed
    sent_at: datetime | None = None
    deferred_until: datetime | None = None
    provider_id: str | None = None
    timezone: str | None = None
    timezone_source: str | None = None
    holdout: bool = False
    lease_until: datetime | None = None
    values: dict[str, str] = Field(default_factory=dict)  # the task's own template values
    version: int = 1

    @property
    def key(self) -> str:
        return f"{self.program_id}|{self.run_key}|{self.profile_id}"


class DispatchTask(BaseModel):
    program_id: str
    run_key: str
    profile_id: str
    planned_at: datetime
    # Values only this send knows (an appointment's time for its reminder), for the templates.
    values: dict[str, str] = Field(default_factory=dict)
