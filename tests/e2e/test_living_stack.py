"""The local stack as a developer lives in it: its data survives a restart, a burst of clients is
answered, and its clock can be moved forward to watch a months-long journey happen."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from standardwebhooks import Webhook

from tests.e2e.test_local_stack import (
    ADMIN_KEY,
    SERVER_WRITE_KEY,
    RunningStack,
    get_touchpoint,
    http,
    wait_for,
)

pytestmark = pytest.mark.e2e
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
SHOPIFY_SECRET = "shpss_e2e_persisted_secret_0123456789"  # the app's client secret, as Shopify issues it


def admin(
    stack: RunningStack, method: str, path: str, body: Any = None, *, timeout: float = 10
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    return http(method, stack.url(path), body=data, headers=ADMIN, timeout=timeout)


def shopify_order(stack: RunningStack, secret: str, order_id: int) -> tuple[int, str]:
    """A Shopify `orders/create` webhook signed as Shopify signs it; the touchpoint id it makes."""
    body = json.dumps(
        {
            "id": order_id,
            "email": "lin@example.com",
            "total_price": "10.00",
            "currency": "CNY",
            "line_items": [],
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": f"evt-{order_id}",
        "X-Shopify-Hmac-Sha256": base64.b64encode(
            hmac.new(secret.encode(), body, hashlib.sha256).digest()
        ).decode(),
    }
    status, _ = http("POST", stack.url("/webhooks/shopify/shop"), body=body, headers=headers)
    return status, f"shopify:shop:{hashlib.sha256(body).hexdigest()[:40]}"


def archived(stack: RunningStack, touchpoint_id: str) -> Any:
    return wait_for(
        lambda: (found := get_touchpoint(stack, touchpoint_id))[0] == 200 and found[1],
        timeout=30,
        what=f"touchpoint {touchpoint_id}",
    )


def test_sources_and_touchpoints_survive_a_restart_and_fresh_starts_empty():
    first = RunningStack()
    try:
        status, created = admin(
            first,
            "POST",
            "/sources",
            {
                "source_id": "shop",
                "name": "Shop",
                "kind": "shopify",
                "channel": "ecommerce",
                "signing_secret": SHOPIFY_SECRET,
            },
        )
        assert status == 201, created
        secret = SHOPIFY_SECRET
        status, before = shopify_order(first, secret, 1)
        assert status == 200
        archived(first, before)
    finally:
        assert first.stop() == 0
    stopped = first.record("stopped")
    assert stopped is not None and stopped["saved_to"] == str(first.data_dir)
    assert stopped["seconds"] < 10

    again = RunningStack(data_dir=first.data_dir)
    try:
        assert archived(again, before)["touchpoint_id"] == before
        status, after = shopify_order(again, secret, 2)  # the kept source still verifies its webhooks
        assert status == 200
        archived(again, after)
        status, _ = shopify_order(again, "not-the-secret", 3)
        assert status == 401
    finally:
        assert again.stop() == 0

    fresh = RunningStack("--fresh", data_dir=first.data_dir)
    try:
        assert get_touchpoint(fresh, before)[0] == 404
        status, sources = admin(fresh, "GET", "/sources")
        assert status == 200 and "shop" not in {s["source_id"] for s in sources["sources"]}
    finally:
        assert fresh.stop() == 0


def test_fifty_concurrent_clients_each_get_an_http_answer(stack):
    answers: list[Any] = []
    start = threading.Barrier(50)

    def client(index: int) -> None:
        body = json.dumps(
            {"userId": f"burst-{index}", "event": "Product Viewed", "messageId": f"burst-{index}"}
        )
        request = urllib.request.Request(  # noqa: S310 (local URL)
            stack.url("/v1/track"),
            data=body.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic " + base64.b64encode(f"{SERVER_WRITE_KEY}:".encode()).decode(),
            },
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
                answers.append(response.status)
        except urllib.error.HTTPError as error:
            answers.append(error.code)
        except OSError as error:  # a reset or refused connection: no HTTP answer at all
            answers.append(repr(error))

    threads = [threading.Thread(target=client, args=(index,)) for index in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert answers == [200] * 50


def test_two_hundred_concurrent_reservations_get_final_answers_and_never_oversell(stack):
    """The documented concurrency at the till: 200 carts at once for 150 lamps. Each gets a final
    answer (reserved, or out of stock), none a 5xx or an internal address, and exactly the stock
    there is ends up held."""
    assert admin(stack, "PUT", "/inventory/locations/rush-store", {"name": "Rush", "kind": "store"})[0] == 200
    channel = {"name": "Rush web", "kind": "web", "locations": ["rush-store"]}
    assert admin(stack, "PUT", "/inventory/channels/rush-web", channel)[0] == 200
    count = {"on_hand": 150, "request_id": "rush-count"}
    assert admin(stack, "PUT", "/inventory/stock/RUSH-LAMP/rush-store", count)[0] == 200
    answers: list[tuple[Any, Any]] = []
    start = threading.Barrier(200)

    def cart(index: int) -> None:
        body = {
            "request_id": f"rush-{index}",
            "channel_id": "rush-web",
            "lines": [{"sku": "RUSH-LAMP", "quantity": 1}],
        }
        start.wait()
        try:
            answers.append(admin(stack, "POST", "/inventory/reservations", body, timeout=180))
        except OSError as error:  # no HTTP answer at all
            answers.append((repr(error), None))

    threads = [threading.Thread(target=cart, args=(index,)) for index in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    statuses = sorted(str(status) for status, _ in answers)
    assert statuses == ["201"] * 150 + ["409"] * 50
    assert {body["error"]["code"] for status, body in answers if status == 409} == {"insufficient_stock"}
    assert not any("amazonaws" in json.dumps(body) or "127.0.0.1" in json.dumps(body) for _, body in answers)
    status, availability = admin(stack, "GET", "/inventory/availability/RUSH-LAMP")
    assert status == 200
    assert [(row["reserved"], row["available"]) for row in availability["locations"]] == [(150, 0)]


# ------------------------------------------------------------------ the Biostime journey
FORMULA = "BIOSTIME-FORMULA-900G"


def stack_now(stack: RunningStack) -> datetime:
    status, clock = admin(stack, "GET", "/_local/clock")
    assert status == 200, clock
    return datetime.fromisoformat(clock["now"])


def advance(stack: RunningStack, seconds: float) -> dict[str, Any]:
    status, moved = admin(stack, "POST", "/_local/clock", {"advance": f"{seconds:.0f}s"}, timeout=1800)
    assert status == 200, moved
    assert moved["still_queued"] == {}, moved
    return dict(moved)


def pos_sale(stack: RunningStack, secret: str, transaction_id: str, *, consent: bool = False) -> None:
    """A till sale, signed as Standard Webhooks sign it, at the stack's time."""
    now = stack_now(stack)
    customer: dict[str, Any] = {
        "loyalty_card": "LC-BIO-1",
        "wechat_openid": "o-bio-mum",
        "email": "mum@example.com",
    }
    sale = {
        "type": "pos.transaction.completed",
        "timestamp": now.isoformat(),
        "data": {
            "transaction_id": transaction_id,
            "store_id": "SH-01",
            "currency": "cny",
            "total": "328.00",
            "customer": customer,
            "lines": [{"sku": FORMULA, "name": "Formula 900 g", "quantity": 1, "unit_price": "328.00"}],
            **(
                {
                    "consent": [
                        {"channel": channel, "status": "granted", "reason": "signed up at the till"}
                        for channel in ("wechat", "email", "sms")
                    ]
                }
                if consent
                else {}
            ),
        },
    }
    body = json.dumps(sale)
    headers = {
        "webhook-id": transaction_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(transaction_id, now, body),
        "Content-Type": "application/json",
    }
    status, answer = http("POST", stack.url("/webhooks/standard/tills"), body=body.encode(), headers=headers)
    assert status == 200, answer


