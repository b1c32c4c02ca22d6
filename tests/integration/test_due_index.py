"""The due indexes (journey timers, deferred sends, reservation expiries) say when their next
item falls due: the local stack's clock stops there when it is moved forward."""

from datetime import UTC, datetime, timedelta

from shared.wiring import engagement as engagement_wiring

NOW = datetime(2026, 12, 1, 10, 0, 30, tzinfo=UTC)


def test_the_next_due_item_is_found_across_days_and_never_one_already_due(stack):
    engagement = engagement_wiring.get_engagement()
    engagement.put_due("JTIMER", NOW, "due-now")  # this minute: not after NOW
    engagement.put_due("JTIMER", NOW + timedelta(days=2, minutes=90), "later")
    engagement.put_due("JTIMER", NOW + timedelta(days=2, minutes=-30), "sooner")
    engagement.put_due("DEFER", NOW + timedelta(hours=1), "another index")

    sooner = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    assert engagement.next_due("JTIMER", NOW, NOW + timedelta(days=5)) == sooner
    assert engagement.next_due("JTIMER", sooner, NOW + timedelta(days=5)) == datetime(
        2026, 12, 3, 11, 30, tzinfo=UTC
    )
    assert engagement.next_due("JTIMER", NOW, NOW + timedelta(days=1)) is None  # not by then
    assert engagement.next_due("DEFER", NOW, NOW + timedelta(days=1)) == datetime(
        2026, 12, 1, 11, 0, tzinfo=UTC
    )
    assert engagement.next_due("JTIMER", NOW + timedelta(days=3), NOW + timedelta(days=9)) is None
