"""Bad input is a 4xx with the error envelope, never a 5xx, on the stack deployed from
template.yaml (moto): values that would exhaust a reader's stack, numbers Python refuses or a
double cannot hold, a signature that is not ASCII, an id longer than a table key may be."""

from __future__ import annotations

import base64
import json
import time

import pytest
from chalice.test import Client

from functions.api.app import app
from shared.domain.ingest.sources import NewSource, create_source
from shared.wiring import ingest as ingest_wiring
from tests.integration.conftest import ADMIN_KEY, SERVER_WRITE_KEY, WRITE_KEY
from tests.integration.test_touchpoint_slice import deliver, drain

SEGMENT = {
    "Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode(),
    "Content-Type": "application/json",
}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def client(stack):
    registry = ingest_wiring.get_source_registry()
    topic = "arn:aws:sns:us-east-1:123456789012:ses-events"
    create_source(
        NewSource(source_id="mail", name="Mail", kind="ses", channel="email", app_id=topic), registry=registry
    )
    create_source(
        NewSource(source_id="oa", name="OA", kind="wechat", channel="wechat", signing_secret="token123"),
        registry=registry,
    )
    with Client(app) as test_client:
        yield test_client


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


TRACK = '{"userId": "u-1", "event": "Viewed", "properties": {"x": %s}}'


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/track", TRACK % nested(900)),
        ("/v1/track", TRACK % nested(5000)),
        ("/v1/batch", '{"batch": [%s]}' % (TRACK % nested(900))),
        ("/v1/track", TRACK % ("9" * 5000)),
        ("/v1/track", TRACK % "1e999"),
        ("/v1/track", TRACK % "-1e999"),
        ("/webhooks/ses/mail", nested(900)),
        ("/webhooks/ses/mail", '{"Type": %s}' % ("1" * 5000)),
    ],
    ids=["deep-900", "deep-5000", "batch-deep", "5000-digits", "inf", "-inf", "ses-deep", "ses-digits"],
)
def test_a_body_that_would_hurt_a_reader_is_a_400(client, path, body):
    response = client.http.post(path, headers=SEGMENT, body=body)
    assert response.status_code == 400, response.body
    assert set(json.loads(response.body)["error"]) == {"code", "message", "details"}


def test_a_wechat_signature_that_is_not_ascii_is_refused_as_unauthenticated(client):
    query = f"signature=%C3%A9%C3%A9&timestamp={int(time.time())}&nonce=1&echostr=hi"
    response = client.http.get(f"/webhooks/wechat/oa?{query}")
    assert response.status_code == 401, response.body
    assert json.loads(response.body)["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "path", ["/profiles/{id}", "/profiles/{id}/touchpoints", "/members/{id}", "/touchpoints/{id}"]
)
def test_an_id_longer_than_a_table_key_is_a_400(client, path):
    response = client.http.get(path.format(id="p" * 3000), headers=ADMIN)
    assert response.status_code == 400, response.body
    error = json.loads(response.body)["error"]
    assert error["code"] == "invalid_input" and "details" in error


WRONG = [None, 0, 1.5, True, "", "x" * 300, [], {}]


def _patch_routes(client) -> list[tuple[str, str, list[str]]]:
    """Every PATCH route (a partial update), a resource to change, how to read it back, and the
    fields its schema names."""
    coupon = {"definition_id": "d1", "name": "Ten off", "discount_type": "amount", "value": "10"}
    assert client.http.post("/coupon-definitions", headers=ADMIN, body=json.dumps(coupon)).status_code == 201
    segment = {"segment_id": "s1", "name": "Everyone", "rule": {"field": "orders", "op": "gte", "value": 0}}
    assert client.http.post("/segments", headers=ADMIN, body=json.dumps(segment)).status_code == 201
    document = json.loads(client.http.get("/openapi.json").body)
    schemas = document["components"]["schemas"]
    found = []
    for path, item in document["paths"].items():
        if "patch" not in item:
            continue
        schema = item["patch"]["requestBody"]["content"]["application/json"]["schema"]
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else schema
        concrete = path.format(source_id="mail", definition_id="d1", segment_id="s1")
        found.append((concrete, concrete, sorted(schema["properties"])))
    assert {path for path, _, _ in found} == {"/sources/mail", "/coupon-definitions/d1", "/segments/s1"}
    return found


