"""Contact plans without AWS: periods in the plan's timezone, what counts towards a channel, the
report's tallies adding up to the members, the exposure file's checks, and an owned send refused
at the plan's maximum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain.engagement.frequency import Contact, ContactHistory
from shared.domain.engagement.plans import (
    EXPOSURES_KEPT_PER_CHANNEL,
    MAX_EXPOSURE_ROWS,
    PAID_PROGRAM,
    ContactPlan,
    ContactPlanChange,
    ReportBuilder,
    _bounded,
    exposures_in,
    parse_exposures,
    parse_period,
    period_of,
    plan_refusal,
)
from shared.domain.kernel.errors import InvalidInputError

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # Thursday 17:00 in Shanghai, ISO week 49
HASH = "a" * 64


def plan(**changes) -> ContactPlan:
    body = {
        "name": "December plan",
        "segment_id": "vip",
        "period": "week",
        "channels": [
            {"channel": "search", "target": 3, "maximum": 3},
            {"channel": "wechat", "target": 2, "maximum": 2},
            {"channel": "video", "target": 1, "maximum": 2},
        ],
        **changes,
    }
    return ContactPlan(
        **ContactPlanChange.model_validate(body).model_dump(), plan_id="dec", created_at=NOW, updated_at=NOW
    )


def contact(channel: str, at: datetime, n: int, *, paid: bool = False, **flags) -> Contact:
    return Contact(
        program_id=PAID_PROGRAM if paid else "camp",
        run_key=f"r{n}",
        at=at,
        channel=channel,
        counted=not paid and flags.pop("counted", True),
        paid=paid,
        **flags,
    )


def test_periods_start_at_local_midnight_in_the_plan_s_timezone() -> None:
    week = period_of(plan(), NOW)
    assert (week.key, week.starts_at, week.ends_at) == (
        "2026-W49",
        datetime(2026, 11, 29, 16, 0, tzinfo=UTC),  # Monday 30 November, 00:00 in Shanghai
        datetime(2026, 12, 6, 16, 0, tzinfo=UTC),
    )
    month = period_of(plan(period="month"), datetime(2026, 12, 31, 17, 0, tzinfo=UTC))  # 1 Jan in Shanghai
    assert (month.key, month.starts_at) == ("2027-01", datetime(2026, 12, 31, 16, 0, tzinfo=UTC))
    day = period_of(plan(period="day", timezone="Europe/London"), NOW)
    assert (day.key, day.ends_at - day.starts_at) == ("2026-12-03", timedelta(days=1))
    for kind in ("day", "week", "month"):
        current = period_of(plan(period=kind), NOW)
        assert parse_period(plan(period=kind), current.key) == current
    with pytest.raises(InvalidInputError):
        parse_period(plan(), "2026-12")
    with pytest.raises(InvalidInputError):
        parse_period(plan(), "2026-W60")


def test_a_plan_refuses_a_maximum_below_its_target_and_a_channel_twice() -> None:
    with pytest.raises(ValidationError, match="maximum"):
        plan(channels=[{"channel": "search", "target": 3, "maximum": 2}])
    with pytest.raises(ValidationError, match="each channel once"):
        plan(channels=[{"channel": "sms", "target": 1, "maximum": 1}] * 2)
    with pytest.raises(ValidationError):
        plan(channels=[{"channel": "billboard", "target": 1, "maximum": 1}])


def test_what_counts_sent_messages_and_paid_exposures_in_the_period_only() -> None:
    week = period_of(plan(), NOW)
    history = ContactHistory(
        profile_id="p",
        contacts=[
            contact("wechat", NOW - timedelta(hours=1), 1),  # counts
            contact("wechat", NOW - timedelta(hours=2), 2, holdout=True, counted=False),  # held out
            contact("wechat", NOW - timedelta(hours=3), 3, counted=False),  # transactional (exempt)
            contact("wechat", week.starts_at - timedelta(seconds=1), 4),  # last week
            contact("search", NOW - timedelta(hours=1), 5, paid=True),
            contact("search", week.starts_at, 6, paid=True),
        ],
    )
    assert exposures_in(history, "wechat", week) == 1
    assert exposures_in(history, "search", week) == 2
    assert exposures_in(None, "search", week) == 0
    assert [c.run_key for c in history.last_messages()] == ["r1", "r2"]  # an ad is not a message


def test_an_owned_send_is_refused_at_the_plan_s_maximum_until_the_period_ends() -> None:
    current = plan()
    one = ContactHistory(profile_id="p", contacts=[contact("wechat", NOW - timedelta(hours=1), 1)])
    two = one.with_contact(contact("wechat", NOW, 2), now=NOW)
    assert plan_refusal(current, one, "wechat", NOW) is None
    assert plan_refusal(current, two, "wechat", NOW) == period_of(current, NOW).ends_at
    assert plan_refusal(current, two, "email", NOW) is None  # not in the plan
    assert plan_refusal(current.model_copy(update={"enabled": False}), two, "wechat", NOW) is None
    assert plan_refusal(None, two, "wechat", NOW) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["search", "wechat", "video", "email"]), max_size=8), max_size=40))
def test_every_channel_s_under_at_and_over_add_up_to_the_members(people) -> None:
    current = plan()
    builder = ReportBuilder(current, period_of(current, NOW))
    synced = {"search": 0, "video": 0}
    for n, channels in enumerate(people):
        history = ContactHistory(
            profile_id=f"p{n}",
            contacts=[
                contact(c, NOW - timedelta(minutes=i), i, paid=c in ("search", "video"))
                for i, c in enumerate(channels)
            ],
        )
        for channel in builder.add(history if channels else None):
            synced[channel] += 1
    report = builder.report(generated_at=NOW, members_total=len(people), status="done")
    for tally in report.channels:
        assert tally.under + tally.at_target + tally.over == len(people)
        if tally.paid:
            assert synced[tally.channel] == tally.under  # a sync holds exactly those under target
    assert sum(report.totals.values()) == len(people)
    assert sum(int(total) * n for total, n in report.totals.items()) == sum(
        t.exposures for t in report.channels
    )
    assert report.view()["table"][0]["members"] == len(people) or not report.channels


def test_hand_counted_report() -> None:
    current = plan()
    builder = ReportBuilder(current, period_of(current, NOW))
    search = [contact("search", NOW - timedelta(hours=i), i, paid=True) for i in range(4)]
    builder.add(ContactHistory(profile_id="a", contacts=search))  # 4 search: over; wechat 0, video 0: under
    builder.add(ContactHistory(profile_id="b", contacts=[*search[:3], contact("video", NOW, 9, paid=True)]))
    builder.add(None)
    report = builder.report(generated_at=NOW, members_total=3, status="done")
    tallies = {t.channel: (t.under, t.at_target, t.over) for t in report.channels}
    assert tallies == {"search": (1, 1, 1), "wechat": (3, 0, 0), "video": (2, 1, 0)}
    assert report.totals == {"0": 1, "4": 2}
    assert report.complete == 0


def exposure_file(*rows: str, header: str = "exposure_id,channel,kind,at,email_sha256,phone_sha256") -> str:
    return "\n".join([header, *rows]) + "\n"


def test_an_exposure_file_is_checked_whole_before_anything_is_recorded() -> None:
    at = (NOW - timedelta(hours=1)).isoformat()
    found = parse_exposures(
        exposure_file(f"x1,search,click,{at},{HASH.upper()},", f"x2,video,,{at},,{HASH}"), now=NOW
    )
    assert [(e.exposure_id, e.kind, e.email_sha256, e.phone_sha256) for e in found] == [
        ("x1", "click", HASH, None),
        ("x2", "impression", None, HASH),
    ]
    with pytest.raises(InvalidInputError) as refused:
        parse_exposures(
            exposure_file(
                f"ok,search,,{at},{HASH},",
                f"bad-channel,billboard,,{at},{HASH},",
                f"nobody,search,,{at},,",
                f"old,search,,{(NOW - timedelta(days=40)).isoformat()},{HASH},",
                f"naive,search,,2026-12-03T08:00:00,{HASH},",
                f"short,search,,{at},abc,",
            ),
            now=NOW,
        )
    assert [row["line"] for row in refused.value.details["rows"]] == [3, 4, 5, 6, 7]
    with pytest.raises(InvalidInputError, match="header"):
        parse_exposures("id,when\n1,2\n", now=NOW)
    with pytest.raises(InvalidInputError, match="Unknown columns"):
        parse_exposures(exposure_file(header="exposure_id,channel,at,email_sha256,name"), now=NOW)
    too_many = exposure_file(*[f"x{n},search,,{at},{HASH}," for n in range(MAX_EXPOSURE_ROWS + 1)])
    with pytest.raises(InvalidInputError, match="pages"):
        parse_exposures(too_many, now=NOW)


def test_a_person_keeps_the_newest_hundred_exposures_per_paid_channel() -> None:
    history = ContactHistory(
        profile_id="p",
        contacts=[
            contact("search", NOW - timedelta(minutes=n), n, paid=True)
            for n in range(EXPOSURES_KEPT_PER_CHANNEL + 3)
        ]
        + [contact("wechat", NOW, 999)],
    )
    kept = _bounded(history)
    assert sum(1 for c in kept.contacts if c.channel == "search") == EXPOSURES_KEPT_PER_CHANNEL
    assert {c.run_key for c in kept.contacts if c.channel == "search"} == {
        f"r{n}" for n in range(EXPOSURES_KEPT_PER_CHANNEL)
    }
    assert any(c.channel == "wechat" for c in kept.contacts)
