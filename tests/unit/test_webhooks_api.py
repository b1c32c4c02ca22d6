"""Channel webhooks through the API function, signed as each channel signs them."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client
from standardwebhooks.webhooks import Webhook

from functions.api.app import app
from shared import wiring
from shared.domain.ingest.touchpoints import Channel, Source, SourceKind
from shared.wiring import ingest as ingest_wiring
from tests.fakes import FakeClock, InMemorySourceRegistry, InMemoryTouchpointQueue

SHOP_SECRET = "shpss_0123456789abcdef0123456789abcdef"
SW_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

ORDER = {
    "id": 5550001,
    "email": "Buyer@Example.com",
    "phone": "+8613800138000",
    "created_at": "2026-11-24T16:58:00+08:00",
    "currency": "CNY",
    "total_price": "259.00",
    "total_discounts": "20.00",
    "financial_status": "paid",
    "customer": {"id": 9001, "email": "buyer@example.com"},
    "line_items": [{"sku": "TEA-01", "title": "Oolong", "quantity": 2, "price": "139.50"}],
}
CUSTOMER = {
    "id": 9001,
    "email": "buyer@example.com",
    "first_name": "Li",
    "updated_at": "2026-11-24T08:00:00Z",
    "email_marketing_consent": {"state": "unsubscribed"},
}
REFUND = {
    "id": 77,
    "order_id": 5550001,
    "created_at": "2026-11-24T08:30:00Z",
    "refund_line_items": [{"quantity": 1, "line_item": {"sku": "TEA-01", "price": "139.50"}}],
    "transactions": [{"amount": "139.50"}],
}
CHECKOUT = {
    "token": "ck-1",
    "email": "buyer@example.com",
    "total_price": "139.50",
    "currency": "CNY",
    "customer": {"id": 9001},
    "line_items": [{"sku": "TEA-01", "quantity": 1, "price": "139.50"}],
}
INVENTORY = {
    "inventory_item_id": 808,
    "location_id": 3,
    "available": 12,
    "updated_at": "2026-11-24T08:00:00Z",
}


@pytest.fixture
def ports(monkeypatch):
    registry = InMemorySourceRegistry()
    registry.add(
        Source(source_id="shop", name="Shop", kind=SourceKind.SHOPIFY, channel=Channel.ECOMMERCE),
        signing_secrets=(SHOP_SECRET,),
    )
    registry.add(
        Source(
            source_id="pos",
            name="POS",
            kind=SourceKind.STANDARD_WEBHOOKS,
            channel=Channel.POS,
            default_country_code="86",
        ),
        signing_secrets=(SW_SECRET,),
    )
    registry.add(Source(source_id="web", name="Web"), write_key="wk")
    queue = InMemoryTouchpointQueue()
    monkeypatch.setattr(ingest_wiring, "get_source_registry", lambda: registry)
    monkeypatch.setattr(ingest_wiring, "get_touchpoint_queue", lambda: queue)
    monkeypatch.setattr(wiring, "get_clock", lambda: FakeClock(NOW))
    return queue, registry


@pytest.fixture
def client():
    with Client(app) as test_client:
        yield test_client


def shopify(client, topic, payload, *, secret=SHOP_SECRET, event_id="evt-1", body=None, source="shop"):
    raw = body if body is not None else json.dumps(payload).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Webhook-Id": "wh-" + event_id,
    }
    return client.http.post(f"/webhooks/shopify/{source}", headers=headers, body=raw)


def standard(client, payload, *, secret=SW_SECRET, at=NOW, msg_id="msg_1", tamper=None, source="pos"):
    raw = json.dumps(payload)
    headers = Webhook(secret).sign(msg_id, at, raw)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": headers,
        "Content-Type": "application/json",
    }
    return client.http.post(
        f"/webhooks/standard/{source}", headers=headers, body=tamper if tamper is not None else raw
    )


def test_a_shopify_order_becomes_an_order_touchpoint(client, ports):
    queue, _ = ports
    response = shopify(client, "orders/create", ORDER)
    assert (response.status_code, json.loads(response.body)) == (200, {"received": True, "ignored": False})
    (touchpoint,) = queue.sent
    body_id = hashlib.sha256(json.dumps(ORDER).encode()).hexdigest()[:40]
    assert (touchpoint.touchpoint_id, touchpoint.type.value, touchpoint.channel) == (
        f"shopify:shop:{body_id}",
        "order",
        Channel.ECOMMERCE,
    )
    assert [(i.type.value, i.value) for i in touchpoint.identifiers] == [
        ("shop_customer_id", "9001"),
        ("email", "buyer@example.com"),
        ("phone", "+8613800138000"),
    ]
    assert (str(touchpoint.order.total), str(touchpoint.order.discount), touchpoint.order.order_id) == (
        "259.00",
        "20.00",
        "5550001",
    )
    assert touchpoint.occurred_at == datetime(2026, 11, 24, 8, 58, tzinfo=UTC)


@pytest.mark.parametrize(
    ("topic", "payload", "kind"),
    [
        ("orders/paid", ORDER, "order"),
        ("refunds/create", REFUND, "refund"),
        ("customers/create", CUSTOMER, "customer"),
        ("customers/update", CUSTOMER, "customer"),
        ("checkouts/create", CHECKOUT, "cart"),
        ("checkouts/update", CHECKOUT, "cart"),
        ("inventory_levels/update", INVENTORY, "inventory"),
    ],
)
def test_every_required_shopify_topic_is_normalised(client, ports, topic, payload, kind):
    queue, _ = ports
    assert shopify(client, topic, payload).status_code == 200
    assert [t.type.value for t in queue.sent] == [kind]


def test_a_refund_carries_its_amount_and_a_customer_update_its_consent(client, ports):
    queue, _ = ports
    shopify(client, "refunds/create", REFUND, event_id="r")
    shopify(client, "customers/update", CUSTOMER, event_id="c")
    refund, customer = queue.sent
    assert (refund.order.order_id, str(refund.order.total)) == ("5550001", "139.50")
    assert [(c.channel.value, c.status.value) for c in customer.consent] == [("email", "revoked")]


def test_an_unused_topic_is_acknowledged_and_ignored(client, ports):
    queue, _ = ports
    response = shopify(client, "products/update", {"id": 1})
    assert (response.status_code, json.loads(response.body)["ignored"]) == (200, True)
    assert queue.sent == []


def test_a_shopify_body_reserialised_after_signing_is_401_and_nothing_is_enqueued(client, ports):
    queue, _ = ports
    signed = json.dumps(ORDER).encode()
    raw = json.dumps(ORDER, indent=2).encode()
    signature = base64.b64encode(hmac.new(SHOP_SECRET.encode(), signed, hashlib.sha256).digest()).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Event-Id": "e",
    }
    response = client.http.post("/webhooks/shopify/shop", headers=headers, body=raw)
    assert response.status_code == 401
    assert queue.sent == []


def test_a_wrong_shopify_secret_is_401(client, ports):
    queue, _ = ports
    assert shopify(client, "orders/create", ORDER, secret="not-the-secret").status_code == 401
    assert queue.sent == []


def test_shopify_signed_but_malformed_json_is_400(client, ports):
    queue, _ = ports
    assert shopify(client, "orders/create", None, body=b"{not json").status_code == 400
    assert queue.sent == []


def test_a_webhook_for_the_wrong_kind_of_source_is_403_and_an_unknown_source_404(client, ports):
    assert shopify(client, "orders/create", ORDER, source="pos").status_code == 403
    assert shopify(client, "orders/create", ORDER, source="nope").status_code == 404


POS_SALE = {
    "type": "pos.transaction.completed",
    "timestamp": "2026-11-24T08:59:00Z",
    "data": {
        "transaction_id": "T-100",
        "store_id": "SH-01",
        "currency": "cny",
        "total": "88.00",
        "customer": {"loyalty_card": "LC-777", "phone": "138 0013 8000"},
        "lines": [{"sku": "TEA-02", "name": "Pu'er", "quantity": 1, "unit_price": "88.00"}],
    },
}
CALL = {
    "type": "callcenter.contact.completed",
    "data": {
        "contact_id": "C-9",
        "direction": "inbound",
        "reason": "delivery",
        "duration_seconds": 240,
        "customer": {"phone": "+8613800138000"},
        "consent": [{"channel": "email", "status": "denied", "reason": "asked on call"}],
    },
}


def test_a_pos_sale_becomes_an_order_with_loyalty_card_and_e164_phone(client, ports):
    queue, _ = ports
    response = standard(client, POS_SALE)
    assert (response.status_code, json.loads(response.body)) == (200, {"received": True})
    (touchpoint,) = queue.sent
    assert (touchpoint.touchpoint_id, touchpoint.type.value, touchpoint.channel) == (
        "sw:pos:msg_1",
        "order",
        Channel.POS,
    )
    assert {(i.type.value, i.value) for i in touchpoint.identifiers} == {
        ("loyalty_card", "LC-777"),
        ("phone", "+8613800138000"),
    }
    assert (touchpoint.order.order_id, touchpoint.order.location_id, touchpoint.order.currency) == (
        "T-100",
        "SH-01",
        "CNY",
    )


def test_a_call_center_contact_carries_its_consent_signal(client, ports):
    queue, _ = ports
    standard(client, CALL, msg_id="msg_call")
    (touchpoint,) = queue.sent
    assert touchpoint.type.value == "contact"
    assert [(c.channel.value, c.status.value) for c in touchpoint.consent] == [("email", "denied")]
    assert touchpoint.properties["duration_seconds"] == 240


@pytest.mark.parametrize("skew", [timedelta(minutes=10), timedelta(minutes=-10)], ids=["old", "ahead"])
def test_a_standard_webhook_ten_minutes_off_is_401(client, ports, skew):
    queue, _ = ports
    assert standard(client, POS_SALE, at=NOW + skew).status_code == 401
    assert queue.sent == []


def test_a_standard_webhook_reserialised_after_signing_is_401(client, ports):
    queue, _ = ports
    assert standard(client, POS_SALE, tamper=json.dumps(POS_SALE, indent=1)).status_code == 401
    assert queue.sent == []


def test_a_standard_webhook_signed_with_the_previous_secret_is_accepted_during_rotation(client, ports):
    queue, registry = ports
    new = "whsec_" + base64.b64encode(b"n" * 32).decode()
    registry.add_signing_secret("pos", new, keep=2)
    assert standard(client, POS_SALE).status_code == 200
    assert standard(client, POS_SALE, secret=new, msg_id="msg_2").status_code == 200
    assert len(queue.sent) == 2


def test_a_standard_webhook_without_a_type_is_400(client, ports):
    queue, _ = ports
    assert standard(client, {"data": {}}).status_code == 400
    assert queue.sent == []


def test_one_signed_shopify_body_replayed_under_new_event_ids_or_topics_is_one_touchpoint(client, ports):
    """The topic and event id headers are not signed; the body is (issue 15, defect 11)."""
    queue, _ = ports
    for number in range(4):
        assert shopify(client, "orders/create", ORDER, event_id=f"evt-replay-{number}").status_code == 200
    assert shopify(client, "orders/paid", ORDER, event_id="evt-replay-paid").status_code == 200
    assert len({touchpoint.touchpoint_id for touchpoint in queue.sent}) == 1

    refund = shopify(client, "refunds/create", ORDER, event_id="evt-replay-refund")
    assert (refund.status_code, json.loads(refund.body)["error"]["code"]) == (400, "invalid_input")
    customer = shopify(client, "customers/update", ORDER, event_id="evt-replay-customer")
    assert customer.status_code == 400
    assert {touchpoint.type.value for touchpoint in queue.sent} == {"order"}
