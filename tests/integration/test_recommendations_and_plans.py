"""Recommendations and contact plans end to end on moto.

Recommendations: orders from the shop reach each customer's purchase history through the bus,
the nightly rebuild makes the model, and the route ranks what goes with what they bought,
never what the store asked about cannot sell; a message names the top product.

Contact plans: a plan of search, email and video exposures for a segment; the refresh writes
each paid channel's sync (the members under target) and the report; the ad platform's exposure
file is matched through the synced hashes and counted once per exposure id; a campaign that
names the plan stops at its maximum; the next refresh drops who reached their target."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from datetime import timedelta
from decimal import Decimal

import boto3

from functions.campaigns.events import lambda_handler as engagement_consumer
from functions.campaigns.plans import lambda_handler as plan_worker
from functions.campaigns.scheduler import tick
from functions.recommendations.nightly import lambda_handler as nightly
from shared import wiring
from shared.domain.ingest.touchpoints import Channel, Order, OrderLine, Touchpoint, TouchpointType
from shared.domain.kernel.events import PROFILE_ERASED
from shared.domain.kernel.identifiers import Identifier, IdentifierType
from shared.settings import get_settings
from shared.wiring import engagement as engagement_wiring
from shared.wiring import ingest as ingest_wiring
from shared.wiring import recommendations as recommendations_wiring
from tests.integration import test_campaigns_flow as campaigns_flow
from tests.integration.conftest import SERVER_WRITE_KEY, WRITE_KEY, context_for
from tests.integration.test_campaigns_flow import call, campaign, dispatch_all, person, report
from tests.integration.test_segments_flow import NOW, run_queue
from tests.integration.test_touchpoint_slice import deliver, drain
from tests.integration.test_trust import MEMBER_SECRET, member_token

clock, senders, client = campaigns_flow.clock, campaigns_flow.senders, campaigns_flow.client  # fixtures
CSV_ADMIN = {**campaigns_flow.ADMIN, "Content-Type": "text/csv"}


def shop_order(stack, who: str, order_id: str, skus: list[str], *, days_ago: float) -> None:
    touchpoint = Touchpoint(
        touchpoint_id=f"order-{order_id}",
        type=TouchpointType.ORDER,
        source_id="web-backend",
        channel=Channel.ECOMMERCE,
        identifiers=[Identifier(type=IdentifierType.USER_ID, value=who)],
        order=Order(
            order_id=order_id,
            currency="CNY",
            total=Decimal(10 * len(skus)),
            lines=[OrderLine(sku=sku, unit_price=Decimal(10)) for sku in skus],
        ),
        occurred_at=NOW - timedelta(days=days_ago),
        received_at=NOW,
    )
    ingest_wiring.get_touchpoint_queue().send_all([touchpoint])


def pipeline(stack) -> None:
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    run_queue(stack, "EngagementQueue", engagement_consumer, "EngagementEventsFunction")


def stock(client, sku: str, location: str, on_hand: int) -> None:
    status, made = call(
        client,
        "put",
        f"/inventory/stock/{sku}/{location}",
        {"on_hand": on_hand, "request_id": f"{sku}-{location}"},
    )
    assert status == 200, made


def test_recommendations_follow_orders_and_never_offer_what_the_store_cannot_sell(
    stack, client, senders, clock, monkeypatch
):
    zoe = person(stack, "zoe", email="zoe@example.com")
    t0 = person(stack, "t0", email="t0@example.com")
    for n in range(4):  # four tea drinkers: a kettle goes with tea, cups with the kettle
        if n:
            person(stack, f"t{n}", email=f"t{n}@example.com")
        shop_order(stack, f"t{n}", f"T{n}", ["TEA", "KETTLE", "CUP" if n < 3 else "LID"], days_ago=20)
    shop_order(stack, "zoe", "Z1", ["TEA"], days_ago=10)
    shop_order(stack, "t0", "T0", ["TEA", "KETTLE", "CUP"], days_ago=20)  # redelivered: one order
    pipeline(stack)
    assert nightly({}, context_for("RecommendationsNightlyFunction"))["customers"] == 5

    assert call(client, "put", "/inventory/locations/sh", {"name": "Shanghai", "kind": "store"})[0] == 200
    for sku, on_hand in (("KETTLE", 0), ("CUP", 5), ("LID", 5), ("TEA", 9)):
        stock(client, sku, "sh", on_hand)
    for sku, base in (("KETTLE", "299"), ("CUP", "39"), ("LID", "19"), ("TEA", "59")):
        assert call(client, "put", f"/prices/{sku}", {"base": base})[0] == 200

    status, found = call(client, "get", f"/profiles/{zoe}/recommendations?location=sh&limit=3")
    assert status == 200, found
    # KETTLE goes with TEA best (4 of 4 tea buyers) but the store has none: never offered there.
    # CUP is next (3 buyers); LID was bought with TEA once only, so it comes by popularity.
    assert [(r["sku"], r["reason"]) for r in found["recommendations"]] == [
        ("CUP", "bought_together"),
        ("LID", "popular"),
    ]
    status, anywhere = call(client, "get", f"/profiles/{zoe}/recommendations?limit=1")
    assert [r["sku"] for r in anywhere["recommendations"]] == ["CUP"]  # no stock anywhere for KETTLE either
    warehouse = {"name": "Warehouse", "kind": "warehouse"}
    assert call(client, "put", "/inventory/locations/wh", warehouse)[0] == 200
    stock(client, "KETTLE", "wh", 3)  # a warehouse has kettles
    status, anywhere = call(client, "get", f"/profiles/{zoe}/recommendations?limit=1")
    assert [r["sku"] for r in anywhere["recommendations"]] == ["KETTLE"]

    # The history follows a new order at once: a kettle bought is not offered again.
    shop_order(stack, "zoe", "Z2", ["KETTLE"], days_ago=1)
    pipeline(stack)
    status, after = call(client, "get", f"/profiles/{zoe}/recommendations?location=sh&limit=5")
    assert "KETTLE" not in [r["sku"] for r in after["recommendations"]]

    for path, code in (
        (f"/profiles/{zoe}/recommendations?limit=0", "invalid_input"),
        (f"/profiles/{zoe}/recommendations?limit=51", "invalid_input"),
        (f"/profiles/{zoe}/recommendations?location=../x", "invalid_input"),
        ("/profiles/nobody/recommendations", "profile_not_found"),
        (f"/profiles/{zoe}/recommendations?location=nowhere", "not_found"),
        (f"/profiles/{zoe}/recommendations?channel=nowhere", "not_found"),
    ):
        status, refused = call(client, "get", path)
        assert 400 <= status < 500 and refused["error"]["code"] == code, (path, refused)
    status, refused = call(client, "get", f"/profiles/{zoe}/recommendations", headers={})
    assert status == 401

    # Trust follows the key: the member reads their own list; a browser's key reads nobody's.
    monkeypatch.setenv("MEMBER_TOKEN_SECRETS", MEMBER_SECRET)
    get_settings.cache_clear()
    own = {"Authorization": f"Bearer {member_token('zoe')}"}
    status, mine = call(client, "get", "/profiles/me/recommendations?limit=1", headers=own)
    assert (status, mine["profile_id"]) == (200, zoe), mine
    someone_else = call(client, "get", f"/profiles/{t0}/recommendations", headers=own)
    assert someone_else[0] == 403, someone_else
    browser = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}
    assert call(client, "get", f"/profiles/{zoe}/recommendations", headers=browser)[0] == 403
    server = {"Authorization": "Basic " + base64.b64encode(f"{SERVER_WRITE_KEY}:".encode()).decode()}
    assert call(client, "get", f"/profiles/{zoe}/recommendations?limit=1", headers=server)[0] == 200

    # A message names the product the customer is likely to want.
    campaign(
        client,
        "kettle-care",
        segment_id="spring",
        channels=["email"],
        variants=[
            {
                "variant_id": "v1",
                "content": {
                    "email": {"subject": "For you", "body": "Hi {{ first_name }}, try {{ recommended_sku }}."}
                },
            }
        ],
    )
    tick()
    dispatch_all(stack)
    bodies = {m.address: m.body for m in senders["email"].sent}
    assert bodies["zoe@example.com"] == "Hi Zoe, try CUP."


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sync_rows(stack, key: str) -> set[str]:
    """The hashed emails of a google-format sync."""
    body = (
        boto3.client("s3")
        .get_object(Bucket=stack.resources["ExportsBucket"], Key=key)["Body"]
        .read()
        .decode()
    )
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["Email", "Phone"]
    return {email for email, _phone in rows[1:]}


def refresh(stack, client, plan_id: str) -> dict:
    status, queued = call(client, "post", f"/contact-plans/{plan_id}/refresh")
    assert status == 202, queued
    run_queue(stack, "PlanQueue", plan_worker, "ContactPlansFunction")
    status, found = call(client, "get", f"/contact-plans/{plan_id}/report")
    assert status == 200 and found["status"] == "done", found
    return found


def test_a_contact_plan_syncs_who_is_under_target_and_counts_what_comes_back(stack, client, senders, clock):
    people = {name: person(stack, name, email=f"{name}@example.com") for name in ("ann", "bob", "cai", "dan")}
    plan = {
        "name": "December reach",
        "segment_id": "spring",
        "period": "week",
        "channels": [
            {"channel": "search", "target": 3, "maximum": 3},
            {"channel": "email", "target": 1, "maximum": 1},
            {"channel": "video", "target": 1, "maximum": 2, "format": "meta", "products": True},
        ],
    }
    status, made = call(client, "put", "/contact-plans/dec", plan)
    assert status == 200 and made["plan_id"] == "dec", made
    first = refresh(stack, client, "dec")
    channels = {t["channel"]: t for t in first["channels"]}
    assert channels["search"]["synced"] == 4 and channels["email"]["synced"] is None
    assert sync_rows(stack, channels["search"]["file_key"]) == {sha(f"{n}@example.com") for n in people}

    at = (NOW - timedelta(hours=2)).isoformat()
    rows = ["exposure_id,channel,kind,at,email_sha256"]
    rows += [f"s-ann-{n},search,impression,{at},{sha('ann@example.com')}" for n in range(3)]
    rows += [f"v-ann,video,view,{at},{sha('ann@example.com')}"]
    rows += [f"s-bob-{n},search,click,{at},{sha('bob@example.com')}" for n in range(2)]
    rows += [f"s-cai-{n},search,impression,{at},{sha('cai@example.com')}" for n in range(4)]
    rows += [f"s-who,search,impression,{at},{sha('stranger@example.com')}"]
    upload = "\n".join(rows) + "\n"
    response = client.http.post("/ad-exposures/google-ads", headers=CSV_ADMIN, body=upload)
    assert response.status_code == 200, response.body
    result = response.json_body
    assert (result["rows"], result["matched"], result["unmatched"], result["counted"], result["people"]) == (
        11,
        10,
        1,
        10,
        3,
    )
    again = client.http.post("/ad-exposures/google-ads", headers=CSV_ADMIN, body=upload).json_body
    assert (again["matched"], again["counted"]) == (10, 0)  # the same exposure ids count once
    bad = client.http.post(
        "/ad-exposures/google-ads", headers=CSV_ADMIN, body=upload + "x,billboard,,2026,zz\n"
    )
    assert bad.status_code == 400 and bad.json_body["error"]["details"]["rows"][0]["line"] == 13
    # The exposures are touchpoints on the profiles too.
    pipeline(stack)
    status, seen = call(client, "get", f"/profiles/{people['ann']}/touchpoints")
    assert {t["event"] for t in seen["touchpoints"]} >= {"Ad Impression", "Ad View"}

    # Owned email reads the same plan: one email per person this week, whichever campaign asks.
    for campaign_id in ("first-mail", "second-mail"):
        campaign(
            client,
            campaign_id,
            channels=["email"],
            contact_plan_id="dec",
            variants=[
                {
                    "variant_id": "v1",
                    "content": {"email": {"subject": "Hi", "body": "Hello {{ first_name }}"}},
                }
            ],
        )
        tick()
        dispatch_all(stack)
    assert len(senders["email"].sent) == 4
    second = report(client, "second-mail")
    assert second["outcomes"]["suppressed"] == 4, second

    # The video platform takes product feeds: each row names the person's next-best products.
    shop_order(stack, "ann", "A1", ["TEA"], days_ago=3)
    pipeline(stack)
    nightly({}, context_for("RecommendationsNightlyFunction"))
    assert call(client, "put", "/inventory/locations/sh", {"name": "Shanghai", "kind": "store"})[0] == 200
    stock(client, "TEA", "sh", 5)

    final = refresh(stack, client, "dec")
    tallies = {t["channel"]: t for t in final["channels"]}
    assert {c: (t["under"], t["at_target"], t["over"]) for c, t in tallies.items()} == {
        "search": (2, 1, 1),  # bob (2) and dan (0) under; ann at 3; cai over at 4
        "email": (0, 4, 0),
        "video": (3, 1, 0),  # only ann was seen on video
    }
    for tally in tallies.values():
        assert tally["under"] + tally["at_target"] + tally["over"] == final["members"] == 4
    assert sync_rows(stack, tallies["search"]["file_key"]) == {sha("bob@example.com"), sha("dan@example.com")}
    video = boto3.client("s3").get_object(
        Bucket=stack.resources["ExportsBucket"], Key=tallies["video"]["file_key"]
    )
    rows = list(csv.reader(io.StringIO(video["Body"].read().decode())))
    assert rows[0] == ["email", "phone", "products"]
    assert sorted(rows[1:]) == sorted(  # bob, cai and dan have not bought TEA, the best-seller
        [[sha(f"{name}@example.com"), "", "TEA"] for name in ("bob", "cai", "dan")]
    )
    assert final["totals"] == {"1": 1, "3": 1, "5": 2}  # dan: email; bob: 2 + 1; ann: 3 + 1 + 1, cai: 4 + 1
    assert tallies["search"]["download_url"].startswith("http")
    assert [row["channel"] for row in final["table"]] == ["search", "email", "video"]

    # An erased customer's synced hashes and purchase history go with them.
    engagement = engagement_wiring.get_engagement()
    purchases = recommendations_wiring.get_recommendation_store()
    assert list(purchases.histories([people["ann"]])) == [people["ann"]]
    assert set(engagement.matches([sha("ann@example.com")], now=NOW)) == {sha("ann@example.com")}
    wiring.get_event_publisher().publish(PROFILE_ERASED, {"profile_ids": [people["ann"]]})
    run_queue(stack, "EngagementQueue", engagement_consumer, "EngagementEventsFunction")
    assert engagement.matches([sha("ann@example.com")], now=NOW) == {}
    assert purchases.histories([people["ann"]]) == {}


def test_contact_plan_routes_refuse_bad_input_with_the_envelope(stack, client):
    good = {
        "name": "P",
        "segment_id": "spring",
        "channels": [{"channel": "search", "target": 1, "maximum": 1}],
    }
    for method, path, body, status, code in (
        ("put", "/contact-plans/Bad Id", good, 400, "invalid_input"),
        ("put", "/contact-plans/p1", {**good, "segment_id": "nope"}, 404, "segment_not_found"),
        ("put", "/contact-plans/p1", {**good, "period": "year"}, 400, "invalid_input"),
        ("put", "/contact-plans/p1", {**good, "timezone": "Mars/Base"}, 400, "invalid_input"),
        ("put", "/contact-plans/p1", {**good, "extra": 1}, 400, "invalid_input"),
        ("get", "/contact-plans/missing", None, 404, "plan_not_found"),
        ("post", "/contact-plans/missing/refresh", None, 404, "plan_not_found"),
    ):
        found_status, found = call(client, method, path, body)
        assert (found_status, found["error"]["code"]) == (status, code), (path, found)
    assert call(client, "put", "/contact-plans/p1", good)[0] == 200
    status, missing = call(client, "get", "/contact-plans/p1/report")
    assert (status, missing["error"]["code"]) == (404, "plan_report_not_found")
    status, bad_period = call(client, "get", "/contact-plans/p1/report?period=2026-13")
    assert (status, bad_period["error"]["code"]) == (400, "invalid_input")
    assert [p["plan_id"] for p in call(client, "get", "/contact-plans")[1]["plans"]] == ["p1"]

    as_json = client.http.post("/ad-exposures/ads", headers=campaigns_flow.ADMIN, body="{}")
    assert as_json.status_code == 415
    too_big = client.http.post("/ad-exposures/ads", headers=CSV_ADMIN, body="x" * 200_001)
    assert too_big.status_code == 413 and too_big.json_body["error"]["code"] == "payload_too_large"
    no_header = client.http.post("/ad-exposures/ads", headers=CSV_ADMIN, body="a,b\n1,2\n")
    assert no_header.status_code == 400
    anonymous = client.http.post("/ad-exposures/ads", headers={"Content-Type": "text/csv"}, body="x")
    assert anonymous.status_code == 401
