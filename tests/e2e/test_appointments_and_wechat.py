"""On the local stack, over real HTTP: an installation booked from an online order, its reminders
sent inside the store's hours as the stack's clock moves, attendance marked from the console
and the satisfaction survey that follows; and a WeChat subscribe that ends with a profile
holding the openid and the unionid from the simulated WeChat API's user-info answer."""

from __future__ import annotations

import base64
import csv
import io
import json
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.domain.ingest.signatures import wechat_signature
from tests.e2e.test_living_stack import ADMIN, admin, advance, stack_now
from tests.e2e.test_local_stack import SERVER_WRITE_KEY, RunningStack, http, wait_for

pytestmark = pytest.mark.e2e
SHANGHAI = ZoneInfo("Asia/Shanghai")
SERVER = {
    "Authorization": "Basic " + base64.b64encode(f"{SERVER_WRITE_KEY}:".encode()).decode(),
    "Content-Type": "application/json",
}
EVERY_DAY = {
    day: [{"open": "09:00", "close": "18:00"}] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


def inbox(stack: RunningStack, profile_id: str) -> list[dict[str, Any]]:
    status, found = admin(stack, "GET", f"/inbox/{profile_id}")
    assert status == 200, found
    return list(found["messages"])


def delivered_rows(stack: RunningStack, journey_id: str) -> list[dict[str, str]]:
    request = urllib.request.Request(stack.url(f"/journeys/{journey_id}/outcomes.csv"), headers=ADMIN)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        rows = csv.DictReader(io.StringIO(response.read().decode()))
        return [row for row in rows if row["status"] in ("sent", "delivered")]


def local(moment: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(SHANGHAI)


def test_an_installation_booked_from_an_online_order_is_reminded_in_store_hours_then_surveyed():
    stack = RunningStack()  # its own: this one moves its clock days ahead
    try:
        _installation(stack)
    finally:
        assert stack.stop() == 0


def _installation(stack: RunningStack) -> None:
    service = {"name": "Washer installation", "duration_minutes": 90, "skus": ["WASHER-9"]}
    assert admin(stack, "PUT", "/appointment-services/install", service)[0] == 200
    location = {
        "name": "Pudong store",
        "timezone": "Asia/Shanghai",
        "hours": EVERY_DAY,
        "capacity": {"install": 2},
    }
    assert admin(stack, "PUT", "/appointment-locations/pudong", location)[0] == 200
    for template in ("appointment_reminders", "appointment_follow_up"):
        status, made = admin(
            stack, "POST", "/journeys", {"journey_id": f"e2e-{template}", "template": template}
        )
        assert status == 201, made

    # The shop's backend reports the online order (server-side key).
    now = stack_now(stack)
    order = {
        "userId": "washer-buyer",
        "event": "Order Completed",
        "messageId": "washer-order-1",
        "timestamp": now.isoformat(),
        "properties": {
            "order_id": "W-1001",
            "total": 3999,
            "currency": "CNY",
            "products": [{"sku": "WASHER-9", "name": "Washer", "quantity": 1, "price": 3999}],
        },
    }
    status, answer = http("POST", stack.url("/v1/track"), body=json.dumps(order).encode(), headers=SERVER)
    assert status == 200, answer
    found = wait_for(
        lambda: (
            (r := admin(stack, "GET", "/profiles?user_id=washer-buyer"))[0] == 200
            and r[1]["orders"] == 1
            and r[1]
        ),
        timeout=30,
        what="the buyer's profile",
    )
    profile_id = found["profile_id"]

    # The installation, the day after tomorrow at 09:00 in the store's time.
    day = (now.astimezone(SHANGHAI) + timedelta(days=2)).date()
    query = urllib.parse.urlencode(
        {"service_id": "install", "location_id": "pudong", "from": day.isoformat()}
    )
    status, offered = http("GET", stack.url(f"/appointments/slots?{query}"), headers=SERVER)
    assert status == 200, offered
    nine = next(s for s in offered["slots"] if s["local"].endswith("09:00"))
    booking = {
        "profile_id": profile_id,
        "service_id": "install",
        "location_id": "pudong",
        "starts_at": nine["starts_at"],
        "channel": "ecommerce",
        "order_id": "W-1001",
        "sku": "WASHER-9",
    }
    status, booked = http(
        "POST", stack.url("/appointments"), body=json.dumps(booking).encode(), headers=SERVER
    )
    assert status == 201, booked
    starts = datetime.fromisoformat(booked["starts_at"])

    # Past the moment both reminders were due: the 24-hour one at 09:00 the day before, the
    # 2-hour one (07:00, before opening) at the end of the day before's hours.
    advance(stack, (starts - stack_now(stack)).total_seconds() - 3600)
    reminders = delivered_rows(stack, "e2e-appointment_reminders")
    times = sorted(local(row["at"]) for row in reminders)
    assert [t.strftime("%H:%M") for t in times] == ["09:00", "17:45"], reminders
    assert all(t.date() == day - timedelta(days=1) for t in times)
    bodies = [m["body"] for m in inbox(stack, profile_id)]
    assert (
        bodies.count(
            f"Reminder: your install appointment is at {day.isoformat()} 09:00 (pudong). "
            "Need another time? Change or cancel it in the app."
        )
        == 2
    )

    advance(stack, 3600 + 30 * 60)  # the installation is under way
    status, attended = admin(stack, "POST", f"/appointments/{booked['booking_id']}/attended")
    assert status == 200 and attended["status"] == "attended", attended
    advance(stack, 2 * 3600 + 120)
    survey = wait_for(
        lambda: [m for m in inbox(stack, profile_id) if m["body"].startswith("Thanks for coming in")],
        timeout=30,
        what="the survey",
    )
    assert survey[0]["body"] == "Thanks for coming in, there! How was your install? Rate it in one tap."
    status, listed = admin(stack, "GET", f"/appointments?profile_id={profile_id}")
    assert [a["status"] for a in listed["appointments"]] == ["attended"]


def test_a_wechat_subscribe_ends_with_openid_and_unionid_on_the_profile(stack):
    app_secret = "e2eappsecret0123456789abcdef"
    source = {
        "source_id": "e2e-oa",
        "name": "Official account",
        "kind": "wechat",
        "channel": "wechat",
        "signing_secret": "e2etoken",
        "app_id": "wxe2e0000000001",
        "app_secret": app_secret,
    }
    status, created = admin(stack, "POST", "/sources", source)
    assert status == 201, created
    assert app_secret not in json.dumps(created)
    created_at = str(int(stack_now(stack).timestamp()))
    xml = (
        "<xml><ToUserName>gh_e2e</ToUserName><FromUserName>o-e2e-subscriber</FromUserName>"
        f"<CreateTime>{created_at}</CreateTime><MsgType>event</MsgType><Event>subscribe</Event></xml>"
    )
    signature = wechat_signature("e2etoken", created_at, "n-1")
    query = f"signature={signature}&timestamp={created_at}&nonce=n-1&openid=o-e2e-subscriber"
    started = time.monotonic()
    request = urllib.request.Request(  # noqa: S310 (the local stack)
        stack.url(f"/webhooks/wechat/e2e-oa?{query}"),
        data=xml.encode(),
        method="POST",
        headers={"Content-Type": "text/xml"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert (response.status, response.read()) == (200, b"success")  # what WeChat expects
    assert time.monotonic() - started < 5  # WeChat's limit for the answer: the lookup is not in it

    def linked() -> Any:
        status, profile = admin(stack, "GET", "/profiles?wechat_openid=o-e2e-subscriber")
        if status != 200:
            return None
        kinds = {i["type"]: i["value"] for i in profile["identifiers"]}
        return kinds if "wechat_unionid" in kinds else None

    identifiers = wait_for(linked, timeout=60, what="the unionid on the profile")
    assert identifiers["wechat_openid"] == "o-e2e-subscriber"
    assert identifiers["wechat_unionid"].startswith("u")  # what the simulated user-info API answered
    probe = f"{stack.ready['message_gateway']}/cgi-bin/user/info?access_token=x&openid=o"
    with urllib.request.urlopen(probe, timeout=5) as r:  # noqa: S310
        assert json.loads(r.read())["errcode"] == 40001  # the simulator checks the token it issued