def test_every_partial_update_with_nulls_or_wrong_types_leaves_a_readable_resource(client):
    for path, read_back, fields in _patch_routes(client):
        for field in fields:
            for value in WRONG:
                response = client.http.patch(path, headers=ADMIN, body=json.dumps({field: value}))
                assert response.status_code in (200, 400), (path, field, value, response.body)
                assert client.http.get(read_back, headers=ADMIN).status_code == 200, (path, field, value)
    assert client.http.get("/sources", headers=ADMIN).status_code == 200
    source = json.loads(client.http.get("/sources/mail", headers=ADMIN).body)
    assert source["name"] == "Mail" and source["enabled"] in (True, False)


def test_a_null_name_is_refused_and_says_how_to_keep_it(client):
    response = client.http.patch("/sources/mail", headers=ADMIN, body=json.dumps({"name": None}))
    assert response.status_code == 400
    assert "leave it out to keep it" in json.loads(response.body)["error"]["details"][0]["message"]


# ------------------------------------------------------------------ bounds on what is accepted
BACKEND = {
    "Authorization": "Basic " + base64.b64encode(f"{SERVER_WRITE_KEY}:".encode()).decode(),
    "Content-Type": "application/json",
}


def order_call(message_id: str, *, timestamp: str | None = None, **properties) -> dict:
    call = {
        "userId": "bounds-1",
        "event": "Order Completed",
        "messageId": message_id,
        "properties": {"order_id": message_id, "total": 10, **properties},
    }
    return {**call, "timestamp": timestamp} if timestamp else call


OUT_OF_BOUNDS = {
    "total-1e308": {"total": "1e308"},
    "total-float-1e308": {"total": 1e308},
    "total-negative": {"total": -5},
    "total-over-10^12": {"total": 10**13},
    "total-5-decimals": {"total": "12.34567"},
    "total-nan": {"total": "NaN"},
    "discount-negative": {"discount": -1},
    "quantity-negative": {"products": [{"sku": "A", "quantity": -1}]},
    "quantity-zero": {"products": [{"sku": "A", "quantity": 0}]},
    "quantity-fraction": {"products": [{"sku": "A", "quantity": 2.5}]},
    "quantity-huge": {"products": [{"sku": "A", "quantity": 10**7}]},
    "price-negative": {"products": [{"sku": "A", "quantity": 1, "price": -3}]},
    "currency-not-iso": {"currency": "dollars"},
}


@pytest.mark.parametrize("properties", OUT_OF_BOUNDS.values(), ids=OUT_OF_BOUNDS.keys())
def test_an_amount_or_quantity_out_of_bounds_is_refused_at_the_edge(client, stack, properties):
    response = client.http.post(
        "/v1/track", headers=BACKEND, body=json.dumps(order_call("oob", **properties))
    )
    assert response.status_code == 400, response.body
    assert json.loads(response.body)["error"]["code"] == "invalid_input"
    assert drain(stack) == []  # nothing enqueued


@pytest.mark.parametrize(
    "timestamp", ["9999-12-31T00:00:00Z", "1900-01-01T00:00:00Z", "2099-01-01T00:00:00Z"]
)
def test_a_time_far_from_now_is_refused_and_a_batch_keeps_its_good_events(client, stack, timestamp):
    response = client.http.post(
        "/v1/track", headers=BACKEND, body=json.dumps(order_call("far", timestamp=timestamp))
    )
    assert response.status_code == 400, response.body
    batch = {
        "batch": [
            {**order_call("far-b", timestamp=timestamp), "type": "track"},
            {**order_call("near"), "type": "track"},
        ]
    }
    response = client.http.post("/v1/batch", headers=BACKEND, body=json.dumps(batch))
    answer = json.loads(response.body)
    assert (response.status_code, answer["accepted"], [r["index"] for r in answer["rejected"]]) == (
        200,
        1,
        [0],
    )
    assert [json.loads(m["Body"])["touchpoint_id"] for m in drain(stack)] == ["near"]


