"""Appointments end to end on moto: an online order's installation is booked through the API,
its touchpoint reaches the profile and the reminder journey, the reminders go out inside the
store's hours and move with the booking, the store's system reports attendance over a signed
webhook, and the satisfaction survey follows."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from standardwebhooks import Webhook

from functions.campaigns.events import lambda_handler as engagement_consumer
from functions.campaigns.scheduler import tick
from shared.wiring import appointments as appointments_wiring
from shared.wiring import customers as customers_wiring
from shared.wiring import engagement as engagement_wiring
from tests.integration import test_campaigns_flow as campaigns_flow
from tests.integration.conftest import WRITE_KEY
from tests.integration.test_campaigns_flow import call, dispatch_all, person
from tests.integration.test_segments_flow import ADMIN, SEGMENT, run_queue
from tests.integration.test_touchpoint_slice import deliver, drain

SHANGHAI = ZoneInfo("Asia/Shanghai")
SERVER = SEGMENT  # the shop's backend (server-side key)
BROWSER = {
    "Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode(),
    "Content-Type": "application/json",
}
clock, senders, client = campaigns_flow.clock, campaigns_flow.senders, campaigns_flow.client  # fixtures
HOURS = {day: [{"open": "09:00", "close": "18:00"}] for day in ("mon", "tue", "wed", "thu", "fri", "sat")}


def local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%a %Y-%m-%d %H:%M")


def pipeline(stack) -> None:
    """Touchpoints to profiles and the bus; the bus's appointment events to journeys."""
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    run_queue(stack, "EngagementQueue", engagement_consumer, "EngagementEventsFunction")


@pytest.fixture
def shop(stack, client):
    service = {
        "name": "Washer installation",
        "duration_minutes": 90,
        "skus": ["WASHER-9"],
        "cutoff_hours": 24,
    }
    status, made = call(client, "put", "/appointment-services/install", service)
    assert status == 200, made
    location = {
        "name": "Shanghai store",
        "timezone": "Asia/Shanghai",
        "hours": HOURS,
        "capacity": {"install": 1},
    }
    status, made = call(client, "put", "/appointment-locations/sh-1", location)
    assert status == 200, made
    for template in ("appointment_reminders", "appointment_follow_up"):
        status, made = call(
            client, "post", "/journeys", {"journey_id": template.replace("_", "-"), "template": template}
        )
        assert status == 201, made
    return client


def booking_body(profile_id: str, starts_at: str, **changes: str) -> dict[str, str]:
    return {
        "profile_id": profile_id,
        "service_id": "install",
        "location_id": "sh-1",
        "starts_at": starts_at,
        "channel": "ecommerce",
        "order_id": "W-1",
        "sku": "WASHER-9",
        **changes,
    }


