"""The local stack's WeChat and webhook gateway: answers as WeChat's does, keeps a repeated
message (same idempotency key) once, and lists what it received per recipient."""

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from infra.message_gateway import MessageGateway

AT = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)


@pytest.fixture
def gateway():
    running = MessageGateway(now=lambda: AT).start()
    yield running
    running.stop()


def post(url: str, body: bytes, key: str = "") -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"idempotency-key": key})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_repeated_message_is_kept_once_and_answered_alike(gateway):
    message = json.dumps({"touser": "o-1", "text": "Hi"}).encode()
    first = post(gateway.url("wechat"), message, key="k-1")
    again = post(gateway.url("wechat"), message, key="k-1")
    other = post(gateway.url("wechat"), json.dumps({"touser": "o-2", "text": "Yo"}).encode(), key="k-2")
    assert first == again == (200, {"errcode": 0, "errmsg": "ok", "msgid": "1"})
    assert other[1]["msgid"] == "2"
    with urllib.request.urlopen(f"{gateway.url('wechat')}?to=o-1", timeout=5) as response:  # noqa: S310
        listed = json.loads(response.read())["messages"]
    assert listed == [
        {"msgid": "1", "received_at": AT.isoformat(), "message": {"touser": "o-1", "text": "Hi"}}
    ]
    assert gateway.messages("webhook") == []


def test_an_unknown_channel_or_a_body_that_is_not_json_is_refused(gateway):
    assert post(f"{gateway.base_url}/sms", b"{}")[0] == 404
    assert post(gateway.url("webhook"), b"{not json")[0] == 400
    assert gateway.messages("webhook") == []
