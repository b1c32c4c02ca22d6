"""Campaign rules without AWS: windows and quiet hours across DST, holdout stability, variants,
rendering, lift and ROI against a hand-computed example."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.domain.engagement.dispatch import choose_variant, holdout
from shared.domain.engagement.frequency import (
    Cap,
    Contact,
    ContactHistory,
    DailyWindow,
    FrequencyPolicy,
    LocalTime,
    next_local_time,
    resolve_timezone,
    window_of,
)
from shared.domain.engagement.measurement import measure
from shared.domain.engagement.messaging import RenderError, Variant, render
from shared.domain.engagement.models import LedgerRow, Schedule

QUIET = DailyWindow(start="21:00", end="08:00")


def where(zone: str) -> LocalTime:
    return LocalTime(zone=zone, source="profile")


@pytest.mark.parametrize(
    ("zone", "utc_moment", "inside", "ends_local"),
    [
        # Shanghai (no DST): 22:30 local is quiet until 08:00 local.
        ("Asia/Shanghai", datetime(2026, 3, 7, 14, 30, tzinfo=UTC), True, "2026-03-08T08:00:00+08:00"),
        # Amsterdam, the night clocks go forward (29 March 2026, 02:00 → 03:00): 08:00 CEST.
        ("Europe/Amsterdam", datetime(2026, 3, 28, 22, 30, tzinfo=UTC), True, "2026-03-29T08:00:00+02:00"),
        # Amsterdam, the night clocks go back (25 October 2026): 08:00 CET.
        ("Europe/Amsterdam", datetime(2026, 10, 24, 21, 30, tzinfo=UTC), True, "2026-10-25T08:00:00+01:00"),
        # São Paulo has no DST since 2019: 07:59 local is still quiet.
        ("America/Sao_Paulo", datetime(2026, 11, 24, 10, 59, tzinfo=UTC), True, "2026-11-24T08:00:00-03:00"),
        # Apia at 12:00 is not quiet.
        ("Pacific/Apia", datetime(2026, 11, 23, 23, 0, tzinfo=UTC), False, None),
    ],
)
def test_quiet_hours_are_the_customers_local_night_across_dst(zone, utc_moment, inside, ends_local):
    local = where(zone)
    assert QUIET.contains(local.local(utc_moment)) is inside
    if inside:
        end = QUIET.end_after(utc_moment, local)
        assert local.local(end).isoformat() == ends_local
        assert not QUIET.contains(local.local(end))


def test_an_unknown_timezone_falls_back_and_says_so():
    assert resolve_timezone("Mars/Olympus", "Asia/Shanghai") == LocalTime(
        zone="Asia/Shanghai", source="fallback"
    )
    assert resolve_timezone(None, "Asia/Shanghai").source == "fallback"
    assert resolve_timezone("Europe/Berlin", "Asia/Shanghai").source == "profile"


def test_the_daily_window_resets_at_the_customers_midnight():
    cap = Cap(scope="channel", channel="sms", count=2, window="day")
    shanghai = where("Asia/Shanghai")
    before = window_of(cap, datetime(2026, 11, 24, 15, 59, tzinfo=UTC), shanghai)  # 23:59 local
    after = window_of(cap, datetime(2026, 11, 24, 16, 0, tzinfo=UTC), shanghai)  # 00:00 local
    assert before.ends_at == after.starts_at == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    assert before.starts_at == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    amsterdam = where("Europe/Amsterdam")  # a 23-hour day: the window still ends at local midnight
    spring = window_of(cap, datetime(2026, 3, 29, 12, 0, tzinfo=UTC), amsterdam)
    assert amsterdam.local(spring.ends_at).isoformat() == "2026-03-30T00:00:00+02:00"
    assert spring.ends_at - spring.starts_at == timedelta(hours=23)


def test_week_and_rolling_windows():
    week = Cap(scope="all", count=5, window="week")
    monday = window_of(week, datetime(2026, 11, 23, 1, 0, tzinfo=UTC), where("Asia/Shanghai"))
    sunday = window_of(week, datetime(2026, 11, 29, 15, 0, tzinfo=UTC), where("Asia/Shanghai"))
    assert monday == sunday
    assert monday.starts_at == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # Monday 00:00 in Shanghai
    rolling = Cap(scope="channel", channel="wechat", count=2, window="rolling", hours=24)
    slot = window_of(rolling, datetime(2026, 11, 24, 9, 30, tzinfo=UTC), where("Asia/Shanghai"))
    assert slot.starts_at == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # the current hour and 23 before
    assert slot.ends_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_a_cap_counts_the_contacts_in_its_window_on_its_channel_and_program():
    at = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
    history = ContactHistory(profile_id="mei")
    for program, channel, hours_ago, counted in [
        ("a", "sms", 1, True),
        ("b", "sms", 2, True),
        ("a", "email", 1, True),
        ("c", "sms", 1, False),  # a transactional message counts in no cap
        ("a", "sms", 20, True),  # yesterday, local time
    ]:
        contact = Contact(
            program_id=program,
            run_key="r",
            at=at - timedelta(hours=hours_ago),
            channel=channel,
            counted=counted,
        )
        history = history.model_copy(update={"contacts": [*history.contacts, contact]})
    day = Cap(scope="channel", channel="sms", count=3, window="day")
    window = window_of(day, at, where("Asia/Shanghai"))
    assert history.counted(day, window) == 2
    assert history.counted(day, window, program_id="a") == 1
    everything = Cap(scope="all", count=9, window="rolling", hours=24)
    assert history.counted(everything, window_of(everything, at, where("Asia/Shanghai"))) == 4


def test_the_history_keeps_what_a_window_or_attribution_needs_and_one_entry_per_send():
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    old_send = Contact(program_id="old", run_key="r", at=now - timedelta(days=40), channel="email")
    old_holdout = Contact(
        program_id="held", run_key="r", at=now - timedelta(days=50), holdout=True, counted=False
    )
    ancient = Contact(
        program_id="gone", run_key="r", at=now - timedelta(days=100), holdout=True, counted=False
    )
    history = ContactHistory(profile_id="mei", contacts=[ancient, old_holdout, old_send])
    first = Contact(program_id="new", run_key="r", at=now - timedelta(days=1), channel="sms")
    kept = history.with_contact(first, now=now)
    assert [c.program_id for c in kept.contacts] == ["held", "new"]  # the newer send replaces "old" as last
    again = kept.with_contact(first.model_copy(update={"at": now}), now=now)
    assert [c.program_id for c in again.contacts] == ["held", "new"] and again.contacts[-1].at == now
    assert [(c.program_id, c.holdout) for c in again.last_messages()] == [("new", False), ("held", True)]
    assert again.without("new", "r").contacts == [old_holdout]


def test_best_hour_is_the_next_local_ten_oclock():
    ten = next_local_time(datetime(2026, 11, 24, 3, 0, tzinfo=UTC), "10:00", where("Asia/Shanghai"))
    assert ten == datetime(2026, 11, 24, 2, 0, tzinfo=UTC) + timedelta(days=1)  # 11:00 local passed 10:00


def test_holdout_is_stable_and_close_to_its_share():
    people = [f"p{n}" for n in range(20_000)]
    first = [holdout("spring", p, Decimal(10)) for p in people]
    assert first == [holdout("spring", p, Decimal(10)) for p in people]  # the same on every run
    assert abs(sum(first) / len(people) - 0.10) < 0.01
    assert [holdout("autumn", p, Decimal(10)) for p in people] != first  # each campaign its own group


def test_variants_match_tier_first_then_split_by_weight():
    content = {"email": {"body": "x", "subject": "s"}}
    gold = Variant(variant_id="gold", when={"tier": "high_value"}, content=content)
    a = Variant(variant_id="a", weight=50, content=content)
    b = Variant(variant_id="b", weight=50, content=content)
    assert choose_variant("c", [gold, a, b], {"tier": {"high_value"}}, "p1").variant_id == "gold"
    picks = [choose_variant("c", [gold, a, b], {}, f"p{n}").variant_id for n in range(2000)]
    assert 850 < picks.count("a") < 1150 and set(picks) == {"a", "b"}


def test_rendering_fails_loudly_on_a_hole_and_uses_defaults():
    assert render("Hi {{ first_name | there }}, {{ points }} points", {"points": 12}) == "Hi there, 12 points"
    with pytest.raises(RenderError) as error:
        render("Your code {{ coupon_code }}", {})
    assert error.value.missing == ["coupon_code"]


def test_recurring_schedules_give_one_occurrence_per_period():
    daily = Schedule(kind="daily", at=datetime(2026, 11, 1, 2, 0, tzinfo=UTC))
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert daily.due(now, None, now) == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert daily.due(now, datetime(2026, 11, 24, 2, 0, tzinfo=UTC), now) is None  # fired already
    once = Schedule(kind="at", at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    assert once.due(now, None, now) is None and once.due(now, None, now + timedelta(hours=1)) is not None


def row(profile: str, status: str, *, channel: str | None = "email", hold: bool = False) -> LedgerRow:
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    return LedgerRow(
        program_id="c",
        run_key="r",
        profile_id=profile,
        status=status,
        channel=channel,
        planned_at=at,
        at=at,
        holdout=hold,
        reason="holdout" if hold else None,
    )  # type: ignore[arg-type]


def test_lift_and_roi_match_a_hand_computed_example():
    # 1000 treated (sent), 100 in holdout. 80 treated bought for 100.00 each; 5 holdout bought for 100.00.
    rows = [row(f"t{n}", "sent") for n in range(1000)] + [
        row(f"h{n}", "suppressed", channel=None, hold=True) for n in range(100)
    ]
    conversions = [
        {"profile_id": f"t{n}", "revenue": "100", "group": "treated", "channel": "email"} for n in range(80)
    ]
    conversions += [{"profile_id": f"h{n}", "revenue": "100", "group": "control"} for n in range(5)]
    policy = FrequencyPolicy(message_cost={"email": "0.50"})
    report = measure(rows, conversions, policy)
    assert report["audience"] == 1100 == sum(report["outcomes"].values())
    assert (report["conversion_rate"], report["holdout_conversion_rate"]) == (0.08, 0.05)
    assert report["lift"] == 0.03
    # 95 % interval: 0.03 ± 1.96 * sqrt(0.08*0.92/1000 + 0.05*0.95/100) = 0.03 ± 0.0459
    low, high = report["lift_ci95"]
    assert (round(low, 4), round(high, 4)) == (-0.0159, 0.0759)
    # Incremental revenue: (8000/1000 - 500/100) * 1000 = 3000; cost 1000 * 0.50 = 500;
    # ROI = (3000 - 500) / 500.
    assert (report["incremental_revenue"], report["cost"], report["roi"]) == ("3000.00", "500.000000", "5.00")
    assert report["channels"]["email"] == {"sent": 1000, "conversions": 80, "revenue": "8000"}


def test_a_store_reminder_never_names_a_time_before_the_store_opens():
    store = DailyWindow(start="09:00", end="21:00")
    shanghai = where("Asia/Shanghai")
    ten_to_nine = datetime(2026, 11, 24, 0, 50, tzinfo=UTC)  # 08:50 local
    assert not store.contains(shanghai.local(ten_to_nine))
    opens = store.next_start(ten_to_nine, shanghai)
    assert shanghai.local(opens).isoformat() == "2026-11-24T09:00:00+08:00"
    late = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)  # 21:30 local: tomorrow at 09:00
    assert shanghai.local(store.next_start(late, shanghai)).isoformat() == "2026-11-25T09:00:00+08:00"