def test_an_installation_booked_from_an_order_is_reminded_in_store_hours_then_followed_up(
    stack, shop, senders, clock
):
    ana = person(stack, "ana", email="ana@example.com")
    # NOW is Tuesday 24 November, 17:00 in Shanghai. Thursday's slots (90 minutes from 09:00):
    status, offered = call(
        shop, "get", "/appointments/slots?service_id=install&location_id=sh-1&from=2026-11-26"
    )
    assert status == 200
    assert [s["local"][-5:] for s in offered["slots"]] == [
        "09:00",
        "10:30",
        "12:00",
        "13:30",
        "15:00",
        "16:30",
    ]
    status, booked = call(
        shop, "post", "/appointments", booking_body(ana, "2026-11-26T12:00:00+08:00"), SERVER
    )
    assert status == 201, booked
    assert booked["local_time"] == "2026-11-26 12:00" and booked["status"] == "booked"
    status, again = call(
        shop, "post", "/appointments", booking_body(ana, "2026-11-26T12:00:00+08:00"), SERVER
    )
    assert (status, again["booking_id"]) == (200, booked["booking_id"])  # the order line's booking, once

    # The last place is gone: someone else gets a clear refusal and other slots.
    ben = person(stack, "ben", email="ben@example.com")
    status, refused = call(
        shop, "post", "/appointments", booking_body(ben, "2026-11-26T12:00:00+08:00", order_id="W-2"), SERVER
    )
    assert status == 409 and refused["error"]["code"] == "slot_taken"
    assert refused["error"]["details"]["alternatives"][0]["local"] == "2026-11-26 13:30"
    # A browser's key reports behaviour; it does not take a store's capacity.
    status, denied = call(
        shop, "post", "/appointments", booking_body(ben, "2026-11-26T13:30:00+08:00"), BROWSER
    )
    assert status == 403, denied

    pipeline(stack)
    engagement = engagement_wiring.get_engagement()
    (reminders,) = engagement.instances(ana)
    assert local(reminders.wake_at) == "Wed 2026-11-25 12:00"  # 24 hours before, the store is open

    # The customer moves it to Friday 09:00: the 2-hour reminder would be 07:00, before opening,
    # so it goes at the end of Thursday's hours instead.
    status, moved = call(
        shop,
        "post",
        f"/appointments/{booked['booking_id']}/reschedule",
        {"starts_at": "2026-11-27T09:00:00+08:00"},
        SERVER,
    )
    assert status == 200 and moved["local_time"] == "2026-11-27 09:00" and moved["version"] == 2
    pipeline(stack)
    instances = {i.key: i for i in engagement.instances(ana)}
    assert instances[f"{booked['booking_id']}.1"].status == "exited"
    fresh = instances[f"{booked['booking_id']}.2"]
    assert local(fresh.wake_at) == "Thu 2026-11-26 09:00"

    clock.current = fresh.wake_at
    assert tick()["journey_fired"] == 1
    dispatch_all(stack)
    first = senders["email"].sent
    assert [m.body for m in first] == [
        "Reminder: your install appointment is at 2026-11-27 09:00 (sh-1). Need another time? "
        "Change or cancel it in the app."
    ]
    (waiting,) = [i for i in engagement.instances(ana) if i.status == "waiting"]
    assert local(waiting.wake_at) == "Thu 2026-11-26 17:45"  # not 07:00 on Friday: closed then
    clock.current = waiting.wake_at
    assert tick()["journey_fired"] == 1
    dispatch_all(stack)
    # The 2-hour reminder asks for WeChat or SMS (she has neither) before the app's inbox.
    status, inbox = call(shop, "get", f"/inbox/{ana}")
    assert [m["body"] for m in inbox["messages"]] == [first[0].body]
    status, report = call(shop, "get", "/journeys/appointment-reminders/report")
    assert report["outcomes"] == {"sent": 1, "delivered": 1}
    rows = _rows(shop, "appointment-reminders")
    sent_at = [datetime.fromisoformat(row["sent_at"] or row["at"]) for row in rows]
    assert [local(s) for s in sent_at] == ["Thu 2026-11-26 09:00", "Thu 2026-11-26 17:45"], rows

    # The store's system says she came, signed as Standard Webhooks sign.
    status, source = call(
        shop,
        "post",
        "/sources",
        {"source_id": "store-system", "name": "Stores", "kind": "standard_webhooks", "channel": "pos"},
    )
    assert status == 201, source
    clock.current = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # Friday 11:00 in Shanghai
    body = json.dumps({"type": "appointment.attended", "data": {"booking_id": booked["booking_id"]}})
    signed = {
        "webhook-id": "att-1",
        "webhook-timestamp": str(int(clock.current.timestamp())),
        "webhook-signature": Webhook(source["credentials"]["signing_secret"]).sign(
            "att-1", clock.current, body
        ),
        "Content-Type": "application/json",
    }
    response = shop.http.post("/appointments/outcomes/store-system", headers=signed, body=body)
    assert response.status_code == 200, response.body
    forged = {**signed, "webhook-signature": "v1,AAAA"}
    assert shop.http.post("/appointments/outcomes/store-system", headers=forged, body=body).status_code == 401
    pipeline(stack)
    status, listed = call(shop, "get", f"/appointments?profile_id={ana}")
    assert status == 200 and [a["status"] for a in listed["appointments"]] == ["attended"]
    profile = customers_wiring.get_customer_graph().profiles([ana])[ana]
    assert {"Appointment Booked|install", "Appointment Attended|install"} <= set(profile.last_did)

    clock.advance(timedelta(hours=2, minutes=1))
    assert tick()["journey_fired"] == 1
    dispatch_all(stack)
    assert senders["email"].sent[-1].body == (
        "Thanks for coming in, Ana! How was your install? Rate it in one tap."
    )


