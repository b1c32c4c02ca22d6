"""One contact plan across owned and paid channels (不重不漏: no duplicates, no omissions).

A plan names a segment, a period (the calendar day, ISO week or month in the plan's timezone)
and, per channel, a `target` (fewer is an omission) and a `maximum` (more is a duplicate) of
exposures per person in the period:

- **Owned** channels (email, SMS, push, WeChat, inbox, webhook) count the messages sent, from the
  customer's contact history; a campaign or journey that names the plan (`contact_plan_id`)
  sends on a channel only while the person is under its maximum there.
- **Paid** channels (search, video, social, display) count the exposures the ad platforms report
  back (`record_exposures`: hashed identifiers matched to people), kept in the same history.
  Each paid channel's audience sync holds exactly the segment's members under their target for
  the period, refreshed on a schedule: who reached it is dropped, who has not is kept. A channel
  that takes product feeds (`products`) gets each person's next-best products on their rows.
- **The report** per period: per channel, the people under target, at target and over the
  maximum (they add up to the members), and how many people had each cross-channel total.

Matching: a sync's rows are SHA-256 hashes of normalised emails and phones (as the ad platforms
take them); each hash synced is remembered with its person, so the exposures the platform
reports for it land on that person. A hash never synced is unmatched.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.domain.customers.admin import ProfileNotFoundError, live_profile
from shared.domain.customers.ports import CustomerGraph
from shared.domain.customers.profiles import Profile
from shared.domain.engagement.frequency import Contact, ContactHistory, IanaTimezone, LocalTime
from shared.domain.engagement.personalisation import RecommendedProducts
from shared.domain.kernel.errors import ConcurrentUpdateError, InvalidInputError, NotFoundError
from shared.domain.kernel.identifiers import IdentifierType
from shared.domain.segments.export import HEADER, ExportFiles, ExportFormat, rows_for
from shared.domain.segments.live import SegmentStore, find_segment

PLAN_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"
OWNED_CHANNELS = ("email", "sms", "push", "wechat", "inbox", "webhook")
PAID_CHANNELS = ("search", "video", "social", "display")
PlanChannelName = Literal[
    "email", "sms", "push", "wechat", "inbox", "webhook", "search", "video", "social", "display"
]
PAID_PROGRAM = "paid"  # the program id of a paid exposure in the contact history
MAX_EXPOSURE_ROWS = 500
EXPOSURES_KEPT_PER_CHANNEL = 100  # per person and paid channel, in the history's 32 days
HEX64 = re.compile(r"^[0-9a-f]{64}$")
PAGE = 500
PRODUCTS_PER_ROW = 5
PRODUCTS_COLUMN = {ExportFormat.GOOGLE: ",Products", ExportFormat.META: ",products"}


class PlanNotFoundError(NotFoundError):
    code = "plan_not_found"


class PlanChannel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: PlanChannelName
    target: int = Field(ge=0, le=100)
    maximum: int = Field(ge=1, le=100)
    # paid channels: the platform the audience sync is formatted for (its normalisation), and
    # whether each row carries the person's next-best products (for dynamic product ads)
    format: ExportFormat = ExportFormat.GOOGLE
    products: bool = False

    @model_validator(mode="after")
    def _maximum_at_least_target(self) -> PlanChannel:
        if self.maximum < self.target:
            raise ValueError(f"{self.channel}: maximum ({self.maximum}) is below target ({self.target})")
        return self

    @model_validator(mode="after")
    def _products_on_paid_channels(self) -> PlanChannel:
        if self.products and not self.paid:
            raise ValueError(f"{self.channel}: products go with a paid channel's audience sync")
        return self

    @property
    def paid(self) -> bool:
        return self.channel in PAID_CHANNELS


class ContactPlanChange(BaseModel):
    """`PUT /contact-plans/{plan_id}`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    segment_id: str = Field(min_length=1, max_length=100)
    period: Literal["day", "week", "month"] = "week"
    timezone: IanaTimezone = "Asia/Shanghai"
    channels: list[PlanChannel] = Field(min_length=1, max_length=10)
    enabled: bool = True

    @field_validator("channels")
    @classmethod
    def _once_each(cls, value: list[PlanChannel]) -> list[PlanChannel]:
        names = [c.channel for c in value]
        if len(set(names)) != len(names):
            raise ValueError("each channel once")
        return value


