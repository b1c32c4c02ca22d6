"""Membership end to end on the stack deployed from template.yaml (moto): an online order earns
through the bus rule and the loyalty consumer, the points buy a store coupon, the store's till
redeems it with its channel key, a refund takes points back; the API's refusals are envelopes."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from chalice.test import Client

from functions.api.app import app
from functions.loyalty.handler import lambda_handler as loyalty_consumer
from infra.lambda_runtime import sqs_event
from shared import wiring
from shared.domain.ingest.sources import NewSource, create_source
from shared.domain.ingest.touchpoints import Channel, SourceKind, SourceTrust
from shared.wiring import ingest as ingest_wiring
from tests.fakes import FakeClock
from tests.integration.conftest import context_for
from tests.integration.test_segments_flow import ADMIN, NOW, SEGMENT, api, run_queue
from tests.integration.test_touchpoint_slice import deliver, drain

POS_KEY = "store-till-write-key"
POS = {
    "Authorization": "Basic " + base64.b64encode(f"{POS_KEY}:".encode()).decode(),
    "Content-Type": "application/json",
}


@pytest.fixture
def client(stack, monkeypatch):
    fake = FakeClock(NOW)
    monkeypatch.setattr(wiring, "get_clock", lambda: fake)
    create_source(
        NewSource(
            source_id="store-12",
            name="Store 12 tills",
            kind=SourceKind.SEGMENT,
            channel=Channel.POS,
            trust=SourceTrust.SERVER,
        ),
        registry=ingest_wiring.get_source_registry(),
        write_key_factory=lambda: POS_KEY,
    )
    with Client(app) as test_client:
        yield test_client


def track(client, stack, event: str, message_id: str, properties: dict) -> None:
    call = {
        "userId": "mei",
        "event": event,
        "messageId": message_id,
        "timestamp": NOW.isoformat(),
        "properties": properties,
    }
    assert client.http.post("/v1/track", headers=SEGMENT, body=json.dumps(call)).status_code == 200
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}


def call(client, method: str, path: str, body: dict | None = None, headers: dict = POS):
    response = getattr(client.http, method)(path, headers=headers, body=json.dumps(body or {}))
    return response.status_code, json.loads(response.body)


def test_earn_online_exchange_and_redeem_in_store_then_refund(stack, client):
    definition = {
        "definition_id": "store-20",
        "name": "20 off in store",
        "discount_type": "amount",
        "value": "20",
        "channels": ["pos"],
        "points_price": 500,
        "valid_days": 30,
    }
    assert api(client, "post", "/coupon-definitions", definition)[0] == 201
    assert api(client, "post", "/coupon-definitions", definition)[0] == 409

    track(client, stack, "Order Completed", "order-1", {"order_id": "A-1", "total": 800})
    assert run_queue(stack, "LoyaltyQueue", loyalty_consumer, "LoyaltyFunction") >= 1  # routed by the rule
    status, found = api(client, "get", "/profiles?user_id=mei")
    profile_id = found["profile_id"]
    status, member = call(client, "get", f"/members/{profile_id}")
    assert (status, member["balance"], member["tier"]) == (200, 800, "member")

    status, exchanged = call(
        client, "post", f"/members/{profile_id}/exchanges", {"definition_id": "store-20", "request_id": "x-1"}
    )
    assert (status, exchanged["balance"]) == (201, 300)
    replay = call(
        client, "post", f"/members/{profile_id}/exchanges", {"definition_id": "store-20", "request_id": "x-1"}
    )
    assert replay[0] == 200 and replay[1]["coupon"]["code"] == exchanged["coupon"]["code"]
    code = exchanged["coupon"]["code"]

    online = {"order_total": "120", "redemption_id": "web-9", "channel": "web"}
    status, refused = call(client, "post", f"/coupons/{code}/validation", online, headers=ADMIN)
    assert (status, refused["error"]["code"]) == (422, "coupon_channel")
    till = {"order_total": "120", "redemption_id": "till-3:881", "order_id": "S-881"}
    status, redeemed = call(client, "post", f"/coupons/{code}/redemptions", till)
    assert (status, redeemed["discount"], redeemed["channel"]) == (201, "20", "pos")
    status, again = call(client, "post", f"/coupons/{code}/redemptions", till)
    assert (status, again["replayed"]) == (200, True)
    status, used = call(client, "post", f"/coupons/{code}/redemptions", {**till, "redemption_id": "till-4:1"})
    assert (status, used["error"]["code"]) == (422, "coupon_used_up")

    track(client, stack, "Order Refunded", "refund-1", {"order_id": "A-1", "total": 400})
    run_queue(stack, "LoyaltyQueue", loyalty_consumer, "LoyaltyFunction")
    status, member = call(client, "get", f"/members/{profile_id}")
    assert member["balance"] == 0 and member["coupons"][0]["status"] == "used"
    status, ledger = api(client, "get", f"/members/{profile_id}/ledger?limit=2")
    assert [e["kind"] for e in ledger["entries"]] == ["reverse", "redeem"]
    assert ledger["entries"][0]["source"]["shortfall"] == 100
    status, older = api(client, "get", f"/members/{profile_id}/ledger?before={ledger['next_before']}")
    assert [e["kind"] for e in older["entries"]] == ["earn"] and older["next_before"] is None


def test_the_same_order_event_delivered_twice_earns_once(stack, client):
    track(client, stack, "Order Completed", "order-2", {"order_id": "B-2", "total": 50})
    sqs, queue = boto3.client("sqs"), stack.queues["LoyaltyQueue"]
    messages = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10, AttributeNames=["All"])[
        "Messages"
    ]
    for _ in range(2):
        event = sqs_event(messages, queue_arn=queue.arn, region="us-east-1")
        assert loyalty_consumer(event, context_for("LoyaltyFunction")) == {"batchItemFailures": []}
    profile_id = api(client, "get", "/profiles?user_id=mei")[1]["profile_id"]
    assert call(client, "get", f"/members/{profile_id}")[1]["balance"] == 50


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "code"),
    [
        (
            "post",
            "/members/p-1/points/redemptions",
            {"request_id": "r1", "points": 5},
            POS,
            422,
            "insufficient_points",
        ),
        (
            "post",
            "/members/p-1/points/redemptions",
            {"request_id": "r 1", "points": 5},
            POS,
            400,
            "invalid_input",
        ),
        (
            "post",
            "/members/p-1/points/redemptions",
            {"request_id": "r1", "points": 5},
            ADMIN,
            400,
            "invalid_input",
        ),
        (
            "post",
            "/members/p-1/points/adjustments",
            {"request_id": "a1", "points": 5, "reason": "x"},
            POS,
            401,
            "unauthenticated",
        ),
        (
            "post",
            "/coupons/AAAA-BBBB-CCCC-DDDD/redemptions",
            {"order_total": "1", "redemption_id": "t"},
            POS,
            404,
            "coupon_not_found",
        ),
        ("post", "/coupons/nonsense/validation", {"order_total": "1"}, POS, 404, "coupon_not_found"),
        (
            "post",
            "/coupon-definitions",
            {"definition_id": "x", "name": "x", "discount_type": "percent", "value": "150"},
            ADMIN,
            400,
            "invalid_input",
        ),
        ("put", "/members/p-1/referrer", {"code": "ZZZZZZZZ"}, POS, 422, "referral_refused"),
        ("get", "/members/p-1/ledger?limit=0", None, ADMIN, 400, "invalid_input"),
        (
            "post",
            "/members/p-1/exchanges",
            {"definition_id": "none", "request_id": "e1"},
            POS,
            404,
            "not_found",
        ),
    ],
)
def test_refusals_are_error_envelopes(client, method, path, body, headers, status, code):
    response = getattr(client.http, method)(path, headers=headers, body=json.dumps(body) if body else None)
    assert response.status_code == status
    assert json.loads(response.body)["error"]["code"] == code


def test_an_order_announced_before_its_profile_was_merged_earns_for_the_survivor(stack, client):
    def send(call: dict) -> None:
        body = json.dumps({"timestamp": NOW.isoformat(), **call})
        assert client.http.post(f"/v1/{call['type']}", headers=SEGMENT, body=body).status_code == 200
        assert deliver(stack, drain(stack)) == {"batchItemFailures": []}

    # The store knows her by phone (the older profile); the web shop sees an order with her email.
    send(
        {
            "type": "identify",
            "anonymousId": "till-7",
            "messageId": "m-1",
            "traits": {"phone": "+8613800000007"},
        }
    )
    send(
        {
            "type": "track",
            "anonymousId": "web-7",
            "event": "Order Completed",
            "messageId": "m-2",
            "context": {"traits": {"email": "lan@example.com"}},
            "properties": {"order_id": "W-7", "total": 300},
        }
    )
    # Before the loyalty consumer hears of the order, a sign-in links the two: the web profile is
    # merged into the store's.
    send(
        {
            "type": "identify",
            "anonymousId": "app-7",
            "messageId": "m-3",
            "traits": {"phone": "+8613800000007", "email": "lan@example.com"},
        }
    )
    assert run_queue(stack, "LoyaltyQueue", loyalty_consumer, "LoyaltyFunction") >= 1
    _, found = api(client, "get", "/profiles?email=lan@example.com")
    survivor = found["profile_id"]
    _, by_phone = api(client, "get", "/profiles?phone=%2B8613800000007")
    assert by_phone["profile_id"] == survivor  # one person
    status, member = call(client, "get", f"/members/{survivor}")
    assert (status, member["balance"]) == (200, 300), member


def test_a_member_route_checks_the_caller_before_reading_the_body(stack, client):
    nobody = {"Content-Type": "application/json"}
    for path in (
        "/members/p-1/points/redemptions",
        "/coupons/ABCD-EFGH/validation",
        "/coupons/ABCD-EFGH/redemptions",
    ):
        response = client.http.post(path, headers=nobody, body="{not json")
        assert response.status_code == 401, (path, response.body)


def test_only_the_till_that_redeemed_gives_the_use_back_and_its_id_is_spent(stack, client):
    other_key = "store-13-till-key"
    create_source(
        NewSource(
            source_id="store-13",
            name="Store 13 tills",
            kind=SourceKind.SEGMENT,
            channel=Channel.POS,
            trust=SourceTrust.SERVER,
        ),
        registry=ingest_wiring.get_source_registry(),
        write_key_factory=lambda: other_key,
    )
    other = {**POS, "Authorization": "Basic " + base64.b64encode(f"{other_key}:".encode()).decode()}
    definition = {
        "definition_id": "once",
        "name": "Once",
        "discount_type": "amount",
        "value": "5",
        "usage_limit": 1,
    }
    assert api(client, "post", "/coupon-definitions", definition)[0] == 201
    status, issued = api(
        client, "post", "/members/p-77/coupons", {"definition_id": "once", "issue_key": "k-1"}
    )
    assert status == 201, issued
    code = issued["code"]
    use = {"order_total": "50", "redemption_id": "t12:1"}
    assert call(client, "post", f"/coupons/{code}/redemptions", use)[0] == 201
    reversal = f"/coupons/{code}/redemptions/t12:1/reversal"
    assert call(client, "post", reversal, {}, headers=other)[0] == 404  # another store's till
    assert call(client, "post", reversal, {})[0] == 200
    status, spent = call(client, "post", f"/coupons/{code}/redemptions", use)
    assert (status, spent["error"]["code"]) == (409, "conflict")


def test_the_nightly_run_sums_members_per_tier_points_outstanding_and_coupon_uses(stack, client):
    from functions.loyalty.schedules import daily_handler

    status, empty = api(client, "get", "/membership/summary")
    assert status == 200 and empty["computed_at"] is None and empty["members"] == 0
    definition = {
        "definition_id": "store-5",
        "name": "5 off",
        "discount_type": "amount",
        "value": "5",
        "points_price": 100,
        "usage_limit": 2,
    }
    assert api(client, "post", "/coupon-definitions", definition)[0] == 201
    track(client, stack, "Order Completed", "order-s1", {"order_id": "S-1", "total": 700})
    run_queue(stack, "LoyaltyQueue", loyalty_consumer, "LoyaltyFunction")
    profile_id = api(client, "get", "/profiles?user_id=mei")[1]["profile_id"]
    for request_id in ("x-a", "x-b"):  # two codes bought with points: 500 left
        body = {"definition_id": "store-5", "request_id": request_id}
        status, bought = call(client, "post", f"/members/{profile_id}/exchanges", body)
        assert status == 201, bought
    till = {"order_total": "50", "redemption_id": "till-1:1", "order_id": "S-2"}
    assert call(client, "post", f"/coupons/{bought['coupon']['code']}/redemptions", till)[0] == 201

    result = daily_handler({}, context_for("LoyaltyDailyFunction"))

    assert (result["members"], result["points_outstanding"]) == (1, 500)
    status, summary = api(client, "get", "/membership/summary")
    assert status == 200 and summary["computed_at"] == NOW.isoformat()
    assert (summary["members"], summary["points_outstanding"], summary["tiers"]) == (1, 500, {"member": 1})
    assert summary["coupons"] == {"store-5": {"issued": 2, "redeemed": 1}}
