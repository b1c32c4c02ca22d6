"""WeChat official-account callbacks, signed and encrypted by wechatpy (an independent
implementation of WeChat's WXBizMsgCrypt scheme)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client
from wechatpy.crypto import WeChatCrypto

from functions.api.app import app
from shared import wiring
from shared.domain.ingest.signatures import wechat_signature
from shared.domain.ingest.touchpoints import Channel, Source, SourceKind
from shared.wiring import ingest as ingest_wiring
from tests.fakes import FakeClock, InMemorySourceRegistry, InMemoryTouchpointQueue

TOKEN = "pamtest"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wxb11529c136998cb6"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TS = str(int(NOW.timestamp()))


def message(event: str | None = "subscribe", *, msg_id: str | None = None, content: str | None = None) -> str:
    body = (
        "<xml><ToUserName><![CDATA[gh_account]]></ToUserName>"
        "<FromUserName><![CDATA[oUser123]]></FromUserName>"
        f"<CreateTime>{TS}</CreateTime>"
    )
    if event:
        body += (
            f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
            "<EventKey><![CDATA[qr_7]]></EventKey>"
        )
    else:
        body += (
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id}</MsgId>"
        )
    return body + "</xml>"


@pytest.fixture
def ports(monkeypatch):
    registry = InMemorySourceRegistry()
    registry.add(
        Source(source_id="oa", name="OA", kind=SourceKind.WECHAT, channel=Channel.WECHAT),
        signing_secrets=(TOKEN,),
    )
    registry.add(
        Source(
            source_id="oa-safe", name="OA safe", kind=SourceKind.WECHAT, channel=Channel.WECHAT, app_id=APP_ID
        ),
        signing_secrets=(TOKEN,),
        encryption_key=AES_KEY,
    )
    queue = InMemoryTouchpointQueue()
    monkeypatch.setattr(ingest_wiring, "get_source_registry", lambda: registry)
    monkeypatch.setattr(ingest_wiring, "get_touchpoint_queue", lambda: queue)
    monkeypatch.setattr(wiring, "get_clock", lambda: FakeClock(NOW))
    return queue


@pytest.fixture
def client():
    with Client(app) as test_client:
        yield test_client


def plain_query(nonce="n1", timestamp=TS, token=TOKEN):
    signature = wechat_signature(token, timestamp, nonce)
    return f"signature={signature}&timestamp={timestamp}&nonce={nonce}&openid=oUser123"


def post_plain(client, body, query=None, source="oa"):
    return client.http.post(
        f"/webhooks/wechat/{source}?{query or plain_query()}", headers={"Content-Type": "text/xml"}, body=body
    )


def post_safe(client, body, *, nonce="n2", timestamp=TS, crypto=None):
    encrypted = (crypto or WeChatCrypto(TOKEN, AES_KEY, APP_ID)).encrypt_message(body, nonce, timestamp)
    encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", encrypted).group(1)
    msg_signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]></MsgSignature>", encrypted).group(1)
    inbound = (
        f"<xml><ToUserName><![CDATA[gh_account]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )
    query = (
        f"signature={wechat_signature(TOKEN, timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"
        f"&openid=oUser123&encrypt_type=aes&msg_signature={msg_signature}"
    )
    return client.http.post(
        f"/webhooks/wechat/oa-safe?{query}", headers={"Content-Type": "text/xml"}, body=inbound
    )


def test_the_server_check_echoes_echostr(client, ports):
    response = client.http.get(f"/webhooks/wechat/oa?{plain_query()}&echostr=5838479218127813673")
    assert (response.status_code, response.body) == (200, b"5838479218127813673")


def test_a_forged_server_check_is_401(client, ports):
    response = client.http.get(f"/webhooks/wechat/oa?{plain_query(token='guess')}&echostr=1")
    assert response.status_code == 401


def test_subscribe_is_a_message_touchpoint_with_wechat_consent(client, ports):
    response = post_plain(client, message("subscribe"))
    assert (response.status_code, response.body) == (200, b"success")
    (touchpoint,) = ports.sent
    assert (touchpoint.event, touchpoint.type.value) == ("wechat.subscribe", "message")
    assert touchpoint.touchpoint_id == f"wechat:oa:oUser123:{TS}"  # FromUserName + CreateTime
    assert [(i.type.value, i.value) for i in touchpoint.identifiers] == [("wechat_openid", "oUser123")]
    assert [(c.channel.value, c.status.value) for c in touchpoint.consent] == [("wechat", "granted")]
    assert touchpoint.properties["event_key"] == "qr_7"


@pytest.mark.parametrize("event", ["unsubscribe", "SCAN", "CLICK", "VIEW"])
def test_every_event_type_is_accepted(client, ports, event):
    assert post_plain(client, message(event)).status_code == 200
    assert ports.sent[0].event == f"wechat.{event.lower()}"
    assert [c.status.value for c in ports.sent[0].consent] == (["revoked"] if event == "unsubscribe" else [])


def test_a_text_message_is_deduplicated_by_msg_id(client, ports):
    post_plain(client, message(None, msg_id="1234567890123456", content="你好"))
    (touchpoint,) = ports.sent
    assert (touchpoint.touchpoint_id, touchpoint.event, touchpoint.properties["content"]) == (
        "wechat:oa:1234567890123456",
        "wechat.message.text",
        "你好",
    )


@pytest.mark.parametrize("skew", [timedelta(minutes=-10), timedelta(minutes=10)], ids=["old", "ahead"])
def test_a_wrong_signature_or_a_timestamp_ten_minutes_off_is_401_and_nothing_is_enqueued(client, ports, skew):
    assert post_plain(client, message(), query=plain_query(token="wrong")).status_code == 401
    off = str(int((NOW + skew).timestamp()))
    assert post_plain(client, message(), query=plain_query(timestamp=off)).status_code == 401
    assert ports.sent == []


def test_malicious_xml_is_refused(client, ports):
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        "<xml><FromUserName>&b;</FromUserName></xml>"
    )
    assert post_plain(client, bomb).status_code == 400
    assert ports.sent == []


def test_safe_mode_decrypts_a_message_encrypted_by_wechatpy(client, ports):
    response = post_safe(client, message("CLICK"))
    assert (response.status_code, response.body) == (200, b"success")
    assert [t.event for t in ports.sent] == ["wechat.click"]


def test_safe_mode_refuses_plaintext_a_wrong_msg_signature_and_another_app(client, ports):
    assert post_plain(client, message(), source="oa-safe").status_code == 401
    other_app = WeChatCrypto(TOKEN, AES_KEY, "wx_someone_else")
    assert post_safe(client, message(), crypto=other_app).status_code == 401
    wrong_token = WeChatCrypto("another-token", AES_KEY, APP_ID)
    assert post_safe(client, message(), crypto=wrong_token).status_code == 401
    assert ports.sent == []