def _rows(client, journey_id: str, *, every: bool = False) -> list[dict[str, str]]:
    import csv
    import io

    response = client.http.get(f"/journeys/{journey_id}/outcomes.csv", headers=ADMIN)
    text = response.body.decode() if isinstance(response.body, bytes) else response.body
    return [
        row for row in csv.DictReader(io.StringIO(text)) if every or row["status"] in ("sent", "delivered")
    ]


def test_cancelling_ends_the_reminders_and_frees_the_place(stack, shop, senders, clock):
    ana = person(stack, "ana", email="ana@example.com")
    status, booked = call(
        shop, "post", "/appointments", booking_body(ana, "2026-11-26T12:00:00+08:00"), SERVER
    )
    assert status == 201
    pipeline(stack)
    status, cancelled = call(shop, "post", f"/appointments/{booked['booking_id']}/cancel", None, SERVER)
    assert status == 200 and cancelled["status"] == "cancelled"
    pipeline(stack)
    assert [i.status for i in engagement_wiring.get_engagement().instances(ana)] == ["exited"]
    status, offered = call(
        shop, "get", "/appointments/slots?service_id=install&location_id=sh-1&from=2026-11-26"
    )
    assert "2026-11-26 12:00" in [s["local"] for s in offered["slots"]]
    clock.advance(timedelta(days=3))
    assert tick()["journey_fired"] == 0
    dispatch_all(stack)
    assert senders["email"].sent == []


def test_bad_input_is_a_4xx_and_writes_nothing(stack, shop, clock):
    ana = person(stack, "ana", email="ana@example.com")
    cases = [
        (booking_body(ana, "2026-11-26T12:15:00+08:00"), 400),  # off the slot grid
        (booking_body(ana, "2026-11-29T12:00:00+08:00"), 400),  # Sunday: closed
        (booking_body(ana, "2026-11-26T12:00:00"), 400),  # no offset
        (booking_body(ana, "2026-11-20T12:00:00+08:00"), 422),  # the past
        (booking_body(ana, "2026-11-26T12:00:00+08:00", sku="KETTLE"), 400),  # not a product it installs
        (booking_body("nobody", "2026-11-26T12:00:00+08:00"), 404),
        (booking_body(ana, "2026-11-26T12:00:00+08:00", location_id="sh-9"), 404),
    ]
    for body, expected in cases:
        status, answer = call(shop, "post", "/appointments", body, SERVER)
        assert status == expected, (body, answer)
        assert set(answer) == {"error"}
    status, answer = call(
        shop, "get", "/appointments/slots?service_id=install&location_id=sh-1&from=2026-11-01&to=2027-01-31"
    )
    assert status == 400 and "31 days" in answer["error"]["message"]
    status, listed = call(shop, "get", f"/appointments?profile_id={ana}")
    assert listed["appointments"] == []
    status, answer = call(
        shop, "put", "/appointment-locations/sh-2", {"name": "X", "timezone": "Mars/Olympus"}
    )
    assert status == 400


def test_an_erased_customer_leaves_no_booking_and_gives_the_place_back(stack, shop, clock):
    from shared.domain.kernel.events import PROFILE_ERASED
    from shared.triggers import BusEvent

    ana = person(stack, "ana", email="ana@example.com")
    status, booked = call(
        shop, "post", "/appointments", booking_body(ana, "2026-11-26T12:00:00+08:00"), SERVER
    )
    assert status == 201
    pipeline(stack)
    erased = BusEvent.model_validate({"detail-type": PROFILE_ERASED, "detail": {"profile_ids": [ana]}})
    from functions.campaigns.events import handle

    assert handle(erased) == "erased"
    assert handle(erased) == "erased"  # a redelivery: nothing more to do, nothing given back twice
    store = appointments_wiring.get_appointment_store()
    assert store.booking(booked["booking_id"]) is None and store.bookings_of(ana) == []
    assert store.booked("sh-1", "install", date(2026, 11, 26)) == {"12:00": 0}
    assert engagement_wiring.get_engagement().instances(ana) == []
