"""What the console reads that no other route gave: the overview's activity and queue reading,
the priced SKUs, a campaign's message rendered for a real customer, a customer's messages with
their outcomes; and the console itself, served with a strict, per-response nonce CSP."""

from __future__ import annotations

import re
from datetime import timedelta

import boto3

from functions.queue_monitor.handler import lambda_handler as monitor
from shared.domain.ingest.touchpoints import Channel, Touchpoint, TouchpointType
from shared.domain.kernel.identifiers import Identifier, IdentifierType
from shared.wiring import ingest as ingest_wiring
from tests.integration import test_campaigns_flow as campaigns_flow
from tests.integration.conftest import context_for
from tests.integration.test_campaigns_flow import call, campaign, dispatch_all, person
from tests.integration.test_segments_flow import NOW
from tests.integration.test_touchpoint_slice import deliver, drain

clock, senders, client = campaigns_flow.clock, campaigns_flow.senders, campaigns_flow.client  # fixtures
SCHEDULED = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


def touch(key: str, channel: Channel, *identifiers: Identifier) -> Touchpoint:
    return Touchpoint(
        touchpoint_id=f"tp-{key}",
        type=TouchpointType.TRACK,
        event="Product Viewed",
        source_id="web",
        channel=channel,
        identifiers=list(identifiers),
        occurred_at=NOW - timedelta(minutes=5),
        received_at=NOW - timedelta(minutes=5),
    )


def test_the_overview_counts_touchpoints_per_channel_profiles_and_merges(stack, client, clock):
    email = Identifier(type=IdentifierType.EMAIL, value="ona@example.com")
    phone = Identifier(type=IdentifierType.PHONE, value="+8613900000001")
    for batch in (
        [touch("web-1", Channel.WEB, email), touch("pos-1", Channel.POS, phone)],  # two people, so far
        [touch("app-1", Channel.APP, email, phone)],  # one person after all: a merge
        [touch("web-1", Channel.WEB, email)],  # a redelivery
    ):
        ingest_wiring.get_touchpoint_queue().send_all(batch)
        assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    monitor(SCHEDULED, context_for("QueueMonitorFunction"))

    status, overview = call(client, "get", "/overview")

    assert status == 200, overview
    day, week = overview["last_day"], overview["last_week"]
    assert len(day["hours"]) == 24 and len(week["days"]) == 7
    assert day["hours"][-1]["start"] == NOW.replace(minute=0, second=0, microsecond=0).isoformat()
    expected = {"touchpoints": 3, "touchpoints_by_channel": {"app": 1, "pos": 1, "web": 1}}
    for window in (day["totals"], week["totals"]):
        assert {key: window[key] for key in expected} == expected  # the duplicate is not counted
        assert (window["profiles_created"], window["merges"]) == (2, 1)
    assert week["days"][-1]["touchpoints"] == {"app": 1, "pos": 1, "web": 1}
    queues = {queue["name"]: queue for queue in overview["queues"]["queues"]}
    assert queues["touchpoints-dlq"] == {
        "name": "touchpoints-dlq",
        "visible": 0,
        "in_flight": 0,
        "dead_letter": True,
        "needs_attention": False,
    }
    assert call(client, "get", "/overview", headers={})[0] == 401


def test_prices_are_listed_a_page_at_a_time(stack, client):
    for sku in ("SKU-A", "SKU-B", "SKU-C"):
        status, _ = call(client, "put", f"/prices/{sku}", {"base": "10.00", "currency": "CNY"})
        assert status == 200
    status, first = call(client, "get", "/prices?limit=2")
    assert status == 200 and [p["sku"] for p in first["prices"]] == ["SKU-A", "SKU-B"], first
    status, second = call(client, "get", f"/prices?limit=2&after={first['next']}")
    assert [p["sku"] for p in second["prices"]] == ["SKU-C"] and second["next"] is None, second
    status, refused = call(client, "get", "/prices?limit=500")
    assert status == 400 and refused["error"]["code"] == "invalid_input"


def test_a_campaign_preview_renders_for_one_customer_and_sends_nothing(stack, client, senders, clock):
    ann = person(stack, "ann", email="ann@example.com")
    status, made = call(
        client,
        "post",
        "/campaigns",
        {
            "campaign_id": "preview-me",
            "name": "Preview me",
            "segment_id": "spring",
            "channels": ["email"],
            "variants": [
                {
                    "variant_id": "v1",
                    "content": {"email": {"subject": "For {{ first_name }}", "body": "Hi <b>"}},
                }
            ],
        },
    )
    assert status == 201, made

    status, preview = call(client, "post", "/campaigns/preview-me/preview", {"profile_id": ann})

    assert status == 200, preview
    assert preview["variant_id"] == "v1" and preview["channel"] == "email"
    assert preview["rendered"]["subject"] == "For Ann" and preview["rendered"]["body"] == "Hi <b>"
    assert senders["email"].sent == []
    assert call(client, "post", "/campaigns/nope/preview", {"profile_id": ann})[0] == 404
    status, refused = call(client, "post", "/campaigns/preview-me/preview", {"profile_id": ann, "x": 1})
    assert status == 400 and refused["error"]["code"] == "invalid_input"
    status, refused = call(
        client, "post", "/campaigns/preview-me/preview", {"profile_id": ann, "channel": "sms"}
    )
    assert status == 400, refused


