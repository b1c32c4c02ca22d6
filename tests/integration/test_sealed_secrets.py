"""Signing secrets at rest (issue 16): a source's and a sales channel's signing secrets are stored
sealed with the stack's KMS key (moto's KMS), and still verify webhooks and sign pushes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from chalice.test import Client
from standardwebhooks import Webhook

from functions.api.app import app
from shared import wiring
from shared.adapters.channel_endpoints import HttpChannelEndpoints
from shared.adapters.sealed_secrets import CONTEXT, SecretSealer
from shared.domain.commerce.sales_channels import SalesChannel
from shared.domain.kernel.errors import DependencyUnavailableError
from shared.wiring import commerce as commerce_wiring
from tests.fakes import FakeClock
from tests.integration.test_segments_flow import ADMIN
from tests.unit.test_webhooks_api import POS_SALE

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def client(stack, monkeypatch):
    monkeypatch.setattr(wiring, "get_clock", lambda: FakeClock(NOW))
    with Client(app) as test_client:
        yield test_client


def stored_source(stack, source_id: str) -> dict:
    item = boto3.client("dynamodb").get_item(
        TableName=stack.resources["TouchpointsTable"], Key={"pk": {"S": "SOURCES"}, "sk": {"S": source_id}}
    )["Item"]
    return item


def test_a_webhook_source_secret_is_stored_sealed_and_still_verifies_its_webhooks(stack, client):
    created = client.http.post(
        "/sources",
        headers=ADMIN,
        body=json.dumps({"source_id": "pos", "name": "Tills", "kind": "standard_webhooks", "channel": "pos"}),
    )
    assert created.status_code == 201
    secret = json.loads(created.body)["credentials"]["signing_secret"]
    stored = [value["S"] for value in stored_source(stack, "pos")["signing_secrets"]["L"]]
    assert len(stored) == 1 and stored[0].startswith("kms:") and secret not in stored[0]

    rotated = client.http.post("/sources/pos/signing-secrets", headers=ADMIN)
    assert rotated.status_code == 201
    newer = json.loads(rotated.body)["signing_secret"]
    after = [value["S"] for value in stored_source(stack, "pos")["signing_secrets"]["L"]]
    assert after[1] == stored[0]  # the older one was kept sealed as it was, never opened
    assert after[0].startswith("kms:")

    wiring.reset()  # a fresh execution environment: nothing opened in memory yet
    for key, message_id in ((newer, "msg-new"), (secret, "msg-old")):
        sale = {
            **POS_SALE,
            "timestamp": NOW.isoformat(),
            "data": {**POS_SALE["data"], "transaction_id": message_id},
        }
        body = json.dumps(sale)
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(NOW.timestamp())),
            "webhook-signature": Webhook(key).sign(message_id, NOW, body),
            "Content-Type": "application/json",
        }
        answer = client.http.post("/webhooks/standard/pos", headers=headers, body=body)
        assert answer.status_code == 200, answer.body  # both secrets verify after opening


def test_a_sales_channel_secret_is_stored_sealed_and_signs_its_pushes(stack):
    catalog = commerce_wiring.get_catalog()
    secret = "whsec_" + "A" * 32
    catalog.save_channel(
        SalesChannel(channel_id="shop", name="Shop", kind="web", locations=["wh-1"], signing_secret=secret)
    )
    item = boto3.client("dynamodb").get_item(
        TableName=stack.resources["CatalogTable"], Key={"pk": {"S": "CHANNEL"}, "sk": {"S": "shop"}}
    )["Item"]
    sealed = json.loads(item["body"]["S"])["signing_secret"]
    assert sealed.startswith("kms:") and secret not in sealed
    wiring.reset()  # the channel-sync function's own execution environment
    channel = commerce_wiring.get_catalog().channel("shop")
    assert channel is not None and channel.signing_secret == sealed
    endpoints = commerce_wiring.get_channel_endpoints()
    assert isinstance(endpoints, HttpChannelEndpoints)
    sent = []
    endpoints._send = sent.append  # type: ignore[method-assign]  # capture instead of HTTP
    endpoints.push(
        channel.model_copy(update={"endpoint_url": "https://shop.example/stock"}),
        "m-1",
        {"a": 1},
        now=datetime.now(UTC),
    )
    (request,) = sent
    headers = {name.lower(): value for name, value in request.header_items()}
    assert Webhook(secret).verify(request.data, headers) == {"a": 1}  # signed with the opened secret


def test_a_sealed_secret_opens_only_under_its_encryption_context(stack):
    key_id = wiring.get_settings().signing_secrets_key_id
    sealed = SecretSealer(key_id).seal("whsec_secret")
    kms = boto3.client("kms")
    other_context = SecretSealer(key_id, kms=_WrongContext(kms))
    with pytest.raises(DependencyUnavailableError):
        other_context.open(sealed)
    assert SecretSealer(key_id).open(sealed) == "whsec_secret"
    assert CONTEXT == {"omnireach": "signing-secret"}


class _WrongContext:
    def __init__(self, kms):
        self._kms = kms

    def decrypt(self, **request):
        return self._kms.decrypt(**{**request, "EncryptionContext": {"omnireach": "something-else"}})
