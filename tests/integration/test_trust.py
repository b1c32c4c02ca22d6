"""Trust follows the key (issue 15, defect 1): the browser's write key reports behaviour and never
creates value or reads a member; a server-side key's orders are real and it acts for tills; a
member token acts on its own member's account only, within its scopes."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from chalice.test import Client

from functions.api.app import app
from functions.inventory.handler import lambda_handler as inventory_consumer
from functions.loyalty.handler import lambda_handler as loyalty_consumer
from shared import wiring
from tests.fakes import FakeClock
from tests.integration.conftest import SERVER_WRITE_KEY, WRITE_KEY
from tests.integration.test_segments_flow import ADMIN, NOW, api, run_queue
from tests.integration.test_touchpoint_slice import deliver, drain

MEMBER_SECRET = "brand-backend-member-token-secret-0123456789"


def basic(key: str) -> dict[str, str]:
    return {
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        "Content-Type": "application/json",
    }


BROWSER, BACKEND = basic(WRITE_KEY), basic(SERVER_WRITE_KEY)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def member_token(
    user_id: str, scope: str = "member:read member:redeem member:exchange member:referral", **claims
):
    issued = int(NOW.timestamp())
    body = {"sub": user_id, "aud": "omnireach", "iat": issued, "exp": issued + 600, "scope": scope, **claims}
    return jwt.encode(body, MEMBER_SECRET, algorithm="HS256")


@pytest.fixture
def client(stack, monkeypatch):
    fake = FakeClock(NOW)
    monkeypatch.setattr(wiring, "get_clock", lambda: fake)
    monkeypatch.setenv("MEMBER_TOKEN_SECRETS", MEMBER_SECRET)
    wiring.reset()
    with Client(app) as test_client:
        yield test_client


def send(
    client, stack, headers, user_id: str, message_id: str, properties: dict, event="Order Completed"
) -> None:
    call = {"userId": user_id, "event": event, "messageId": message_id, "timestamp": NOW.isoformat()}
    response = client.http.post(
        "/v1/track", headers=headers, body=json.dumps({**call, "properties": properties})
    )
    assert response.status_code == 200
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}


def request(client, method: str, path: str, headers: dict, body: dict | None = None):
    response = getattr(client.http, method)(path, headers=headers, body=json.dumps(body or {}))
    return response.status_code, (json.loads(response.body) if response.body else None)


def member_with_points(client, stack, user_id: str, order_id: str, total: int) -> str:
    send(client, stack, BACKEND, user_id, f"order-{order_id}", {"order_id": order_id, "total": total})
    run_queue(stack, "LoyaltyQueue", loyalty_consumer, "LoyaltyFunction")
    return api(client, "get", f"/profiles?user_id={user_id}")[1]["profile_id"]


def test_an_order_sent_with_the_browser_key_earns_nothing_and_moves_no_stock(stack, client):
    location = {"name": "Store", "kind": "store"}
    assert api(client, "put", "/inventory/locations/store-1", location)[0] == 200
    assert api(client, "put", "/inventory/stock/LAMP/store-1", {"on_hand": 50, "request_id": "c-1"})[0] == 200

    forged = {
        "order_id": "F-1",
        "total": 99999,
        "location_id": "store-1",
        "products": [{"sku": "LAMP", "quantity": 45, "price": 1}],
    }
    send(client, stack, BROWSER, "eve", "forged-1", forged)

    run_queue(stack, "LoyaltyQueue", loyalty_consumer, "LoyaltyFunction")  # the profile changed, no order
    assert run_queue(stack, "InventoryQueue", inventory_consumer, "InventoryFunction") == 0
    status, archived = api(client, "get", "/touchpoints/forged-1")
    assert (status, archived["type"], archived.get("order")) == (200, "track", None)  # kept, as behaviour
    profile_id = api(client, "get", "/profiles?user_id=eve")[1]["profile_id"]
    status, member = api(client, "get", f"/members/{profile_id}")
    assert (status, member["balance"], member["tier"]) == (200, 0, "member")
    stock = api(client, "get", "/inventory/availability/LAMP")[1]
    assert [location["on_hand"] for location in stock["locations"]] == [50]

    # The same order from the shop's backend is real.
    send(client, stack, BACKEND, "eve", "real-1", {**forged, "order_id": "R-1", "total": 120})
    assert run_queue(stack, "LoyaltyQueue", loyalty_consumer, "LoyaltyFunction") >= 1
    assert api(client, "get", f"/members/{profile_id}")[1]["balance"] == 120


MEMBER_AND_COUPON_ROUTES = [
    ("get", "/members/{profile}", None),
    ("post", "/members/{profile}/points/redemptions", {"points": 10, "request_id": "r-1", "channel": "web"}),
    ("post", "/members/{profile}/exchanges", {"definition_id": "ten-off", "request_id": "x-1"}),
    ("post", "/members/{profile}/referral-code", None),
    ("put", "/members/{profile}/referrer", {"code": "ABCDEFGH"}),
    ("get", "/inbox/{profile}", None),
    ("get", "/coupons/{code}", None),
    ("post", "/coupons/{code}/validation", {"order_total": "50"}),
    ("post", "/coupons/{code}/redemptions", {"order_total": "50", "redemption_id": "t-1"}),
    ("post", "/coupons/{code}/redemptions/t-1/reversal", None),
    ("post", "/inventory/reservations", {"request_id": "c-1", "channel_id": "web", "lines": []}),
    ("get", "/inventory/reservations/r000000000000000000000000", None),
    ("post", "/inventory/reservations/r000000000000000000000000/commit", {"order_id": "o-1"}),
    ("post", "/inventory/reservations/r000000000000000000000000/release", None),
]


@pytest.fixture
def member_and_coupon(client, stack):
    definition = {
        "definition_id": "ten-off",
        "name": "10 off",
        "discount_type": "amount",
        "value": "10",
        "points_price": 100,
        "valid_days": 30,
    }
    assert api(client, "post", "/coupon-definitions", definition)[0] == 201
    profile_id = member_with_points(client, stack, "mei", "M-1", 500)
    status, exchanged = request(
        client,
        "post",
        f"/members/{profile_id}/exchanges",
        ADMIN,
        {"definition_id": "ten-off", "request_id": "seed"},
    )
    assert status == 201
    return profile_id, exchanged["coupon"]["code"]


@pytest.mark.parametrize(("method", "path", "body"), MEMBER_AND_COUPON_ROUTES)
def test_the_browser_key_is_refused_on_every_route_that_reads_a_member_or_moves_value(
    client, member_and_coupon, method, path, body
):
    profile_id, code = member_and_coupon
    route = path.format(profile=profile_id, code=code)
    status, answer = request(client, method, route, BROWSER, body)
    assert (status, answer["error"]["code"]) == (403, "client_key_refused")
    status, member = request(client, "get", f"/members/{profile_id}", ADMIN)
    assert (member["balance"], len(member["coupons"])) == (400, 1)  # nothing moved

    status, answer = request(client, method, route, BACKEND, body)
    assert status != 401 and (answer or {}).get("error", {}).get("code") != "client_key_refused"


def test_a_member_token_acts_on_its_own_account_only(client, stack, member_and_coupon):
    profile_id, code = member_and_coupon
    other = member_with_points(client, stack, "li", "L-1", 300)
    own = bearer(member_token("mei"))

    status, account = request(client, "get", f"/members/{profile_id}", own)
    assert (status, account["balance"]) == (200, 400)
    assert request(client, "get", "/members/me", own)[1]["balance"] == 400
    assert request(client, "get", f"/coupons/{code}", own)[0] == 200
    assert request(client, "get", "/inbox/me", own)[0] == 200
    status, exchanged = request(
        client, "post", "/members/me/exchanges", own, {"definition_id": "ten-off", "request_id": "app-1"}
    )
    assert (status, exchanged["balance"]) == (201, 300)

    status, refused = request(client, "get", f"/members/{other}", own)
    assert (status, refused["error"]["code"]) == (403, "forbidden")
    status, refused = request(
        client,
        "post",
        f"/members/{other}/exchanges",
        own,
        {"definition_id": "ten-off", "request_id": "steal"},
    )
    assert status == 403
    assert request(client, "get", f"/members/{other}", ADMIN)[1]["balance"] == 300
    li = bearer(member_token("li"))
    status, hidden = request(client, "get", f"/coupons/{code}", li)
    assert (status, hidden["error"]["code"]) == (404, "coupon_not_found")


def test_a_member_token_is_held_to_its_scopes_expiry_and_signature(client, member_and_coupon):
    read_only = bearer(member_token("mei", scope="member:read"))
    status, refused = request(
        client, "post", "/members/me/exchanges", read_only, {"definition_id": "ten-off", "request_id": "a"}
    )
    assert (status, refused["error"]["code"]) == (403, "forbidden")

    expired = member_token("mei", exp=int((NOW - timedelta(minutes=5)).timestamp()))
    status, refused = request(client, "get", "/members/me", bearer(expired))
    assert (status, refused["error"]["code"]) == (401, "invalid_member_token")

    forged = jwt.encode(
        {"sub": "mei", "aud": "omnireach", "iat": 1, "exp": 2},
        "guessed-secret-0123456789abcdef",
        algorithm="HS256",
    )
    status, refused = request(client, "get", "/members/me", bearer(forged))
    assert (status, refused["error"]["code"]) == (401, "invalid_member_token")

    unknown = bearer(member_token("nobody-yet"))
    assert request(client, "get", "/members/me", unknown)[0] == 404


def test_the_browser_key_still_reads_what_its_channel_shows_everyone(client):
    assert api(client, "put", "/inventory/locations/wh", {"name": "DC", "kind": "warehouse"})[0] == 200
    channel = {"name": "Web shop", "kind": "web", "locations": ["wh"], "source_id": "web"}
    assert api(client, "put", "/inventory/channels/web", channel)[0] == 200
    status, _ = request(client, "get", "/inventory/availability/LAMP?channel=web", BROWSER)
    assert status == 200
