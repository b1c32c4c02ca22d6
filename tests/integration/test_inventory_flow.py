"""Inventory and pricing end to end on moto, through the API, the bus and the queues, with channel
endpoints served over real HTTP by the channel simulator (signatures verified)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import boto3
import pytest
from chalice.test import Client

from functions.api.app import app
from functions.channel_sync.handler import lambda_handler as sync_worker
from functions.inventory.handler import lambda_handler as inventory_consumer
from functions.inventory.schedules import push_promotion_boundaries
from infra.channel_simulator import ChannelSimulator
from infra.lambda_runtime import sqs_event
from shared import wiring
from shared.domain.ingest.sources import NewSource, create_source
from shared.domain.ingest.touchpoints import Channel, SourceKind, SourceTrust
from shared.wiring import commerce as commerce_wiring
from shared.wiring import ingest as ingest_wiring
from tests.fakes import FakeClock
from tests.integration.conftest import context_for
from tests.integration.test_segments_flow import ADMIN, NOW, SEGMENT, run_queue
from tests.integration.test_touchpoint_slice import deliver, drain

TILL_KEY = "store-sh-till-key"
TILL = {
    "Authorization": "Basic " + base64.b64encode(f"{TILL_KEY}:".encode()).decode(),
    "Content-Type": "application/json",
}


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(NOW)
    monkeypatch.setattr(wiring, "get_clock", lambda: fake)
    return fake


@pytest.fixture
def simulator(clock):
    server = ChannelSimulator(now=clock.now).start()
    yield server
    server.stop()


@pytest.fixture
def client(stack, clock, simulator):
    create_source(
        NewSource(
            source_id="store-sh-tills",
            name="Shanghai tills",
            kind=SourceKind.SEGMENT,
            channel=Channel.POS,
            trust=SourceTrust.SERVER,
        ),
        registry=ingest_wiring.get_source_registry(),
        write_key_factory=lambda: TILL_KEY,
    )
    with Client(app) as test_client:
        call(test_client, "put", "/inventory/locations/wh-east", {"name": "East DC", "kind": "warehouse"})
        call(test_client, "put", "/inventory/locations/store-sh", {"name": "Shanghai store", "kind": "store"})
        for channel_id, body in {
            "web": {"name": "Web shop", "kind": "web", "locations": ["wh-east", "store-sh"]},
            "tmall": {
                "name": "Tmall",
                "kind": "marketplace",
                "locations": ["wh-east"],
                "rules": {"percent": 40, "zero_below": 3},
            },
            "pos-sh": {
                "name": "Shanghai POS",
                "kind": "pos",
                "locations": ["store-sh"],
                "source_id": "store-sh-tills",
            },
        }.items():
            status, made = call(
                test_client, "put", f"/inventory/channels/{channel_id}", body | simulator.urls(channel_id)
            )
            assert status == 200 and made["signing_secret"].startswith("whsec_")
            simulator.add(channel_id, made["signing_secret"])
        yield test_client


def call(client, method: str, path: str, body: dict | None = None, headers: dict = ADMIN):
    send = getattr(client.http, method)
    response = (
        send(path, headers=headers, body=json.dumps(body))
        if body is not None
        else send(path, headers=headers)
    )
    return response.status_code, (json.loads(response.body) if response.body else None)


def count(client, sku: str, location_id: str, on_hand: int, request_id: str) -> None:
    status, _ = call(
        client, "put", f"/inventory/stock/{sku}/{location_id}", {"on_hand": on_hand, "request_id": request_id}
    )
    assert status == 200


def level(client, sku: str, location_id: str) -> dict:
    _, found = call(client, "get", f"/inventory/availability/{sku}")
    return next(item for item in found["locations"] if item["location_id"] == location_id)


def published(client, sku: str) -> dict[str, int]:
    _, found = call(client, "get", f"/inventory/availability/{sku}")
    return {view["channel_id"]: view["available"] for view in found["channels"]}


def sync_all(stack) -> int:
    """Deliver channel sync requests until the queue is empty; failures come back at once."""
    sqs, address = boto3.client("sqs"), stack.queues["ChannelSyncQueue"]
    failures = 0
    for _ in range(50):
        messages = sqs.receive_message(
            QueueUrl=address.url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return failures
        result = sync_worker(
            sqs_event(messages, queue_arn=address.arn, region="us-east-1"), context_for("ChannelSyncFunction")
        )
        failed = {failure["itemIdentifier"] for failure in result["batchItemFailures"]}
        failures += len(failed)
        for message in messages:
            if message["MessageId"] in failed:
                return failures  # the endpoint is down: leave the rest queued, as Lambda's backoff would
            sqs.delete_message(QueueUrl=address.url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the sync queue did not drain")


def track_order(client, stack, event: str, message_id: str, properties: dict, headers: dict) -> None:
    body = {
        "userId": "lin",
        "event": event,
        "messageId": message_id,
        "timestamp": NOW.isoformat(),
        "properties": properties,
    }
    assert client.http.post("/v1/track", headers=headers, body=json.dumps(body)).status_code == 200
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    run_queue(stack, "InventoryQueue", inventory_consumer, "InventoryFunction")


def reserve(client, body: dict, headers: dict = ADMIN):
    return call(client, "post", "/inventory/reservations", body, headers)


def test_an_online_sale_lowers_the_store_and_a_store_sale_lowers_the_web_shop(stack, client, simulator):
    count(client, "LAMP-1", "store-sh", 5, "c-1")
    sync_all(stack)
    assert simulator.channels["pos-sh"].shown["LAMP-1"]["available"] == 5
    assert simulator.channels["web"].shown["LAMP-1"]["available"] == 5

    status, held = reserve(
        client, {"request_id": "cart-1", "channel_id": "web", "lines": [{"sku": "LAMP-1", "quantity": 2}]}
    )
    assert status == 201 and held["status"] == "held" and held["lines"][0]["location_id"] == "store-sh"
    status, committed = call(
        client, "post", f"/inventory/reservations/{held['reservation_id']}/commit", {"order_id": "W-1"}
    )
    assert (status, committed["status"]) == (200, "committed")
    sync_all(stack)
    assert simulator.channels["pos-sh"].shown["LAMP-1"]["available"] == 3  # the store's view followed

    # The web order's event arrives later through the pipeline: it must not sell the lamps twice.
    track_order(
        client,
        stack,
        "Order Completed",
        "evt-w1",
        {"order_id": "W-1", "products": [{"sku": "LAMP-1", "quantity": 2}]},
        SEGMENT,
    )
    assert level(client, "LAMP-1", "store-sh")["on_hand"] == 3

    # A till sale (its own key, its store named) lowers what the web shop shows.
    track_order(
        client,
        stack,
        "Order Completed",
        "evt-s1",
        {"order_id": "S-1", "location_id": "store-sh", "products": [{"sku": "LAMP-1", "quantity": 1}]},
        SEGMENT,
    )
    sync_all(stack)
    assert simulator.channels["web"].shown["LAMP-1"]["available"] == 2
    assert level(client, "LAMP-1", "store-sh") | {"changed_at": None} == level(
        client, "LAMP-1", "store-sh"
    ) | {"on_hand": 2, "reserved": 0, "available": 2, "changed_at": None}
    status, ledger = call(client, "get", "/inventory/stock/LAMP-1/store-sh/movements")
    assert [(m["reason"], m["on_hand"]) for m in ledger["movements"]] == [
        ("sale", -1),
        ("sale", -2),
        ("count", 5),
    ]
    assert simulator.channels["web"].stale == 0 and simulator.channels["web"].refused == 0

    # A refund of the till sale puts the lamp back where it came from.
    track_order(
        client,
        stack,
        "Order Refunded",
        "evt-r1",
        {"order_id": "S-1", "products": [{"sku": "LAMP-1", "quantity": 1}], "total": 99},
        SEGMENT,
    )
    assert level(client, "LAMP-1", "store-sh")["on_hand"] == 3


def test_pickup_in_store_reserves_only_at_that_store(stack, client):
    count(client, "SOFA-2", "wh-east", 10, "c-1")
    body = {
        "request_id": "bopis-1",
        "channel_id": "web",
        "pickup_location_id": "store-sh",
        "lines": [{"sku": "SOFA-2", "quantity": 1}],
    }
    status, refused = reserve(client, body)
    assert (status, refused["error"]["code"]) == (409, "insufficient_stock")
    assert refused["error"]["details"]["sellable"] == {"store-sh": 0}
    assert level(client, "SOFA-2", "wh-east")["available"] == 10  # the warehouse was not touched

    count(client, "SOFA-2", "store-sh", 1, "c-2")
    status, held = reserve(client, body | {"request_id": "bopis-2"})
    assert status == 201 and held["lines"][0]["location_id"] == "store-sh"
    assert (
        level(client, "SOFA-2", "store-sh")["available"],
        level(client, "SOFA-2", "wh-east")["available"],
    ) == (0, 10)


def test_a_cart_with_one_short_line_reserves_nothing(stack, client):
    count(client, "CUP-1", "wh-east", 10, "c-1")
    count(client, "SAUCER-1", "wh-east", 3, "c-2")
    cart = {
        "request_id": "cart-9",
        "channel_id": "web",
        "lines": [
            {"sku": "CUP-1", "quantity": 2},
            {"sku": "SAUCER-1", "quantity": 2},
            {"sku": "SAUCER-1", "quantity": 2},
        ],
    }
    status, refused = reserve(client, cart)
    assert (status, refused["error"]["details"]["sku"], refused["error"]["details"]["quantity"]) == (
        409,
        "SAUCER-1",
        4,
    )
    for sku, available in (("CUP-1", 10), ("SAUCER-1", 3)):
        assert {k: level(client, sku, "wh-east")[k] for k in ("available", "reserved")} == {
            "available": available,
            "reserved": 0,
        }
    assert reserve(client, cart)[0] == 409  # the replay answers the same refusal


def test_reservations_are_idempotent_expire_at_read_time_and_are_swept(stack, client, clock):
    count(client, "TEA-1", "wh-east", 5, "c-1")
    body = {
        "request_id": "cart-1",
        "channel_id": "web",
        "lines": [{"sku": "TEA-1", "quantity": 2}],
        "hold_seconds": 60,
    }
    status, held = reserve(client, body)
    assert status == 201
    replay_status, replay = reserve(client, body)
    assert (replay_status, replay["reservation_id"]) == (200, held["reservation_id"])
    status, mismatch = reserve(client, body | {"lines": [{"sku": "TEA-1", "quantity": 3}]})
    assert (status, mismatch["error"]["code"]) == (400, "idempotency_mismatch")
    assert level(client, "TEA-1", "wh-east")["available"] == 3

    clock.advance(timedelta(seconds=61))
    assert {k: level(client, "TEA-1", "wh-east")[k] for k in ("available", "reserved", "expired_holds")} == {
        "available": 5,
        "reserved": 0,
        "expired_holds": 2,
    }  # counted free before any sweep
    status, late = call(
        client, "post", f"/inventory/reservations/{held['reservation_id']}/commit", {"order_id": "W-9"}
    )
    assert (status, late["error"]["code"]) == (409, "reservation_closed")
    assert commerce_wiring.get_inventory().sweep()["released"] == 1
    assert {k: level(client, "TEA-1", "wh-east")[k] for k in ("available", "reserved", "expired_holds")} == {
        "available": 5,
        "reserved": 0,
        "expired_holds": 0,
    }
    assert call(client, "get", f"/inventory/reservations/{held['reservation_id']}")[1]["status"] == "released"
    assert commerce_wiring.get_inventory().sweep()["released"] == 0


def test_a_till_uses_its_channel_key_only_for_its_channel(stack, client):
    count(client, "MUG-1", "store-sh", 4, "c-1")
    till_cart = {"request_id": "till-1", "channel_id": "pos-sh", "lines": [{"sku": "MUG-1", "quantity": 1}]}
    assert reserve(client, till_cart, TILL)[0] == 201
    status, refused = reserve(client, till_cart | {"channel_id": "web", "request_id": "till-2"}, TILL)
    assert (status, refused["error"]["code"]) == (403, "forbidden")
    status, view = call(client, "get", "/inventory/availability/MUG-1?channel=pos-sh", headers=TILL)
    assert status == 200 and [c["available"] for c in view["channels"]] == [3]


def test_who_asks_is_checked_before_what_they_send_or_which_reservations_exist(stack, client):
    count(client, "MUG-2", "wh-east", 4, "c-1")
    web_hold = reserve(
        client, {"request_id": "w-1", "channel_id": "web", "lines": [{"sku": "MUG-2", "quantity": 1}]}
    )
    assert web_hold[0] == 201
    held = web_hold[1]["reservation_id"]
    nobody = {"Content-Type": "application/json"}
    # no credential: 401 whatever the body or the id, never a 400 or a 404 that tells something
    assert client.http.post("/inventory/reservations", headers=nobody, body="{not json").status_code == 401
    for reservation_id in (held, "r" + "0" * 24):
        assert client.http.get(f"/inventory/reservations/{reservation_id}", headers=nobody).status_code == 401
    # another channel's till: the web's reservation answers as an unknown one does
    status, answer = call(client, "get", f"/inventory/reservations/{held}", headers=TILL)
    unknown = call(client, "get", "/inventory/reservations/r" + "0" * 24, headers=TILL)
    assert (
        (status, answer["error"]["code"]) == (unknown[0], unknown[1]["error"]["code"]) == (404, "not_found")
    )
    status, _ = call(client, "post", f"/inventory/reservations/{held}/release", {}, headers=TILL)
    assert status == 404
    assert call(client, "get", f"/inventory/reservations/{held}")[1]["status"] == "held"  # untouched


def test_a_channel_down_for_a_while_gets_the_latest_value_and_never_an_older_one(
    stack, client, simulator, clock, monkeypatch
):
    # Backoff waits pass at once here (the waits themselves are the handler's unit of work).
    monkeypatch.setattr("functions.channel_sync.handler.backoff_seconds", lambda receives, chooser: 0)
    count(client, "BAG-1", "wh-east", 50, "c-1")
    sync_all(stack)
    tmall = simulator.channels["tmall"]
    assert tmall.shown["BAG-1"]["available"] == 20  # 40% of 50
    tmall.down = True
    for number, on_hand in enumerate((40, 30, 25), start=2):
        count(client, "BAG-1", "wh-east", on_hand, f"c-{number}")
        assert sync_all(stack) >= 1  # refused while down
        assert tmall.shown["BAG-1"]["available"] == 20
    tmall.down = False
    sync_all(stack)
    assert (
        tmall.shown["BAG-1"]["available"] == 10
    )  # 40% of 25: the latest, at the first push after the outage
    sequences = [push["sequence"] for push in tmall.received if push["sku"] == "BAG-1"]
    assert sequences == sorted(sequences) and [
        p["available"] for p in tmall.received if p["sku"] == "BAG-1"
    ] == [20, 10]
    assert tmall.stale == 0 and tmall.refused >= 3


def test_reconciliation_finds_every_injected_drift_and_no_in_flight_push(stack, client, simulator, clock):
    for number, sku in enumerate(("A-1", "B-1", "C-1", "D-1")):
        count(client, sku, "wh-east", 20, f"c-{number}")
        assert call(client, "put", f"/prices/{sku}", {"base": "100.00"})[0] == 200
    sync_all(stack)
    clock.advance(timedelta(minutes=10))
    simulator.channels["tmall"].drift("A-1", available=13)  # someone edited the listing on Tmall
    simulator.channels["web"].drift("B-1", price="90.00")
    count(client, "C-1", "wh-east", 7, "c-9")  # a change whose pushes are still queued
    report = commerce_wiring.get_channel_sync().reconcile()
    drifted = {(d["channel_id"], d["sku"], d["reason"]) for d in report["drift"]}
    assert drifted == {("tmall", "A-1", "channel_differs"), ("web", "B-1", "channel_differs")}
    assert report["in_flight"] == 2  # C-1 on web and on tmall: not alarms
    assert report["checked"] == report["in_sync"] + report["in_flight"] + report["drifted"]
    sync_all(stack)
    assert simulator.channels["tmall"].shown["A-1"]["available"] == 8  # repaired: 40% of 20
    assert simulator.channels["web"].shown["B-1"]["price"] == "100.00"
    clock.advance(timedelta(minutes=10))
    assert commerce_wiring.get_channel_sync().reconcile()["drifted"] == 0
    assert call(client, "get", "/inventory/reconciliation")[1]["reports"][0]["drifted"] == 0


def test_a_promotion_starting_at_ten_prices_every_channel_alike_at_ten(stack, client, simulator, clock):
    clock.current = NOW.replace(hour=9, minute=59, second=59)
    assert (
        call(
            client,
            "put",
            "/prices/DRESS-1",
            {"base": "200.00", "category": "dresses", "overrides": {"pos-sh": "180.00"}},
        )[0]
        == 200
    )
    count(client, "DRESS-1", "wh-east", 10, "c-1")
    promotion = {
        "name": "Spring",
        "kind": "percent",
        "value": "20",
        "categories": ["dresses"],
        "starts_at": NOW.replace(hour=10, minute=0, second=0).isoformat(),
    }
    assert call(client, "put", "/promotions/spring", promotion)[0] == 200
    push_promotion_boundaries()
    sync_all(stack)
    prices = {c["channel_id"]: c["price"] for c in call(client, "get", "/prices/DRESS-1")[1]["channels"]}
    assert prices == {"web": "200.00", "tmall": "200.00", "pos-sh": "180.00"}

    clock.current = NOW.replace(hour=10, minute=0, second=0)
    prices = {c["channel_id"]: c["price"] for c in call(client, "get", "/prices/DRESS-1")[1]["channels"]}
    assert prices == {"web": "160.00", "tmall": "160.00", "pos-sh": "180.00"}  # the override stays
    clock.advance(timedelta(seconds=30))
    assert push_promotion_boundaries()["skus"] == 1
    sync_all(stack)
    assert {name: simulator.channels[name].shown["DRESS-1"]["price"] for name in ("web", "tmall")} == {
        "web": "160.00",
        "tmall": "160.00",
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("put", "/inventory/stock/X-1/nowhere", {"on_hand": 1, "request_id": "r"}, 404, "not_found"),
        ("put", "/inventory/stock/X-1/wh-east", {"on_hand": -1, "request_id": "r"}, 400, "invalid_input"),
        (
            "post",
            "/inventory/stock/X-1/wh-east/adjustments",
            {"quantity": 0, "request_id": "r"},
            400,
            "invalid_input",
        ),
        (
            "put",
            "/inventory/channels/bad",
            {"name": "x", "kind": "web", "locations": ["nowhere"]},
            400,
            "invalid_input",
        ),
        (
            "post",
            "/inventory/reservations",
            {"request_id": "r", "channel_id": "nope", "lines": [{"sku": "X", "quantity": 1}]},
            404,
            "not_found",
        ),
        (
            "post",
            "/inventory/reservations",
            {"request_id": "r", "channel_id": "web", "lines": []},
            400,
            "invalid_input",
        ),
        ("get", "/inventory/reservations/r000000000000000000000000", None, 404, "not_found"),
        (
            "put",
            "/promotions/p1",
            {"name": "x", "kind": "percent", "value": "120", "starts_at": "2026-11-24T10:00:00+00:00"},
            400,
            "invalid_input",
        ),
        ("get", "/prices/NOPRICE", None, 404, "not_found"),
    ],
)
def test_refusals_are_error_envelopes(client, method, path, body, status, code):
    answered, envelope = call(client, method, path, body)
    assert (answered, envelope["error"]["code"]) == (status, code)


def test_a_count_is_compare_and_set_and_an_older_count_never_rolls_back(stack, client):
    count(client, "PEN-1", "wh-east", 10, "c-1")
    status, stale = call(
        client,
        "put",
        "/inventory/stock/PEN-1/wh-east",
        {"on_hand": 4, "request_id": "c-2", "expected_on_hand": 9},
    )
    assert (status, stale["error"]["code"]) == (409, "stale_count")
    newer = {"on_hand": 8, "request_id": "c-3", "counted_at": "2026-11-24T08:30:00+00:00", "source": "wms"}
    assert call(client, "put", "/inventory/stock/PEN-1/wh-east", newer)[1]["applied"] is True
    older = {"on_hand": 3, "request_id": "c-4", "counted_at": "2026-11-24T08:00:00+00:00", "source": "wms"}
    assert call(client, "put", "/inventory/stock/PEN-1/wh-east", older)[1]["applied"] is False
    assert level(client, "PEN-1", "wh-east")["on_hand"] == 8
    adjustment = {"quantity": -20, "request_id": "a-1", "reason": "damaged"}
    status, moved = call(client, "post", "/inventory/stock/PEN-1/wh-east/adjustments", adjustment)
    assert (status, moved["movement"]["on_hand"], moved["movement"]["shortfall"]) == (201, -8, 12)
    again = call(client, "post", "/inventory/stock/PEN-1/wh-east/adjustments", adjustment)[1]
    assert again["movement"] == moved["movement"] and again["level"]["on_hand"] == 0


SHOP_SECRET = "shpss_inventory_levels_secret"


def shopify_level(client, event_id: str, available: int, updated_at: str) -> None:
    import hashlib
    import hmac

    body = json.dumps(
        {"inventory_item_id": 808, "location_id": 655441491, "available": available, "updated_at": updated_at}
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "inventory_levels/update",
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Hmac-Sha256": base64.b64encode(
            hmac.new(SHOP_SECRET.encode(), body, hashlib.sha256).digest()
        ).decode(),
    }
    assert client.http.post("/webhooks/shopify/shop", headers=headers, body=body).status_code == 200


def test_levels_a_shopify_store_reports_apply_in_time_order(stack, client):
    create_source(
        NewSource(
            source_id="shop", name="Shop", kind="shopify", channel="ecommerce", signing_secret=SHOP_SECRET
        ),
        registry=ingest_wiring.get_source_registry(),
    )
    location = {"name": "Shopify-run store", "kind": "store", "external_ids": ["shop:655441491"]}
    assert call(client, "put", "/inventory/locations/store-bj", location)[0] == 200
    count(client, "808", "store-bj", 10, "c-1")
    reserve(
        client,
        {
            "request_id": "bj-1",
            "channel_id": "web",
            "pickup_location_id": "store-bj",
            "lines": [{"sku": "808", "quantity": 2}],
        },
    )

    def pipeline() -> None:
        assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
        run_queue(stack, "InventoryQueue", inventory_consumer, "InventoryFunction")

    shopify_level(client, "lvl-2", 6, "2026-11-24T08:30:00Z")
    pipeline()
    found = level(client, "808", "store-bj")
    assert (found["available"], found["reserved"], found["on_hand"]) == (
        6,
        2,
        8,
    )  # Shopify's 6 plus our 2 held
    shopify_level(client, "lvl-1", 9, "2026-11-24T08:00:00Z")  # older, delivered late
    shopify_level(client, "lvl-2", 6, "2026-11-24T08:30:00Z")  # the same event again
    pipeline()
    assert level(client, "808", "store-bj")["available"] == 6
    status, ledger = call(client, "get", "/inventory/stock/808/store-bj/movements")
    assert status == 200
    assert [(m["reason"], m["on_hand"], m["source"]) for m in ledger["movements"]] == [
        ("count", -2, "shop"),
        ("count", 10, "admin"),
    ]
