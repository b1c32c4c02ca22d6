from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.schedules import Cron, Rate, parse_schedule

NOW = datetime(2026, 11, 24, 8, 35, 20, tzinfo=UTC)  # a Tuesday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(1 minute)", datetime(2026, 11, 24, 8, 36, 20, tzinfo=UTC)),
        ("rate(5 minutes)", datetime(2026, 11, 24, 8, 40, 20, tzinfo=UTC)),
        ("rate(2 days)", datetime(2026, 11, 26, 8, 35, 20, tzinfo=UTC)),
        ("cron(0 12 * * ? *)", datetime(2026, 11, 24, 12, 0, tzinfo=UTC)),
        ("cron(15 10 ? * MON-FRI *)", datetime(2026, 11, 24, 10, 15, tzinfo=UTC)),
        ("cron(0 8 ? * MON *)", datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
        ("cron(0 0 L * ? *)", datetime(2026, 11, 30, 0, 0, tzinfo=UTC)),
        ("cron(0/15 * * * ? *)", datetime(2026, 11, 24, 8, 45, tzinfo=UTC)),
        ("cron(0 9 1 JAN ? 2027)", datetime(2027, 1, 1, 9, 0, tzinfo=UTC)),
        ("cron(30 2 29 FEB ? *)", datetime(2028, 2, 29, 2, 30, tzinfo=UTC)),
    ],
)
def test_next_fire_time(expression, expected):
    assert parse_schedule(expression).next_after(NOW) == expected


def test_cron_in_a_timezone():
    schedule = parse_schedule("cron(0 9 * * ? *)", "Asia/Shanghai")
    assert schedule.next_after(NOW) == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "every 5 minutes",
        "cron(0 12 * * *)",
        "cron(0 12 * * * *)",
        "cron(0 12 ? * ? *)",
        "cron(61 12 * * ? *)",
        "cron(0 12 ? * 2#1 *)",
        "cron(0 12 15W * ? *)",
    ],
)
def test_invalid_or_unsupported_expressions_are_refused(expression):
    with pytest.raises(ValueError):  # noqa: PT011 (the message varies by mistake)
        parse_schedule(expression)


@given(
    moment=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    minute=st.integers(0, 59),
    hour=st.integers(0, 23),
    weekday=st.integers(1, 7),
)
def test_cron_fires_later_on_a_matching_minute_within_a_week(moment, minute, hour, weekday):
    schedule = parse_schedule(f"cron({minute} {hour} ? * {weekday} *)")
    assert isinstance(schedule, Cron)
    fired = schedule.next_after(moment)
    assert moment < fired <= moment + timedelta(days=7, minutes=1)
    assert (fired.minute, fired.hour, fired.isoweekday() % 7 + 1) == (minute, hour, weekday)


def test_rate_is_a_fixed_period():
    assert parse_schedule("rate(3 hours)") == Rate(timedelta(hours=3))
