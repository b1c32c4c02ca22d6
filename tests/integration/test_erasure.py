"""Erasure end to end on the tables from template.yaml: a person known through the web shop
(Segment) and Shopify is erased by their phone number; afterwards no table holds their email,
phone or name, and a late Shopify webhook for them is dropped."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import zlib

import boto3
import pytest
from chalice.test import Client

from functions.api.app import app
from functions.privacy.handler import lambda_handler as privacy_job
from infra.bench.meter import captured_output
from infra.lambda_runtime import sqs_event
from shared import wiring
from shared.domain.ingest.sources import NewSource, create_source
from shared.wiring import ingest as ingest_wiring
from tests.integration.conftest import ADMIN_KEY, WRITE_KEY, context_for
from tests.integration.test_touchpoint_slice import deliver, drain

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SEGMENT = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}
SHOP_SECRET = "shpss_erasure_secret_0123456789"
EMAIL, PHONE, FIRST, LAST = "mei.lin@example.com", "+8613800138000", "Meilin", "Zhangwei"


@pytest.fixture
def client(stack, monkeypatch):
    monkeypatch.setenv("ERASURE_SECOND_SWEEP_SECONDS", "0")
    wiring.reset()
    create_source(
        NewSource(
            source_id="shop", name="Shop", kind="shopify", channel="ecommerce", signing_secret=SHOP_SECRET
        ),
        registry=ingest_wiring.get_source_registry(),
    )
    with Client(app) as test_client:
        yield test_client


def shopify_order(client, order_id: int) -> None:
    body = json.dumps(
        {
            "id": order_id,
            "email": EMAIL,
            "phone": PHONE,
            "total_price": "88.00",
            "currency": "CNY",
            "created_at": "2026-11-20T10:00:00+08:00",
            "line_items": [{"sku": "TEA-01", "quantity": 1, "price": "88.00"}],
            "customer": {"id": 7001, "email": EMAIL, "phone": PHONE, "first_name": FIRST, "last_name": LAST},
            "billing_address": {"first_name": FIRST, "last_name": LAST, "phone": PHONE},
        }
    ).encode()
    signature = base64.b64encode(hmac.new(SHOP_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": f"evt-{order_id}",
        "X-Shopify-Hmac-Sha256": signature,
    }
    assert client.http.post("/webhooks/shopify/shop", headers=headers, body=body).status_code == 200


def _inflated(value: bytes) -> str:
    """A binary attribute as text: the archive's deflated touchpoints opened, so PII in them shows."""
    try:
        return zlib.decompress(value).decode()
    except zlib.error:
        return value.hex()


def traces(stack) -> list[str]:
    """Every item of every table that mentions the person, as text."""
    dynamodb = boto3.client("dynamodb")
    found = []
    for table in ("CustomersTable", "TouchpointsTable"):
        for page in dynamodb.get_paginator("scan").paginate(TableName=stack.resources[table]):
            for item in page["Items"]:
                text = json.dumps(item, default=_inflated)
                if any(secret in text for secret in (EMAIL, PHONE, FIRST, LAST)):
                    found.append(f"{table}: {text[:120]}")
    return found


def run_privacy_jobs(stack) -> None:
    sqs, queue = boto3.client("sqs"), stack.queues["PrivacyQueue"]
    for _ in range(4):
        messages = sqs.receive_message(
            QueueUrl=queue.url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return
        event = sqs_event(messages, queue_arn=queue.arn, region="us-east-1")
        assert privacy_job(event, context_for("PrivacyFunction")) == {"batchItemFailures": []}
        for message in messages:
            sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])


def test_erasure_leaves_no_trace_in_any_table_and_late_webhooks_are_dropped(stack, client):
    with captured_output() as logs:
        erase_and_replay(stack, client)
    written = logs.getvalue()
    assert "erasure sweep done" in written  # the logs were captured
    assert not [secret for secret in (EMAIL, PHONE, FIRST, LAST) if secret in written]  # raw PII never logged


