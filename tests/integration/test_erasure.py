"""Erasure end to end on the tables from template.yaml: a person known through the web shop
(Segment) and Shopify is erased by their phone number; afterwards no table holds their email,
phone or name, and a late Shopify webhook for them is dropped."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

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


def traces(stack) -> list[str]:
    """Every item of every table that mentions the person, as text."""
    dynamodb = boto3.client("dynamodb")
    found = []
    for table in ("CustomersTable", "TouchpointsTable"):
        for page in dynamodb.get_paginator("scan").paginate(TableName=stack.resources[table]):
            for item in page["Items"]:
                text = json.dumps(item)
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