def app_order(stack: RunningStack, order_id: str) -> None:
    """The same mother ordering in the app: its backend reports the order (server-side key)."""
    now = stack_now(stack)
    call = {
        "userId": "bio-mum",
        "event": "Order Completed",
        "messageId": f"app-{order_id}",
        "timestamp": now.isoformat(),
        "context": {"traits": {"email": "mum@example.com"}},
        "properties": {
            "order_id": order_id,
            "total": 328,
            "currency": "CNY",
            "products": [{"sku": FORMULA, "name": "Formula 900 g", "quantity": 1, "price": 328}],
        },
    }
    status, answer = http(
        "POST",
        stack.url("/v1/track"),
        body=json.dumps(call).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"{SERVER_WRITE_KEY}:".encode()).decode(),
        },
    )
    assert status == 200, answer


def outcomes(stack: RunningStack, journey_id: str) -> list[dict[str, str]]:
    request = urllib.request.Request(stack.url(f"/journeys/{journey_id}/outcomes.csv"), headers=ADMIN)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return list(csv.DictReader(io.StringIO(response.read().decode())))


def wechat_received(stack: RunningStack) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{stack.ready['message_gateway']}/wechat?to=o-bio-mum", timeout=10) as r:  # noqa: S310
        return list(json.loads(r.read())["messages"])


