"""Appointments without AWS: slots in the location's timezone across DST changes and holidays,
the server's own check of a slot, reminders moved into opening hours, and the booking rules
(capacity, retries, cut-off, reschedule, cancel, outcomes)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.appointments.bookings import (
    Appointments,
    BookingRequest,
    SlotTakenError,
    TooLateError,
)
from shared.domain.appointments.schedule import (
    Location,
    OpeningWindow,
    ServiceType,
    slot_at,
    slots_between,
    slots_on,
)
from shared.domain.kernel.errors import ConflictError, InvalidInputError, NotFoundError, RuleRefusedError
from tests.fakes import FakeClock, InMemoryAppointments, RecordingAnnouncer

WEEK = {
    day: [OpeningWindow(open="09:00", close="18:00")] for day in ("mon", "tue", "wed", "thu", "fri", "sat")
}
INSTALL = ServiceType(service_id="install", name="Installation", duration_minutes=60, buffer_minutes=30)


def store(zone: str = "Asia/Shanghai", **changes: object) -> Location:
    return Location.model_validate(
        {
            "location_id": "shop-1",
            "name": "Shop 1",
            "timezone": zone,
            "hours": {day: [w.model_dump() for w in windows] for day, windows in WEEK.items()},
            "capacity": {"install": 2},
            **changes,
        }
    )


def local_times(service: ServiceType, location: Location, day: date) -> list[str]:
    return [slot.local_time for slot in slots_on(service, location, day)]


# ------------------------------------------------------------------ slots
def test_slots_step_by_duration_and_buffer_and_end_inside_the_window() -> None:
    # 09:00-18:00, 60 minutes + 30 buffer: 09:00, 10:30, ..., 16:30 (ends 17:30); 18:00 would end at 19:00.
    assert local_times(INSTALL, store(), date(2026, 12, 7)) == [
        "09:00",
        "10:30",
        "12:00",
        "13:30",
        "15:00",
        "16:30",
    ]
    assert local_times(INSTALL, store(), date(2026, 12, 6)) == []  # a Sunday: no hours


@pytest.mark.parametrize(
    ("zone", "before", "after"),
    [
        ("America/New_York", date(2026, 10, 31), date(2026, 11, 2)),  # DST ends 1 November 2026
        ("Europe/Berlin", date(2026, 3, 28), date(2026, 3, 30)),  # DST starts 29 March 2026
        ("Asia/Shanghai", date(2026, 3, 7), date(2026, 3, 9)),  # no DST at all
    ],
)
def test_slots_keep_local_opening_time_across_dst(zone: str, before: date, after: date) -> None:
    """The 09:00 slot is 09:00 at the shop on both sides of a DST change (Cal.com #10517 offered
    08:00 in November): its UTC time moves by the change, the local one does not."""
    location = store(zone)
    first_before = next(slots_on(INSTALL, location, before))
    first_after = next(slots_on(INSTALL, location, after))
    assert first_before.local_time == first_after.local_time == "09:00"
    assert location.local(first_before.starts_at).hour == location.local(first_after.starts_at).hour == 9
    offset_change = (first_after.starts_at - first_before.starts_at) - (after - before)
    expected = {"America/New_York": timedelta(hours=1), "Europe/Berlin": timedelta(hours=-1)}.get(
        zone, timedelta(0)
    )
    assert offset_change == expected


def test_a_local_time_dst_skips_is_no_slot_and_a_repeated_one_is_one_slot() -> None:
    night = {day: [OpeningWindow(open="00:00", close="06:00")] for day in ("sat", "sun")}
    pickup = ServiceType(service_id="pickup", name="Pickup", duration_minutes=30)
    location = store("Europe/Berlin", hours={d: [w.model_dump() for w in ws] for d, ws in night.items()})
    spring = local_times(pickup, location, date(2026, 3, 29))  # 02:00 -> 03:00
    assert "02:00" not in spring and "02:30" not in spring and "03:00" in spring
    # The 01:30 slot would end at 03:00 local, 30 minutes later in real time: it is a slot.
    assert "01:30" in spring
    autumn = local_times(pickup, location, date(2026, 10, 25))  # 03:00 -> 02:00: 02:xx twice
    assert autumn.count("02:30") == 1
    for slot in slots_on(pickup, location, date(2026, 10, 25)):
        assert slot.ends_at - slot.starts_at == timedelta(minutes=30)


def test_closures_and_special_hours() -> None:
    location = store(
        closures=["2026-12-25"], special_hours={"2026-12-24": [{"open": "09:00", "close": "12:00"}]}
    )
    assert local_times(INSTALL, location, date(2026, 12, 25)) == []  # a holiday (a Friday)
    assert local_times(INSTALL, location, date(2026, 12, 24)) == ["09:00", "10:30"]  # short hours


def test_slots_between_never_offers_the_past_nor_inside_the_minimum_notice() -> None:
    location = store()
    now = datetime(2026, 12, 7, 2, 40, tzinfo=UTC)  # 10:40 in Shanghai
    found = slots_between(INSTALL, location, date(2026, 12, 7), date(2026, 12, 8), now=now)
    # minimum notice 60 minutes: 11:40 local is the earliest, so 12:00 is the first slot today
    assert [s.local_label(location) for s in found][:2] == ["2026-12-07 12:00", "2026-12-07 13:30"]
    assert all(s.starts_at >= now + timedelta(minutes=60) for s in found)
    with pytest.raises(ValueError, match="31 days"):
        slots_between(INSTALL, location, date(2026, 12, 1), date(2027, 1, 31), now=now)


def test_the_server_checks_a_named_slot_itself() -> None:
    location = store()
    assert slot_at(INSTALL, location, datetime(2026, 12, 7, 1, 0, tzinfo=UTC)) is not None  # 09:00 local
    assert slot_at(INSTALL, location, datetime(2026, 12, 7, 1, 15, tzinfo=UTC)) is None  # 09:15: off the step
    assert slot_at(INSTALL, location, datetime(2026, 12, 7, 0, 30, tzinfo=UTC)) is None  # 08:30: closed


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe"]),
    day=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
    duration=st.integers(min_value=5, max_value=240),
    buffer=st.integers(min_value=0, max_value=60),
    opens=st.integers(min_value=0, max_value=12 * 60),
    length=st.integers(min_value=30, max_value=12 * 60),
)
def test_every_slot_lies_inside_opening_hours(
    zone: str, day: date, duration: int, buffer: int, opens: int, length: int
) -> None:
    closes = min(opens + length, 24 * 60 - 1)
    window = {"open": f"{opens // 60:02d}:{opens % 60:02d}", "close": f"{closes // 60:02d}:{closes % 60:02d}"}
    location = store(
        zone, hours={d: [window] for d in WEEK} | {"sun": [window]}, closures=[day + timedelta(days=1)]
    )
    service = ServiceType(service_id="s", name="S", duration_minutes=duration, buffer_minutes=buffer)
    for slot in slots_on(service, location, day):
        assert location.is_open_between(slot.starts_at, slot.ends_at)
        assert location.local(slot.starts_at).date() == day
    assert list(slots_on(service, location, day + timedelta(days=1))) == []


# ------------------------------------------------------------------ reminders in opening hours
def test_a_reminder_due_before_opening_goes_at_the_last_open_moment_before() -> None:
    location = store()  # Shanghai, Mon-Sat 09:00-18:00
    appointment = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)  # Tuesday 09:00 local
    two_hours_before = appointment - timedelta(hours=2)  # 07:00 local: closed
    sent = location.latest_open_at_or_before(two_hours_before)
    assert sent is not None and location.local(sent).strftime("%a %H:%M") == "Mon 17:45"
    monday = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Monday 10:00; a day before is Sunday: closed
    sent = location.latest_open_at_or_before(monday - timedelta(hours=24))
    assert sent is not None and location.local(sent).strftime("%a %H:%M") == "Sat 17:45"
    inside = datetime(2026, 12, 8, 6, 0, tzinfo=UTC)  # 14:00 local: open, kept as it is
    assert location.latest_open_at_or_before(inside) == inside


# ------------------------------------------------------------------ bookings
def service_with(**changes: object) -> Appointments:
    clock = FakeClock(datetime(2026, 12, 3, 2, 0, tzinfo=UTC))  # Thursday 10:00 in Shanghai
    memory = InMemoryAppointments()
    memory.save_service(INSTALL.model_copy(update=changes))
    memory.save_location(store())
    return Appointments(store=memory, announcer=RecordingAnnouncer(), clock=clock)


def request(**changes: object) -> BookingRequest:
    return BookingRequest.model_validate(
        {
            "profile_id": "p-1",
            "service_id": "install",
            "location_id": "shop-1",
            "starts_at": "2026-12-07T09:00:00+08:00",
            **changes,
        }
    )


def test_a_slot_takes_its_capacity_then_refuses_with_alternatives() -> None:
    service = service_with()
    first, made = service.book(request())
    assert made and first.local_time == "2026-12-07 09:00" and first.timezone == "Asia/Shanghai"
    service.book(request(profile_id="p-2"))
    with pytest.raises(SlotTakenError) as refused:
        service.book(request(booking_id="third", profile_id="p-2"))
    alternatives = refused.value.details["alternatives"]
    assert alternatives and alternatives[0]["local"] == "2026-12-07 10:30"
    assert all(a["remaining"] > 0 for a in alternatives)
    slots = service.available("install", "shop-1", date(2026, 12, 7), date(2026, 12, 7))
    assert "2026-12-07 09:00" not in [s["local"] for s in slots]


def test_the_same_request_again_is_the_same_booking_and_announced_once_per_version() -> None:
    service = service_with()
    first, _ = service.book(request())
    again, made = service.book(request())
    assert not made and again.booking_id == first.booking_id
    places = service.store.booked("shop-1", "install", date(2026, 12, 7))  # type: ignore[attr-defined]
    assert places == {"09:00": 1}
    said = service.announcer.said  # type: ignore[attr-defined]
    assert said == [(first.booking_id, "booked", 1), (first.booking_id, "booked", 1)]  # one touchpoint id


def test_an_order_line_books_its_installation_once_and_only_for_its_products() -> None:
    service = service_with(skus=["WASHER-9"])
    one, _ = service.book(request(order_id="o-1", sku="WASHER-9"))
    two, made = service.book(request(order_id="o-1", sku="WASHER-9", starts_at="2026-12-07T10:30:00+08:00"))
    assert not made and two.booking_id == one.booking_id
    with pytest.raises(InvalidInputError, match="not a product"):
        service.book(request(order_id="o-1", sku="KETTLE-1"))


@pytest.mark.parametrize(
    ("starts_at", "error"),
    [
        ("2026-12-07T09:15:00+08:00", InvalidInputError),  # not on the step
        ("2026-12-06T09:00:00+08:00", InvalidInputError),  # Sunday: closed
        ("2026-12-03T10:30:00+08:00", RuleRefusedError),  # inside the minimum notice
        ("2026-12-01T09:00:00+08:00", RuleRefusedError),  # past
    ],
)
def test_a_slot_the_schedule_does_not_have_is_refused(starts_at: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        service_with().book(request(starts_at=starts_at))


def test_unknown_customer_service_or_location() -> None:
    with pytest.raises(NotFoundError):
        service_with().book(request(profile_id="nobody"))
    with pytest.raises(NotFoundError):
        service_with().book(request(location_id="shop-2"))


def test_reschedule_moves_the_place_and_cancel_gives_it_back() -> None:
    service = service_with()
    booking, _ = service.book(request())
    moved = service.reschedule(booking.booking_id, datetime(2026, 12, 8, 2, 30, tzinfo=UTC))
    assert moved.local_time == "2026-12-08 10:30" and moved.version == 2
    memory = service.store
    assert memory.booked("shop-1", "install", date(2026, 12, 7)) == {"09:00": 0}  # type: ignore[attr-defined]
    assert memory.booked("shop-1", "install", date(2026, 12, 8)) == {"10:30": 1}  # type: ignore[attr-defined]
    cancelled = service.cancel(booking.booking_id)
    assert cancelled.status == "cancelled"
    assert memory.booked("shop-1", "install", date(2026, 12, 8)) == {"10:30": 0}  # type: ignore[attr-defined]
    with pytest.raises(RuleRefusedError):
        service.cancel(booking.booking_id)
    said = [change for _, change, _ in service.announcer.said]  # type: ignore[attr-defined]
    assert said == ["booked", "rescheduled", "cancelled"]
    again, made = service.book(request())  # the same slot after a cancellation: a new booking
    assert made and again.booking_id != booking.booking_id


def test_cut_off_binds_the_customer_not_the_admin() -> None:
    service = service_with(cutoff_hours=24)
    booking, _ = service.book(request(starts_at="2026-12-04T09:00:00+08:00"))  # in 23 hours
    with pytest.raises(TooLateError):
        service.cancel(booking.booking_id)
    with pytest.raises(TooLateError):
        service.reschedule(booking.booking_id, datetime(2026, 12, 7, 1, 0, tzinfo=UTC))
    assert service.cancel(booking.booking_id, override=True).status == "cancelled"


def test_outcomes_are_recorded_after_the_start_once() -> None:
    service = service_with()
    booking, _ = service.book(request())
    with pytest.raises(RuleRefusedError, match="not started"):
        service.record(booking.booking_id, "attended")
    service.clock.current = booking.starts_at + timedelta(minutes=70)  # type: ignore[attr-defined]
    attended = service.record(booking.booking_id, "attended")
    assert attended.status == "attended"
    assert service.record(booking.booking_id, "attended").version == attended.version  # again: nothing
    with pytest.raises(RuleRefusedError):
        service.record(booking.booking_id, "no_show")
    with pytest.raises(ConflictError):
        service.book(
            request(
                booking_id=booking.booking_id, location_id="shop-1", service_id="install", profile_id="p-2"
            )
        )