class ContactPlan(ContactPlanChange):
    plan_id: str = Field(pattern=PLAN_ID)
    created_at: datetime
    updated_at: datetime

    def channel(self, name: str) -> PlanChannel | None:
        return next((c for c in self.channels if c.channel == name), None)


class Period(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str  # 2026-12-03, 2026-W49, 2026-12
    starts_at: datetime
    ends_at: datetime


def period_of(plan: ContactPlanChange, moment: datetime) -> Period:
    where = LocalTime(zone=plan.timezone, source="profile")
    local = where.local(moment).date()
    if plan.period == "day":
        first, after, key = local, local + timedelta(days=1), local.isoformat()
    elif plan.period == "week":
        first = local - timedelta(days=local.weekday())
        after = first + timedelta(days=7)
        year, week, _ = local.isocalendar()
        key = f"{year}-W{week:02d}"
    else:
        first = local.replace(day=1)
        after = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        key = f"{first.year}-{first.month:02d}"
    return Period(key=key, starts_at=where.at(first, time(0, 0)), ends_at=where.at(after, time(0, 0)))


def parse_period(plan: ContactPlanChange, key: str) -> Period:
    """A period by its key (`2026-W49`), for a report asked for by name."""
    try:
        if plan.period == "day":
            moment = datetime.combine(date.fromisoformat(key), time(12, 0))
        elif plan.period == "week":
            year, week = key.split("-W")
            moment = datetime.combine(date.fromisocalendar(int(year), int(week), 3), time(12, 0))
        else:
            year, month = key.split("-")
            moment = datetime.combine(date(int(year), int(month), 15), time(12, 0))
    except ValueError as error:
        raise InvalidInputError(
            f"period: a {plan.period} like "
            + {"day": "2026-12-03", "week": "2026-W49", "month": "2026-12"}[plan.period],
            details={"period": key[:40]},
        ) from error
    found = period_of(plan, moment.replace(tzinfo=LocalTime(zone=plan.timezone, source="profile").info))
    if found.key != key:
        raise InvalidInputError("period: not a period of this plan", details={"period": key[:40]})
    return found


def exposures_in(history: ContactHistory | None, channel: str, period: Period) -> int:
    """What counts towards the plan on `channel`: sent messages (not holdout assignments, not
    exempt transactional ones) and paid exposures, in the period."""
    if history is None:
        return 0
    return sum(
        1
        for contact in history.contacts
        if contact.channel == channel
        and not contact.holdout
        and (contact.counted or contact.paid)
        and period.starts_at <= contact.at < period.ends_at
    )


def plan_refusal(
    plan: ContactPlan | None, history: ContactHistory, channel: str, now: datetime
) -> datetime | None:
    """When an owned send on `channel` would pass the plan's maximum: the period's end."""
    if plan is None or not plan.enabled:
        return None
    rule = plan.channel(channel)
    if rule is None:
        return None
    period = period_of(plan, now)
    return period.ends_at if exposures_in(history, channel, period) >= rule.maximum else None


# ---------------------------------------------------------------------------- the report
class ChannelTally(BaseModel):
    channel: str
    paid: bool
    target: int
    maximum: int
    under: int = 0  # omissions: below target
    at_target: int = 0  # target to maximum
    over: int = 0  # duplicates: above the maximum
    exposures: int = 0
    synced: int | None = None  # paid: the people in this period's sync (= under)
    file_key: str | None = None


class PlanReport(BaseModel):
    plan_id: str
    segment_id: str
    period: Period
    generated_at: datetime
    status: Literal["running", "done"] = "running"
    members_total: int = 0
    members: int = 0
    channels: list[ChannelTally] = Field(default_factory=list)
    totals: dict[str, int] = Field(default_factory=dict)  # cross-channel exposures → people
    complete: int = 0  # people at or above target on every channel

    def view(self, url: Any = None) -> dict[str, Any]:
        body = self.model_dump(mode="json")
        progress = (
            1.0
            if self.status == "done"
            else (round(min(self.members / self.members_total, 0.99), 3) if self.members_total else 0.0)
        )
        body["progress"] = progress
        body["table"] = list(iter_rows(self))
        if url is not None:
            for tally in body["channels"]:
                tally["download_url"] = url(tally["file_key"]) if tally.get("file_key") else None
        return body


@dataclass
class ReportBuilder:
    plan: ContactPlan
    period: Period
    tallies: dict[str, ChannelTally] = field(default_factory=dict)
    totals: Counter[int] = field(default_factory=Counter)
    members: int = 0
    complete: int = 0

    def __post_init__(self) -> None:
        self.tallies = {
            c.channel: ChannelTally(
                channel=c.channel,
                paid=c.paid,
                target=c.target,
                maximum=c.maximum,
                synced=0 if c.paid else None,
            )
            for c in self.plan.channels
        }

    def add(self, history: ContactHistory | None) -> list[str]:
        """Count one member; answers the paid channels where they are under target (to sync)."""
        self.members += 1
        total = 0
        under_paid: list[str] = []
        everywhere = True
        for rule in self.plan.channels:
            count = exposures_in(history, rule.channel, self.period)
            tally = self.tallies[rule.channel]
            total += count
            tally.exposures += count
            if count < rule.target:
                tally.under += 1
                everywhere = False
                if rule.paid:
                    under_paid.append(rule.channel)
            elif count <= rule.maximum:
                tally.at_target += 1
            else:
                tally.over += 1
        self.totals[total] += 1
        self.complete += everywhere
        return under_paid

    def report(
        self, *, generated_at: datetime, members_total: int, status: Literal["running", "done"]
    ) -> PlanReport:
        return PlanReport(
            plan_id=self.plan.plan_id,
            segment_id=self.plan.segment_id,
            period=self.period,
            generated_at=generated_at,
            status=status,
            members_total=members_total,
            members=self.members,
            channels=list(self.tallies.values()),
            totals={str(total): people for total, people in sorted(self.totals.items())},
            complete=self.complete,
        )


class PlanStore(Protocol):
    def contact_plan(self, plan_id: str) -> ContactPlan | None: ...

    def contact_plans(self) -> list[ContactPlan]: ...

    def save_contact_plan(self, plan: ContactPlan) -> None: ...

    def contact_histories(self, profile_ids: Sequence[str]) -> dict[str, ContactHistory]:
        """The contact histories (eventually consistent: a report, not a decision)."""
        ...

    def contact_history(self, profile_id: str) -> ContactHistory: ...

    def save_contact_history(self, history: ContactHistory, *, expected_version: int) -> bool: ...

    def save_plan_report(self, report: PlanReport) -> None: ...

    def plan_report(self, plan_id: str, period_key: str) -> PlanReport | None: ...

    def remember_matches(self, matches: dict[str, str], *, now: datetime) -> int:
        """hash → profile id, for the exposures reported back; answers how many were written."""
        ...

    def matches(self, hashes: Sequence[str], *, now: datetime) -> dict[str, str]: ...


class PlanQueue(Protocol):
    def submit(self, plan_id: str) -> None: ...


def save_plan(
    plan_id: str, change: ContactPlanChange, *, store: PlanStore, segments: SegmentStore, now: datetime
) -> ContactPlan:
    if not re.fullmatch(PLAN_ID, plan_id):
        raise InvalidInputError("plan_id: 1-63 of a-z 0-9 _ - (starting with a letter or digit)")
    find_segment(change.segment_id, store=segments)
    before = store.contact_plan(plan_id)
    plan = ContactPlan(
        **change.model_dump(),
        plan_id=plan_id,
        created_at=before.created_at if before else now,
        updated_at=now,
    )
    store.save_contact_plan(plan)
    return plan


def find_plan(plan_id: str, *, store: PlanStore) -> ContactPlan:
    found = store.contact_plan(plan_id)
    if found is None:
        raise PlanNotFoundError("No contact plan with this id", details={"plan_id": plan_id[:100]})
    return found


def refresh_plan(
    plan_id: str,
    *,
    store: PlanStore,
    segments: SegmentStore,
    graph: CustomerGraph,
    files: ExportFiles,
    now: datetime,
    picks: RecommendedProducts | None = None,
    page: int = PAGE,
) -> PlanReport:
    """The period's report and each paid channel's sync, in one pass over the segment: members
    read page by page (their contact histories and identifiers), progress saved after each page.
    A redelivered job redoes the pass; the files and the report are replaced whole."""
    plan = find_plan(plan_id, store=store)
    period = period_of(plan, now)
    builder = ReportBuilder(plan, period)
    total = segments.count(plan.segment_id)
    paid: dict[str, PlanChannel] = {c.channel: c for c in plan.channels if c.paid}
    rows: dict[str, list[str]] = {channel: [] for channel in paid}
    after: str | None = None
    while True:
        member_ids, after = segments.members(plan.segment_id, after=after, limit=page)
        histories = store.contact_histories(member_ids)
        under_by_member = {profile_id: builder.add(histories.get(profile_id)) for profile_id in member_ids}
        synced = [profile_id for profile_id, under in under_by_member.items() if under]
        profiles = graph.profiles(synced) if synced else {}  # only whom a sync holds: their hashes
        matches: dict[str, str] = {}
        for profile_id in synced:
            under = under_by_member[profile_id]
            profile = profiles.get(profile_id)
            if profile is None or profile.merged_into is not None:
                continue
            emails = profile.identifier_values(IdentifierType.EMAIL)
            phones = profile.identifier_values(IdentifierType.PHONE)
            products: list[str] | None = None
            for channel in under:
                found = rows_for(emails, phones, paid[channel].format)
                for row in found:
                    matches |= {value: profile_id for value in row.split(",") if value}
                if paid[channel].products and picks is not None and found:
                    if products is None:
                        products = picks.skus(profile, limit=PRODUCTS_PER_ROW)
                    found = [f"{row},{'|'.join(products)}" for row in found]
                rows[channel] += found
        store.remember_matches(matches, now=now)
        store.save_plan_report(builder.report(generated_at=now, members_total=total, status="running"))
        if after is None:
            break
    for channel, rule in paid.items():
        key = f"exports/plans/{plan.plan_id}/{period.key}/{channel}-{rule.format.value}.csv"
        header = HEADER[rule.format] + (PRODUCTS_COLUMN[rule.format] if rule.products else "")
        files.write(key, iter([header, *rows[channel]]))
        tally = builder.tallies[channel]
        tally.synced, tally.file_key = tally.under, key
    report = builder.report(generated_at=now, members_total=total, status="done")
    store.save_plan_report(report)
    return report


def refresh_all(*, store: PlanStore, queue: PlanQueue) -> list[str]:
    """The schedule: one refresh job per enabled plan."""
    plan_ids = [plan.plan_id for plan in store.contact_plans() if plan.enabled]
    for plan_id in plan_ids:
        queue.submit(plan_id)
    return plan_ids


# ---------------------------------------------------------------------------- exposures
class Exposure(BaseModel):
    """One row of an ad platform's exposure file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exposure_id: str = Field(pattern=r"^[A-Za-z0-9:_.-]{1,100}$")
    channel: Literal["search", "video", "social", "display"]
    kind: Literal["impression", "click", "view"] = "impression"
    at: datetime
    email_sha256: str | None = Field(default=None, pattern=HEX64.pattern)
    phone_sha256: str | None = Field(default=None, pattern=HEX64.pattern)

    @model_validator(mode="after")
    def _someone(self) -> Exposure:
        if not self.email_sha256 and not self.phone_sha256:
            raise ValueError("email_sha256 or phone_sha256")
        if self.at.tzinfo is None:
            raise ValueError("at needs a timezone offset")
        return self


EXPOSURE_COLUMNS = ("exposure_id", "channel", "kind", "at", "email_sha256", "phone_sha256")


def parse_exposures(text: str, *, now: datetime) -> list[Exposure]:
    """A CSV with a header naming `EXPOSURE_COLUMNS` (kind and one of the hashes optional). Every
    row is checked before any is recorded: a bad row refuses the whole file, with its lines."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"exposure_id", "channel", "at"} <= set(reader.fieldnames):
        raise InvalidInputError("A CSV whose header names " + ",".join(EXPOSURE_COLUMNS))
    unknown = set(reader.fieldnames) - set(EXPOSURE_COLUMNS)
    if unknown:
        raise InvalidInputError("Unknown columns", details={"columns": sorted(unknown)[:10]})
    found: list[Exposure] = []
    problems: list[dict[str, Any]] = []
    for line, row in enumerate(reader, start=2):
        if len(found) + len(problems) >= MAX_EXPOSURE_ROWS:
            raise InvalidInputError(f"At most {MAX_EXPOSURE_ROWS} rows per upload; send the rest in pages")
        values = {
            key: (value or "").strip().lower() if key.endswith("sha256") else (value or "").strip()
            for key, value in row.items()
            if key is not None
        }
        try:
            exposure = Exposure.model_validate({k: v for k, v in values.items() if v})
        except ValidationError as error:
            problems.append({"line": line, "problem": error.errors()[0]["msg"][:200]})
            continue
        if not now - timedelta(days=31) <= exposure.at <= now + timedelta(minutes=5):
            problems.append({"line": line, "problem": "at: within the last 31 days"})
            continue
        found.append(exposure)
    if problems:
        raise InvalidInputError(
            "Some rows are not exposures; nothing was recorded", details={"rows": problems[:20]}
        )
    return found


class ExposureTouchpoints(Protocol):
    def record(self, profile: Profile, exposures: Sequence[Exposure], source: str) -> None:
        """The exposures as touchpoints on the person's profile (each keyed by its id)."""
        ...


@dataclass(frozen=True)
class ExposureResult:
    rows: int
    matched: int
    unmatched: int
    counted: int  # new in the contact histories (a row sent again is matched, not counted again)
    people: int


def record_exposures(
    exposures: Sequence[Exposure],
    *,
    source: str,
    store: PlanStore,
    graph: CustomerGraph,
    touchpoints: ExposureTouchpoints,
    now: datetime,
) -> ExposureResult:
    hashes = {h for e in exposures for h in (e.email_sha256, e.phone_sha256) if h}
    matched = store.matches(sorted(hashes), now=now)
    by_person: dict[str, list[Exposure]] = {}
    unmatched = 0
    for exposure in exposures:
        profile_id = matched.get(exposure.email_sha256 or "") or matched.get(exposure.phone_sha256 or "")
        if profile_id is None:
            unmatched += 1
            continue
        by_person.setdefault(profile_id, []).append(exposure)
    survivors: dict[str, tuple[Profile, list[Exposure]]] = {}
    for profile_id, own in by_person.items():
        try:
            profile = live_profile(profile_id, graph=graph)  # merges followed
        except ProfileNotFoundError:  # erased since it was synced
            unmatched += len(own)
            continue
        survivors.setdefault(profile.profile_id, (profile, []))[1].extend(own)
    counted = 0
    for profile, own in survivors.values():
        counted += count_exposures(store, profile.profile_id, own, source=source, now=now)
        touchpoints.record(profile, own, source)
    return ExposureResult(
        rows=len(exposures),
        matched=len(exposures) - unmatched,
        unmatched=unmatched,
        counted=counted,
        people=len(survivors),
    )


def count_exposures(
    store: PlanStore, profile_id: str, exposures: Sequence[Exposure], *, source: str, now: datetime
) -> int:
    for _ in range(5):
        history = store.contact_history(profile_id)
        revised, added = history, 0
        for exposure in exposures:
            run_key = f"{source}:{exposure.exposure_id}"
            if revised.find(PAID_PROGRAM, run_key) is not None:
                continue
            revised = revised.with_contact(
                Contact(
                    program_id=PAID_PROGRAM,
                    run_key=run_key,
                    at=exposure.at,
                    channel=exposure.channel,
                    counted=False,
                    paid=True,
                ),
                now=now,
            )
            added += 1
        if not added:
            return 0
        revised = _bounded(revised)
        if store.save_contact_history(revised, expected_version=history.version):
            return added
    raise ConcurrentUpdateError(f"The contact history of {profile_id} kept changing; send the file again")


def _bounded(history: ContactHistory) -> ContactHistory:
    """At most `EXPOSURES_KEPT_PER_CHANNEL` paid exposures per channel (the newest)."""
    paid: dict[str, list[Contact]] = {}
    for contact in history.contacts:
        if contact.paid:
            paid.setdefault(contact.channel or "", []).append(contact)
    dropped = {
        id(contact)
        for own in paid.values()
        for contact in sorted(own, key=lambda c: c.at)[:-EXPOSURES_KEPT_PER_CHANNEL]
    }
    if not dropped:
        return history
    return history.model_copy(update={"contacts": [c for c in history.contacts if id(c) not in dropped]})


def iter_rows(report: PlanReport) -> Iterator[dict[str, Any]]:
    """The report as table rows (channel, under, at target, over): what the console charts."""
    for tally in report.channels:
        yield {
            "channel": tally.channel,
            "paid": tally.paid,
            "under": tally.under,
            "at_target": tally.at_target,
            "over": tally.over,
            "members": tally.under + tally.at_target + tally.over,
        }