def local(moment: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(SHANGHAI)


def test_the_biostime_journey_happens_at_the_right_local_times_when_the_clock_moves():
    """Three formula purchases, on the till and in the app, 20 days apart. Each can gets its
    check-in 3 days before it runs out; after the last, the repurchase prompt when it has run out,
    and the win-back 90 days after it: each once, at 10:00 in the mother's timezone."""
    stack = RunningStack()
    try:
        status, created = admin(
            stack,
            "POST",
            "/sources",
            {"source_id": "tills", "name": "Tills", "kind": "standard_webhooks", "channel": "pos"},
        )
        assert status == 201, created
        secret = created["credentials"]["signing_secret"]
        for template in ("post_purchase", "win_back"):
            status, made = admin(
                stack, "POST", "/journeys", {"journey_id": template.replace("_", "-"), "template": template}
            )
            assert status == 201, made  # WeChat, SMS and email all have a sender locally

        # Start at 09:00 in Shanghai, so each purchase comes an hour before the 10:00 sends.
        now = stack_now(stack).astimezone(SHANGHAI)
        nine = now.replace(hour=9, minute=0, second=0, microsecond=0)
        nine += timedelta(days=1) if nine <= now else timedelta(0)
        advance(stack, (nine - now).total_seconds())
        day0 = stack_now(stack).astimezone(SHANGHAI).date()

        pos_sale(stack, secret, "T-1", consent=True)
        advance(stack, 20 * 86400)
        app_order(stack, "APP-2")
        advance(stack, 20 * 86400)
        pos_sale(stack, secret, "T-3")
        advance(stack, 95 * 86400)

        follow_up = outcomes(stack, "post-purchase")
        win_back = outcomes(stack, "win-back")
        sent = sorted(
            [
                (row["run_key"].split(":")[0], local(row["sent_at"]))
                for row in follow_up
                if row["status"] == "sent"
            ],
            key=lambda found: found[1],
        )
        days = [((at.date() - day0).days, step, at.strftime("%H:%M")) for step, at in sent]
        # Step 1 is the check-in before the can runs out, step 3 the repurchase prompt.
        assert days == [(17, "1", "10:00"), (37, "1", "10:00"), (57, "1", "10:00"), (60, "3", "10:00")], (
            follow_up
        )
        assert [row["status"] for row in win_back if row["status"] == "sent"] == ["sent"], win_back
        reactivation = next(row for row in win_back if row["status"] == "sent")
        assert (
            (local(reactivation["sent_at"]).date() - day0).days,
            local(reactivation["sent_at"]).strftime("%H:%M"),
        ) == (
            130,
            "10:00",
        )
        messages = wechat_received(stack)  # what WeChat was asked to deliver: each message once
        assert [
            ((local(m["received_at"]).date() - day0).days, local(m["received_at"]).strftime("%H"))
            for m in messages
        ] == [(17, "10"), (37, "10"), (57, "10"), (60, "10")]
    finally:
        assert stack.stop() == 0
