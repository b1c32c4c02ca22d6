"""The last places of a slot under concurrent bookers, on dynalite (atomic conditional writes):
30 customers booking a 5-place slot at once get exactly 5 bookings, and the counter, the holders
and the stored bookings agree."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

from shared.domain.appointments.bookings import Appointments, BookingRequest, SlotTakenError
from shared.domain.appointments.schedule import Location, OpeningWindow, ServiceType
from shared.wiring import appointments as appointments_wiring
from tests.fakes import FakeClock, RecordingAnnouncer
from tests.races.test_profile_races import run_together

SLOT = "2026-12-07T10:00:00+08:00"


def appointments() -> Appointments:
    store = appointments_wiring.get_appointment_store()
    store.save_service(ServiceType(service_id="eye-test", name="Eye test", duration_minutes=30))
    store.save_location(
        Location(
            location_id="optician-1",
            name="Optician",
            timezone="Asia/Shanghai",
            hours={"mon": [OpeningWindow(open="09:00", close="18:00")]},
            capacity={"eye-test": 5},
        )
    )
    announcer = RecordingAnnouncer(customers={f"p-{n}" for n in range(60)})
    return Appointments(
        store=store, announcer=announcer, clock=FakeClock(datetime(2026, 12, 3, 2, 0, tzinfo=UTC))
    )


def test_thirty_bookings_for_five_places_make_exactly_five(on_dynalite):
    service = appointments()
    booked: list[str] = []
    taken: list[str] = []
    offered: list[int] = []
    lock = threading.Lock()

    def booker(number: int) -> None:
        request = BookingRequest(
            profile_id=f"p-{number}",
            service_id="eye-test",
            location_id="optician-1",
            starts_at=datetime.fromisoformat(SLOT),
            channel="wechat" if number % 2 else "web",
        )
        try:
            booking, made = service.book(request)
        except SlotTakenError as refused:
            with lock:
                taken.append(f"p-{number}")
                offered.append(len(refused.details["alternatives"]))
            return
        assert made
        with lock:
            booked.append(booking.booking_id)

    run_together([lambda n=n: booker(n) for n in range(30)])
    assert len(booked) == 5 and len(taken) == 25
    assert min(offered) > 0  # every refusal offers other slots
    store = appointments_wiring.get_appointment_store()
    assert store.booked("optician-1", "eye-test", date(2026, 12, 7)) == {"10:00": 5}
    stored = [store.booking(booking_id) for booking_id in booked]
    assert all(b is not None and b.status == "booked" for b in stored)
    # The slot is gone from what customers are offered, and retrying a winner takes no place.
    slots = service.available("eye-test", "optician-1", date(2026, 12, 7), date(2026, 12, 7))
    assert "2026-12-07 10:00" not in [s["local"] for s in slots]


def test_the_same_booking_retried_concurrently_takes_one_place(on_dynalite):
    service = appointments()
    request = BookingRequest(
        profile_id="p-50",
        service_id="eye-test",
        location_id="optician-1",
        starts_at=datetime.fromisoformat("2026-12-07T11:00:00+08:00"),
    )
    answers: list[str] = []
    run_together([lambda: answers.append(service.book(request)[0].booking_id) for _ in range(8)])
    assert len(set(answers)) == 1
    store = appointments_wiring.get_appointment_store()
    assert store.booked("optician-1", "eye-test", date(2026, 12, 7))["11:00"] == 1