def erase_and_replay(stack, client) -> None:
    identify = {
        "userId": "mei",
        "messageId": "id-1",
        "traits": {"email": EMAIL, "phone": PHONE, "firstName": FIRST, "lastName": LAST},
    }
    assert (
        client.http.post(
            "/v1/identify", headers={**SEGMENT, "Content-Type": "application/json"}, body=json.dumps(identify)
        ).status_code
        == 200
    )
    shopify_order(client, 1)
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    assert traces(stack), "the person is stored before the erasure"

    response = client.http.post(
        "/privacy/erasures",
        headers={**ADMIN, "Content-Type": "application/json"},
        body=json.dumps({"type": "phone", "value": "+86 138-0013-8000"}),
    )
    assert response.status_code == 202
    request_id = json.loads(response.body)["request_id"]
    run_privacy_jobs(stack)

    audit = json.loads(client.http.get(f"/privacy/erasures/{request_id}", headers=ADMIN).body)
    assert audit["status"] == "completed" and len(audit["swept_at"]) == 2
    assert audit["removed"]["touchpoints"] == 2
    assert traces(stack) == []

    shopify_order(client, 2)  # a late webhook for the erased person
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    assert traces(stack) == []
    assert client.http.get(f"/profiles?email={EMAIL}", headers=ADMIN).status_code == 404


def test_erasure_requests_are_validated(stack, client):
    for body, code in [
        ({"type": "email", "value": "not an email"}, "invalid_input"),
        ({"type": "shoe_size", "value": "42"}, "invalid_input"),
        ({"type": "email"}, "invalid_input"),
    ]:
        response = client.http.post(
            "/privacy/erasures", headers={**ADMIN, "Content-Type": "application/json"}, body=json.dumps(body)
        )
        assert (response.status_code, json.loads(response.body)["error"]["code"]) == (400, code)
    assert client.http.get("/privacy/erasures/nope", headers=ADMIN).status_code == 404


# ------------------------------------------------------------------ every table the template has
MEMBER_EMAIL = "residue.member@example.com"


def person_tables() -> list[str]:
    """Every DynamoDB table template.yaml declares: any of them could hold a person."""
    from tests.integration.conftest import TEMPLATE

    return sorted(
        logical_id
        for logical_id, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    )


def residue(stack, needles: list[str]) -> list[str]:
    """Items in any table that mention a needle, except the suppression tombstones the erasure
    leaves on purpose (an identity record with no profile, so the person is not collected again)."""
    dynamodb = boto3.client("dynamodb")
    found = []
    for table in person_tables():
        for page in dynamodb.get_paginator("scan").paginate(TableName=stack.resources[table]):
            for item in page["Items"]:
                tombstone = item.get("kind", {}).get("S") == "identity" and "profile_id" not in item
                text = json.dumps(item, default=_inflated)
                if not tombstone and any(needle in text for needle in needles):
                    found.append(f"{table}: {text[:160]}")
    return found


