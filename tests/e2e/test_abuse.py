"""The public web key, tried as an attacker would on the running stack (issue 15): with only the
key every browser carries, no points, tier, coupon, stock or reservation changes, and no other
member's data is readable."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.e2e.test_local_stack import ADMIN_KEY, SERVER_WRITE_KEY, WRITE_KEY, get_touchpoint, http, wait_for

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}


def basic(key: str) -> dict[str, str]:
    return {
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        "Content-Type": "application/json",
    }


BROWSER, BACKEND = basic(WRITE_KEY), basic(SERVER_WRITE_KEY)


def call(stack, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    raw = json.dumps(body).encode() if body is not None else (b"{}" if method != "GET" else None)
    return http(method, stack.url(path), body=raw, headers=headers)


def order(user_id: str, message_id: str, total: int, **properties: Any) -> dict[str, Any]:
    return {
        "userId": user_id,
        "event": "Order Completed",
        "messageId": message_id,
        "properties": {"order_id": message_id, "total": total, **properties},
    }


def balance(stack, user_id: str) -> int | None:
    status, found = call(stack, "GET", f"/profiles?user_id={user_id}", ADMIN)
    if status != 200:
        return None
    return call(stack, "GET", f"/members/{found['profile_id']}", ADMIN)[1]["balance"]


def on_hand(stack) -> list[int]:
    return [
        location["on_hand"]
        for location in call(stack, "GET", "/inventory/availability/ABUSE-LAMP", ADMIN)[1]["locations"]
    ]


def test_the_public_web_key_cannot_mint_value_or_read_another_member(stack):
    # What the brand set up: a store with 50 lamps, a coupon, and a member with 500 points.
    assert (
        call(stack, "PUT", "/inventory/locations/abuse-store", ADMIN, {"name": "Store", "kind": "store"})[0]
        == 200
    )
    count = {"on_hand": 50, "request_id": "abuse-count-1"}
    assert call(stack, "PUT", "/inventory/stock/ABUSE-LAMP/abuse-store", ADMIN, count)[0] == 200
    coupon = {
        "definition_id": "abuse-10",
        "name": "10 off",
        "discount_type": "amount",
        "value": "10",
        "points_price": 100,
        "valid_days": 30,
    }
    assert call(stack, "POST", "/coupon-definitions", ADMIN, coupon)[0] == 201
    assert (
        call(stack, "POST", "/v1/track", BACKEND, order("abuse-victim", "abuse-victim-order", 500))[0] == 200
    )
    wait_for(lambda: balance(stack, "abuse-victim") == 500, timeout=60, what="the victim's points")
    victim = call(stack, "GET", "/profiles?user_id=abuse-victim", ADMIN)[1]["profile_id"]
    exchange = {"definition_id": "abuse-10", "request_id": "abuse-seed"}
    status, exchanged = call(stack, "POST", f"/members/{victim}/exchanges", ADMIN, exchange)
    assert status == 201
    code = exchanged["coupon"]["code"]

    # The attacker's forged order: a fortune, and most of the store's lamps.
    forged = order(
        "abuse-eve",
        "abuse-forged",
        99999,
        location_id="abuse-store",
        products=[{"sku": "ABUSE-LAMP", "quantity": 45, "price": 1}],
    )
    assert call(stack, "POST", "/v1/track", BROWSER, forged)[0] == 200
    stored = wait_for(
        lambda: (found := get_touchpoint(stack, "abuse-forged"))[0] == 200 and found[1],
        timeout=60,
        what="the forged order to be archived",
    )
    assert (stored["type"], stored.get("order")) == ("track", None)  # kept as behaviour, not an order
    # A real 1-point order for the attacker afterwards: when it has landed, the forged one would have.
    assert call(stack, "POST", "/v1/track", BACKEND, order("abuse-eve", "abuse-eve-real", 1))[0] == 200
    wait_for(
        lambda: balance(stack, "abuse-eve") is not None and balance(stack, "abuse-eve") >= 1,
        timeout=60,
        what="the attacker's real order",
    )
    eve = call(stack, "GET", "/profiles?user_id=abuse-eve", ADMIN)[1]["profile_id"]
    status, account = call(stack, "GET", f"/members/{eve}", ADMIN)
    assert (account["balance"], account["tier"]) == (1, "member")
    assert on_hand(stack) == [50]

    # Every route that reads a member or moves value, with the web key, on the victim.
    attempts = [
        ("GET", f"/members/{victim}", None),
        ("GET", "/members/me", None),
        (
            "POST",
            f"/members/{victim}/points/redemptions",
            {"points": 400, "request_id": "drain", "channel": "web"},
        ),
        ("POST", f"/members/{victim}/exchanges", {"definition_id": "abuse-10", "request_id": "steal"}),
        ("POST", f"/members/{victim}/referral-code", None),
        ("PUT", f"/members/{eve}/referrer", {"code": "ABCDEFGH"}),
        ("GET", f"/inbox/{victim}", None),
        ("GET", f"/coupons/{code}", None),
        ("POST", f"/coupons/{code}/validation", {"order_total": "50"}),
        ("POST", f"/coupons/{code}/redemptions", {"order_total": "50", "redemption_id": "eve-1"}),
        (
            "POST",
            "/inventory/reservations",
            {"request_id": "eve-cart", "channel_id": "web", "lines": [{"sku": "ABUSE-LAMP", "quantity": 50}]},
        ),
        ("GET", f"/profiles/{victim}", None),
        ("GET", "/profiles?user_id=abuse-victim", None),
        ("POST", f"/members/{eve}/points/adjustments", {"points": 1000, "reason": "x", "request_id": "a"}),
        ("POST", f"/members/{eve}/coupons", {"definition_id": "abuse-10", "issue_key": "free"}),
        ("PUT", "/inventory/stock/ABUSE-LAMP/abuse-store", {"on_hand": 0, "request_id": "zero"}),
    ]
    answers = {(method, path): call(stack, method, path, BROWSER, body)[0] for method, path, body in attempts}
    assert {route: status for route, status in answers.items() if status not in (401, 403)} == {}

    status, after = call(stack, "GET", f"/members/{victim}", ADMIN)
    assert (after["balance"], [c["status"] for c in after["coupons"]]) == (400, ["active"])
    status, account = call(stack, "GET", f"/members/{eve}", ADMIN)
    assert (account["balance"], account["coupons"]) == (1, [])
    assert on_hand(stack) == [50]