def test_a_customer_s_messages_show_each_outcome(stack, client, senders, clock):
    bea = person(stack, "bea", email="bea@example.com")
    campaign(client, "spring-note")
    dispatch_all(stack)

    status, found = call(client, "get", f"/profiles/{bea}/messages")

    assert status == 200, found
    (message,) = found["messages"]
    assert (message["program_id"], message["channel"], message["outcome"]) == ("spring-note", "email", "sent")
    assert call(client, "get", "/profiles/NOT A PROFILE/messages")[0] == 400


def test_the_console_is_served_with_a_fresh_nonce_and_a_strict_policy(stack, client):
    pages = [client.http.get("/console") for _ in range(2)]
    nonces = []
    for page in pages:
        assert page.status_code == 200
        policy = page.headers["Content-Security-Policy"]
        (nonce,) = re.findall(r"'nonce-([A-Za-z0-9_-]+)'", policy)
        body = page.body.decode()
        assert f'nonce="{nonce}"' in body and "{{nonce}}" not in body
        assert "<script>" not in body  # no inline script: the one script tag loads a module
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
        for directive in (
            "default-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "connect-src 'self'",
        ):
            assert directive in policy
        assert page.headers["Cache-Control"] == "no-store"
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    module = client.http.get("/console/app.js")
    assert module.status_code == 200 and module.headers["Content-Type"].startswith("text/javascript")
    assert module.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("index.html", "nope.js", "..%2Fapp.py", "APP.JS"):
        response = client.http.get(f"/console/{name}")
        assert response.status_code == 404, name


def test_the_console_never_sets_html_from_data():
    """Every string reaches the page as text: no innerHTML, outerHTML, insertAdjacentHTML or
    document.write anywhere in the console's modules."""
    from functions.api.routes.console import CONSOLE_DIRECTORY

    for module in CONSOLE_DIRECTORY.glob("*.js"):
        source = module.read_text()
        for sink in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ):
            assert sink not in source, f"{module.name} uses {sink}"


def test_the_queue_monitor_keeps_its_latest_reading(stack):
    boto3.client("sqs")  # the monitor reads every queue of the template
    report = monitor(SCHEDULED, context_for("QueueMonitorFunction"))
    assert {row["queue"] for row in report["queues"]} >= {"touchpoints", "touchpoints-dlq"}


def test_a_journey_counts_who_waits_at_each_step(stack, client, senders, clock):
    from functions.campaigns.scheduler import tick
    from shared.wiring import engagement as engagement_wiring

    people = [person(stack, name, email=f"{name}@example.com") for name in ("cid", "dee", "eve")]
    status, made = call(client, "post", "/journeys", {"journey_id": "carts", "template": "cart_abandonment"})
    assert status == 201, made
    journeys = engagement_wiring.get_journeys()
    for index, profile_id in enumerate(people):
        journeys.on_track(profile_id, "Checkout Started", {"cart_id": f"c{index}"}, NOW)
    journeys.on_track(people[0], "Order Completed", {"cart_id": "c0"}, NOW + timedelta(minutes=5))

    status, waiting = call(client, "get", "/journeys/carts/waiting")

    assert status == 200, waiting
    # An instance waits to run its next step: after the hour's wait, the send (cid bought: out).
    assert [step["waiting"] for step in waiting["steps"]] == [0, 2] and waiting["waiting"] == 2, waiting
    clock.advance(timedelta(minutes=61))
    assert tick()["journey_fired"] == 2
    dispatch_all(stack)
    status, waiting = call(client, "get", "/journeys/carts/waiting")
    assert waiting["waiting"] == 0, waiting  # both messaged: nobody waits any more
    assert call(client, "get", "/journeys/nope/waiting")[0] == 404


def test_a_counter_the_table_refuses_costs_no_touchpoint(stack, monkeypatch):
    from shared.domain.kernel.errors import DependencyUnavailableError
    from shared.wiring import activity as activity_wiring

    class Refusing:
        def record(self, activity):
            raise DependencyUnavailableError("The touchpoints table did not answer")

    monkeypatch.setattr(activity_wiring, "get_activity_log", lambda: Refusing())
    email = Identifier(type=IdentifierType.EMAIL, value="pia@example.com")
    ingest_wiring.get_touchpoint_queue().send_all([touch("web-9", Channel.WEB, email)])
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}  # stored, and not sent back
    assert ingest_wiring.get_touchpoint_archive().existing(["tp-web-9"], now=NOW) == {"tp-web-9"}
