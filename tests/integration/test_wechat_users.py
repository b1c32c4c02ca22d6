"""A WeChat subscriber's unionid, on moto with the local stack's simulated WeChat API: the
subscribe webhook is answered at once, the bus takes the subscribe to the unionid lookup, and
the profile ends holding the openid and the unionid. WeChat being down delays the link (the
message comes back) and never the webhook."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from chalice.test import Client

from functions.api.app import app
from functions.wechat_users.handler import lambda_handler as wechat_users
from infra.lambda_runtime import sqs_event
from infra.message_gateway import MessageGateway
from shared import wiring
from shared.domain.customers.admin import find_by_identifier
from shared.domain.ingest.signatures import wechat_signature
from shared.domain.kernel.identifiers import Identifier, IdentifierType
from shared.wiring import customers as customers_wiring
from tests.fakes import FakeClock
from tests.integration.conftest import context_for
from tests.integration.test_segments_flow import ADMIN, NOW
from tests.integration.test_touchpoint_slice import deliver, drain

TOKEN = "wxtoken123"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "appsecret0123456789abcdef0123456"


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(NOW)
    monkeypatch.setattr(wiring, "get_clock", lambda: fake)
    return fake


@pytest.fixture
def wechat(stack, clock, monkeypatch):
    gateway = MessageGateway(now=clock.now).start()
    monkeypatch.setenv("WECHAT_API_URL", gateway.base_url)
    wiring.reset()
    yield gateway
    gateway.stop()


@pytest.fixture
def client(stack, clock, wechat):
    with Client(app) as test_client:
        body = {
            "source_id": "oa",
            "name": "Official account",
            "kind": "wechat",
            "channel": "wechat",
            "signing_secret": TOKEN,
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
        }
        response = test_client.http.post("/sources", headers=ADMIN, body=json.dumps(body))
        assert response.status_code == 201, response.body
        assert APP_SECRET not in response.body.decode()  # never shown again
        yield test_client


def subscribe(client, clock, openid: str) -> int:
    created = str(int(clock.now().timestamp()))
    xml = (
        f"<xml><ToUserName>gh_oa</ToUserName><FromUserName>{openid}</FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType>event</MsgType><Event>subscribe</Event></xml>"
    )
    query = f"signature={wechat_signature(TOKEN, created, 'n1')}&timestamp={created}&nonce=n1&openid={openid}"
    response = client.http.post(
        f"/webhooks/wechat/oa?{query}", headers={"Content-Type": "text/xml"}, body=xml
    )
    return response.status_code


def lookups(stack) -> dict:
    """One delivery of whatever waits on the unionid lookup's queue; its failures."""
    sqs, address = boto3.client("sqs"), stack.queues["WechatUsersQueue"]
    messages = sqs.receive_message(QueueUrl=address.url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    )
    assert messages, "the subscribe reached the lookup's queue"
    result = wechat_users(
        sqs_event(messages, queue_arn=address.arn, region="us-east-1"), context_for("WechatUsersFunction")
    )
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=address.url, ReceiptHandle=message["ReceiptHandle"])
        else:
            sqs.change_message_visibility(
                QueueUrl=address.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
    return result


def identifiers_of(openid: str) -> dict[str, list[str]]:
    graph = customers_wiring.get_customer_graph()
    profile = find_by_identifier(Identifier(type=IdentifierType.WECHAT_OPENID, value=openid), graph=graph)
    found: dict[str, list[str]] = {}
    for identifier in profile.identifiers:
        found.setdefault(identifier.type.value, []).append(identifier.value)
    return found


def test_a_subscribe_ends_with_a_profile_holding_openid_and_unionid(stack, client, clock, wechat):
    wechat.unionids["o-mei"] = "union-mei"
    assert subscribe(client, clock, "o-mei") == 200
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    assert identifiers_of("o-mei") == {"wechat_openid": ["o-mei"]}  # what the event carries
    assert lookups(stack) == {"batchItemFailures": []}
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    assert identifiers_of("o-mei") == {"wechat_openid": ["o-mei"], "wechat_unionid": ["union-mei"]}
    # A second subscriber in the same token's life: no new token.
    assert subscribe(client, clock, "o-lin") == 200
    deliver(stack, drain(stack))
    lookups(stack)
    deliver(stack, drain(stack))
    assert identifiers_of("o-lin")["wechat_unionid"] == [
        wechat.unionids.get("o-lin") or identifiers_of("o-lin")["wechat_unionid"][0]
    ]
    assert wechat.user_info_calls == 2


def test_wechat_down_delays_the_link_and_never_the_webhook(stack, client, clock, wechat):
    wechat.stop()
    assert subscribe(client, clock, "o-kai") == 200  # answered at once
    deliver(stack, drain(stack))
    failed = lookups(stack)["batchItemFailures"]
    assert len(failed) == 1  # comes back later
    restarted = MessageGateway(port=int(wechat.base_url.rsplit(":", 1)[1]), now=clock.now).start()
    try:
        clock.advance(timedelta(minutes=1))
        assert lookups(stack) == {"batchItemFailures": []}
        deliver(stack, drain(stack))
        assert "wechat_unionid" in identifiers_of("o-kai")
    finally:
        restarted.stop()


def test_an_expired_token_is_renewed(stack, client, clock, wechat):
    assert subscribe(client, clock, "o-1") == 200
    deliver(stack, drain(stack))
    lookups(stack)
    clock.current = NOW + timedelta(hours=3)  # the token WeChat gave has expired (and ours too)
    assert subscribe(client, clock, "o-2") == 200
    deliver(stack, drain(stack))
    assert lookups(stack) == {"batchItemFailures": []}
    deliver(stack, drain(stack))
    assert "wechat_unionid" in identifiers_of("o-2")