def test_erasure_reaches_every_table_a_member_touched(stack, client):
    from functions.loyalty.handler import lambda_handler as loyalty_consumer
    from shared.domain.customers.identity import identity_key
    from shared.domain.kernel.identifiers import Identifier, IdentifierType
    from tests.integration.conftest import SERVER_WRITE_KEY
    from tests.integration.test_segments_flow import api, run_queue

    backend = {"Authorization": "Basic " + base64.b64encode(f"{SERVER_WRITE_KEY}:".encode()).decode()}
    order = {
        "userId": "residue-member",
        "event": "Order Completed",
        "messageId": "residue-order",
        "context": {"traits": {"email": MEMBER_EMAIL}},
        "properties": {"order_id": "RES-1", "total": 600},
    }
    assert (
        client.http.post(
            "/v1/track", headers={**backend, "Content-Type": "application/json"}, body=json.dumps(order)
        ).status_code
        == 200
    )
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    run_queue(stack, "LoyaltyQueue", loyalty_consumer, "LoyaltyFunction")
    profile_id = api(client, "get", "/profiles?user_id=residue-member")[1]["profile_id"]

    definition = {
        "definition_id": "residue-10",
        "name": "10 off",
        "discount_type": "amount",
        "value": "10",
        "points_price": 100,
        "valid_days": 30,
    }
    assert api(client, "post", "/coupon-definitions", definition)[0] == 201
    status, exchanged = api(
        client,
        "post",
        f"/members/{profile_id}/exchanges",
        {"definition_id": "residue-10", "request_id": "r-1"},
    )
    assert status == 201
    code = exchanged["coupon"]["code"].replace("-", "")
    redemption = {"order_total": "50", "redemption_id": "till-9", "channel": "pos", "order_id": "S-9"}
    assert api(client, "post", f"/coupons/{code}/redemptions", redemption)[0] == 201
    status, referral = api(client, "post", f"/members/{profile_id}/referral-code")
    assert status == 200

    needles = [
        profile_id,
        "residue-member",
        MEMBER_EMAIL,
        code,
        referral["referral_code"],
        identity_key(Identifier(type=IdentifierType.EMAIL, value=MEMBER_EMAIL)),
        identity_key(Identifier(type=IdentifierType.USER_ID, value="residue-member")),
    ]
    assert residue(stack, needles), "the member is stored before the erasure"

    response = client.http.post(
        "/privacy/erasures",
        headers={**ADMIN, "Content-Type": "application/json"},
        body=json.dumps({"type": "email", "value": MEMBER_EMAIL}),
    )
    assert response.status_code == 202
    run_privacy_jobs(stack)
    assert residue(stack, needles) == []

    # The erased member's referral code no longer refers anyone.
    newcomer = {
        **order,
        "userId": "residue-newcomer",
        "messageId": "residue-newcomer-id",
        "event": "Signed Up",
        "context": {},
        "properties": {},
    }
    assert (
        client.http.post(
            "/v1/track", headers={**backend, "Content-Type": "application/json"}, body=json.dumps(newcomer)
        ).status_code
        == 200
    )
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    newcomer_id = api(client, "get", "/profiles?user_id=residue-newcomer")[1]["profile_id"]
    status, refused = api(
        client, "put", f"/members/{newcomer_id}/referrer", {"code": referral["referral_code"]}
    )
    assert status in (404, 422), refused


ALONE = r"""
import json, sys
import boto3
from moto import mock_aws

with mock_aws():
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName="customers", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    account = {"profile_id": "p-1", "referral_code": "ABCD2345", "lots": {"2027-12": 50}, "birthday": "03-14"}
    coupon = {"slot": "000001", "coupon": {"code": "CODE1"}}
    for pk, sk, kind, body in [
        ("PROFILE#p-1", "PROFILE", "profile", "{}"),
        ("PROFILE#p-1", "LOYALTY", "loyalty_account", json.dumps(account)),
        ("PROFILE#p-1", "COUPON#d#000001", "member_coupon", json.dumps(coupon)),
        ("PROFILE#p-1", "SEGSTATE", "segment_state", "{}"),
        ("COUPON#CODE1", "COUPON", "coupon", "{}"),
        ("REFERRAL#ABCD2345", "REFERRAL", "referral_code", None),
    ]:
        item = {"pk": {"S": pk}, "sk": {"S": sk}, "kind": {"S": kind}}
        if body is not None:
            item["body"] = {"S": body}
        dynamodb.put_item(TableName="customers", Item=item)

    import functions.privacy.handler  # what the privacy function loads, and nothing else
    from shared.wiring import customers as customers_wiring

    removed = customers_wiring.get_personal_data().delete_profile_partition("p-1")
    left = dynamodb.scan(TableName="customers")["Items"]
    loaded = sorted(m for m in sys.modules if m.startswith("shared.domain.") and m.count(".") == 2)
    print(json.dumps({"removed": removed, "left": left, "loaded": loaded}))
"""


def test_the_privacy_function_alone_erases_a_partition_holding_other_capabilities_items(tmp_path):
    """Loaded as the deployed function loads it (customers only), the erasure meets loyalty and
    segment items in the person's partition and removes them and what they point to."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "CUSTOMERS_TABLE": "customers",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    result = subprocess.run(
        [sys.executable, "-c", ALONE],
        cwd=Path(__file__).resolve().parents[2],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert "shared.domain.loyalty" not in answer["loaded"]
    assert (answer["removed"], answer["left"]) == (8, [])