def test_a_shopify_order_with_an_impossible_total_is_refused(client, stack):
    import hashlib
    import hmac

    secret = "shpss_bounds_secret_0123456789"
    create_source(
        NewSource(source_id="shop", name="Shop", kind="shopify", channel="ecommerce", signing_secret=secret),
        registry=ingest_wiring.get_source_registry(),
    )
    body = json.dumps({"id": 1, "email": "a@b.io", "total_price": "1e308", "currency": "CNY"}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": "evt-1e308",
        "X-Shopify-Hmac-Sha256": base64.b64encode(
            hmac.new(secret.encode(), body, hashlib.sha256).digest()
        ).decode(),
    }
    response = client.http.post("/webhooks/shopify/shop", headers=headers, body=body)
    assert response.status_code == 400, response.body
    assert drain(stack) == []


def test_the_largest_accepted_values_leave_every_later_read_working(client, stack):
    """At the edge of every bound: the profile, a segment preview and the loyalty account all
    still read (no accepted value can break what reads it later)."""
    from datetime import UTC, datetime, timedelta

    from functions.loyalty.handler import lambda_handler as loyalty_consumer
    from tests.integration.test_segments_flow import run_queue

    extreme = order_call(
        "edge-1",
        timestamp=(datetime.now(UTC) - timedelta(days=3649)).isoformat(),
        total="999999999999.9999",
        discount="999999999999.9999",
        currency="IDR",
        products=[{"sku": "A" * 255, "quantity": 1_000_000, "price": "999999999999.9999"}],
    )
    assert client.http.post("/v1/track", headers=BACKEND, body=json.dumps(extreme)).status_code == 200
    again = {**extreme, "messageId": "edge-2", "timestamp": datetime.now(UTC).isoformat()}
    again["properties"] = {**extreme["properties"], "order_id": "edge-2"}
    assert client.http.post("/v1/track", headers=BACKEND, body=json.dumps(again)).status_code == 200
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    run_queue(stack, "LoyaltyQueue", loyalty_consumer, "LoyaltyFunction")

    admin = {**ADMIN, "Content-Type": "application/json"}
    response = client.http.get("/profiles?user_id=bounds-1", headers=admin)
    assert response.status_code == 200, response.body
    profile = json.loads(response.body)
    assert (profile["orders"], profile["revenue"]) == (2, "1999999999999.9998")
    preview = {"rule": {"field": "revenue", "op": "gte", "value": 1}}
    response = client.http.post("/segments/preview", headers=admin, body=json.dumps(preview))
    assert response.status_code == 200, response.body
    response = client.http.get(f"/members/{profile['profile_id']}", headers=admin)
    assert response.status_code == 200, response.body


def test_a_stored_profile_this_version_cannot_read_is_quarantined_not_a_500_for_everyone(client, stack):
    """A record an older version wrote (or damage) answers 409 `record_unreadable` where it is
    named, and is left out of scans, so every other read goes on working."""
    import boto3

    call = {"userId": "readable-1", "event": "Product Viewed", "messageId": "readable-view"}
    assert client.http.post("/v1/track", headers=BACKEND, body=json.dumps(call)).status_code == 200
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    boto3.client("dynamodb").put_item(
        TableName=stack.resources["CustomersTable"],
        Item={
            "pk": {"S": "PROFILE#p-damaged"},
            "sk": {"S": "PROFILE"},
            "kind": {"S": "profile"},
            "version": {"N": "3"},
            "body": {"S": json.dumps({"revenue": "a lot", "orders": "many"})},
        },
    )
    admin = {**ADMIN, "Content-Type": "application/json"}

    response = client.http.get("/profiles/p-damaged", headers=admin)
    assert (response.status_code, json.loads(response.body)["error"]["code"]) == (409, "record_unreadable")
    assert client.http.get("/profiles?user_id=readable-1", headers=admin).status_code == 200
    preview = {"rule": {"field": "orders", "op": "gte", "value": 0}}
    response = client.http.post("/segments/preview", headers=admin, body=json.dumps(preview))
    assert response.status_code == 200, response.body
    assert (json.loads(response.body)["matched"], json.loads(response.body)["evaluated"]) == (1, 1)
