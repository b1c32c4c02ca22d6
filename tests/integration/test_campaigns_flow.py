"""Campaigns and journeys end to end on moto: people arrive through the touchpoint pipeline, the
segment keeps the audience, the scheduler pages it onto the dispatch queue, the worker decides
and sends through recording senders, the report counts the ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import boto3
import pytest
from chalice.test import Client

from functions.api.app import app
from functions.campaigns.dispatch import lambda_handler as dispatch_worker
from functions.campaigns.events import lambda_handler as engagement_consumer
from functions.campaigns.scheduler import tick
from functions.segments.handler import lambda_handler as segments_consumer
from infra.lambda_runtime import sqs_event
from shared import wiring
from shared.adapters.senders import InboxSender
from shared.domain.customers.identity import identity_key
from shared.domain.engagement.dispatch import holdout
from shared.domain.engagement.frequency import Contact, ContactHistory
from shared.domain.engagement.messaging import OutboundMessage, ThrottledError
from shared.domain.ingest.touchpoints import Channel, ConsentSignal, ConsentStatus, Touchpoint, TouchpointType
from shared.domain.kernel.identifiers import Identifier, IdentifierType
from shared.wiring import customers as customers_wiring
from shared.wiring import engagement as engagement_wiring
from shared.wiring import ingest as ingest_wiring
from tests.fakes import FakeClock
from tests.integration.conftest import context_for
from tests.integration.test_erasure import run_privacy_jobs
from tests.integration.test_segments_flow import ADMIN, NOW, run_queue
from tests.integration.test_touchpoint_slice import deliver, drain


@dataclass
class RecordingSender:
    idempotent: bool = False
    sent: list[OutboundMessage] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    crash_before_answer: int = 0  # the next N calls die after the contact history said the send is under way
    throttle: int = 0

    def send(self, message: OutboundMessage) -> str:
        if self.throttle:
            self.throttle -= 1
            raise ThrottledError("slow down")
        if self.crash_before_answer:
            self.crash_before_answer -= 1
            raise RuntimeError("the worker died")
        if self.idempotent and message.idempotency_key in self.keys:
            return "deduplicated"
        self.keys.add(message.idempotency_key)
        self.sent.append(message)
        return f"m{len(self.sent)}"


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(NOW)  # 09:00 UTC = 17:00 in Shanghai: outside quiet hours
    monkeypatch.setattr(wiring, "get_clock", lambda: fake)
    return fake


@pytest.fixture
def senders(stack, clock):
    made = {
        "email": RecordingSender(),
        "sms": RecordingSender(),
        "push": RecordingSender(),
        "wechat": RecordingSender(idempotent=True),
    }
    engagement_wiring.use_senders(
        {**made, "inbox": InboxSender(engagement_wiring.get_engagement(), clock.now)}
    )
    yield made
    engagement_wiring.use_senders({})


@pytest.fixture
def client(stack, clock, senders):
    with Client(app) as test_client:
        call(
            test_client,
            "post",
            "/segments",
            {
                "segment_id": "spring",
                "name": "Spring shoppers",
                "rule": {"field": "traits.group", "op": "eq", "value": "spring"},
            },
        )
        run_queue(stack, "SegmentQueue", segments_consumer, "SegmentsFunction")
        yield test_client


def call(client, method: str, path: str, body: dict | None = None, headers: dict = ADMIN):
    send = getattr(client.http, method)
    response = (
        send(path, headers=headers, body=json.dumps(body))
        if body is not None
        else send(path, headers=headers)
    )
    text = response.body.decode() if isinstance(response.body, bytes) else response.body
    try:
        return response.status_code, json.loads(text) if text else None
    except ValueError:
        return response.status_code, text


def person(
    stack,
    key: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    openid: str | None = None,
    consent: tuple[str, ...] = ("email",),
    timezone: str | None = "Asia/Shanghai",
    group: str = "spring",
) -> str:
    identifiers = [Identifier(type=IdentifierType.USER_ID, value=key)]
    if openid:
        identifiers.append(Identifier(type=IdentifierType.WECHAT_OPENID, value=openid))
    if email:
        identifiers.append(Identifier(type=IdentifierType.EMAIL, value=email))
    if phone:
        identifiers.append(Identifier(type=IdentifierType.PHONE, value=phone))
    traits = {"first_name": key.title(), "group": group, **({"timezone": timezone} if timezone else {})}
    touchpoint = Touchpoint(
        touchpoint_id=f"tp-{key}",
        type=TouchpointType.IDENTIFY,
        source_id="web",
        channel=Channel.WEB,
        identifiers=identifiers,
        traits=traits,
        consent=[
            ConsentSignal(channel=Channel(c), status=ConsentStatus.GRANTED, reason="form") for c in consent
        ],
        occurred_at=NOW - timedelta(days=1),
        received_at=NOW - timedelta(days=1),
    )
    ingest_wiring.get_touchpoint_queue().send_all([touchpoint])
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    run_queue(stack, "SegmentQueue", segments_consumer, "SegmentsFunction")
    records = customers_wiring.get_customer_graph().identities([identity_key(identifiers[0])])
    return next(iter(records.values())).profile_id  # type: ignore[return-value]


def invoke(event: dict) -> set[str]:
    """One Lambda invocation: an uncaught error (the worker dying) fails the whole batch."""
    try:
        result = dispatch_worker(event, context_for("DispatchFunction"))
    except Exception:
        return {record["messageId"] for record in event["Records"]}
    return {failure["itemIdentifier"] for failure in result["batchItemFailures"]}


def dispatch_all(stack, *, rounds: int = 30, duplicate: bool = False) -> int:
    """Deliver dispatch messages until the queue is empty; a failed one comes back at once."""
    sqs, address = boto3.client("sqs"), stack.queues["DispatchQueue"]
    handled = 0
    for _ in range(rounds):
        messages = sqs.receive_message(
            QueueUrl=address.url, MaxNumberOfMessages=5, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return handled
        event = sqs_event(messages, queue_arn=address.arn, region="us-east-1")
        failed = invoke(event)
        if duplicate:  # at-least-once: the same messages delivered again
            invoke(event)
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=address.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=address.url, ReceiptHandle=message["ReceiptHandle"])
        if failed:
            return handled  # backing off: the next call (later, in test time) takes them again
        handled += len(messages)
    return handled


def campaign(client, campaign_id: str, **changes) -> dict:
    body = {
        "campaign_id": campaign_id,
        "name": campaign_id.title(),
        "segment_id": "spring",
        "channels": ["email", "sms"],
        "variants": [
            {
                "variant_id": "v1",
                "content": {
                    "email": {
                        "subject": "Spring is here",
                        "body": "Hi {{ first_name }}, the spring range is in.",
                    },
                    "sms": {"body": "Hi {{ first_name }}: spring range in store."},
                },
            }
        ],
        **changes,
    }
    status, made = call(client, "post", "/campaigns", body)
    assert status == 201, made
    status, launched = call(client, "post", f"/campaigns/{campaign_id}/launch")
    assert status == 200 and launched["status"] == "active"
    return launched


def report(client, campaign_id: str) -> dict:
    status, found = call(client, "get", f"/campaigns/{campaign_id}/report")
    assert status == 200
    return found


def test_every_targeted_customer_has_exactly_one_outcome(stack, client, senders, clock):
    consented = person(stack, "ann", email="ann@example.com")
    unconsented = person(stack, "bob", email="bob@example.com", consent=())
    addressless = person(stack, "cai", consent=("email", "sms"))  # consent, but neither email nor phone
    capped = person(stack, "dan", email="dan@example.com")
    erased = person(stack, "eve", email="eve@example.com")
    sms_only = person(stack, "fay", phone="+8613800000001", consent=("sms",))
    call(
        client,
        "put",
        "/frequency-policy",
        {"caps": [{"scope": "channel", "channel": "email", "count": 1, "window": "day"}]},
    )
    # Dan had today's one email already (another campaign); Eve is erased before the send.
    engagement_wiring.get_engagement().save_contact_history(
        ContactHistory(
            profile_id=capped,
            contacts=[
                Contact(program_id="earlier", run_key="r", at=NOW - timedelta(hours=1), channel="email")
            ],
        ),
        expected_version=0,
    )
    people = [consented, unconsented, addressless, capped, erased, sms_only]
    held_out = [p for p in people if p != erased and holdout("spring-sale", p, Decimal(20))]
    assert held_out, "the holdout group is part of this audience"
    campaign(client, "spring-sale", holdout_percent="20", deferrable=False)
    tick()
    tick()  # the schedule firing twice makes one run
    # Eve is erased after her send was queued: it finds no one to send to.
    status, _ = call(client, "post", "/privacy/erasures", {"type": "user_id", "value": "eve"})
    assert status == 202
    run_privacy_jobs(stack)
    dispatch_all(stack)
    found = report(client, "spring-sale")
    assert len(found["runs"]) == 1 and found["runs"][0]["targeted"] == 6
    assert found["audience"] == 6 == sum(found["outcomes"].values())
    assert found["complete"] is True
    expected = {
        consented: "sent",
        unconsented: "suppressed:consent",
        addressless: "suppressed:no_address",
        capped: "suppressed:cap",
        sms_only: "sent",
        erased: "suppressed:erased",
    }
    for profile_id in held_out:
        expected[profile_id] = "suppressed:holdout"
    rows = {row.profile_id: row for row in engagement_wiring.get_engagement().rows("spring-sale")}
    assert {p: f"{r.status}:{r.reason}" if r.reason else r.status for p, r in rows.items()} == expected
    assert found["holdout"] == len(held_out)
    sent_to = sorted(m.address for m in senders["email"].sent + senders["sms"].sent)
    assert sent_to == sorted(
        a for p, a in ((consented, "ann@example.com"), (sms_only, "+8613800000001")) if p not in held_out
    )
    status, csv_text = call(client, "get", "/campaigns/spring-sale/outcomes.csv")
    assert status == 200 and csv_text.count("\n") == 7  # a header and one line per targeted customer


def test_one_send_per_dispatch_key_under_duplicates_and_a_crash(stack, client, senders, clock):
    for name in ("gus", "hal", "ivy"):
        person(stack, name, email=f"{name}@example.com", openid=f"o-{name}", consent=("email", "wechat"))
    senders["email"].crash_before_answer = 1  # the first email's worker dies with its send under way
    campaign(
        client,
        "crash",
        channels=["email"],
        variants=[
            {"variant_id": "v1", "content": {"email": {"subject": "x", "body": "Hi {{ first_name }}"}}}
        ],
    )
    tick()
    dispatch_all(stack, duplicate=True)  # every message delivered twice
    clock.advance(timedelta(minutes=2))  # the dead worker's lease runs out; SQS redelivers
    dispatch_all(stack)
    rows = {row.profile_id: row for row in engagement_wiring.get_engagement().rows("crash")}
    assert sorted(r.status for r in rows.values()) == ["failed", "sent", "sent"]
    crashed = next(r for r in rows.values() if r.status == "failed")
    assert crashed.reason == "unconfirmed_after_crash"  # SES has no idempotency key: never a second send
    assert len(senders["email"].sent) == 2 == len({m.idempotency_key for m in senders["email"].sent})

    # A provider that dedupes on the key (WeChat gateway) is asked again after the crash: exactly one send.
    senders["wechat"].crash_before_answer = 1
    campaign(
        client,
        "crash-wechat",
        channels=["wechat"],
        variants=[{"variant_id": "v1", "content": {"wechat": {"body": "Hi {{ first_name }}"}}}],
    )
    tick()
    dispatch_all(stack, duplicate=True)
    clock.advance(timedelta(minutes=2))
    dispatch_all(stack)
    assert sorted(r.status for r in engagement_wiring.get_engagement().rows("crash-wechat")) == ["sent"] * 3
    assert sorted(m.address for m in senders["wechat"].sent) == ["o-gus", "o-hal", "o-ivy"]


def test_a_message_queued_before_an_unsubscribe_is_not_sent(stack, client, senders, clock):
    jen = person(stack, "jen", email="jen@example.com")
    campaign(
        client,
        "queued",
        channels=["email"],
        variants=[{"variant_id": "v1", "content": {"email": {"subject": "x", "body": "Hi"}}}],
    )
    tick()  # on the queue now
    link = engagement_wiring.unsubscribe_link(jen, "email", "queued")
    assert link is None  # no public URL in this stack: the token is made directly
    from shared.domain.engagement.unsubscribe import seal_link

    token = seal_link(engagement_wiring.link_secrets(), jen, "email", now=NOW)
    assert call(client, "get", f"/unsubscribe/{token}")[1]["channel"] == "email"  # looking changes nothing
    assert call(client, "post", f"/unsubscribe/{token}") == (200, {"unsubscribed": True, "channel": "email"})
    assert call(client, "post", "/unsubscribe/not-a-token")[0] == 400
    dispatch_all(stack)
    row = next(iter(engagement_wiring.get_engagement().rows("queued")))
    assert (row.status, row.reason) == ("suppressed", "unsubscribed") and senders["email"].sent == []


def test_pause_and_resume_neither_resend_nor_skip(stack, client, senders, clock):
    ids = [person(stack, f"k{n:02d}", email=f"k{n}@example.com") for n in range(30)]
    campaign(
        client,
        "paused",
        channels=["email"],
        variants=[{"variant_id": "v1", "content": {"email": {"subject": "x", "body": "Hi"}}}],
    )
    tick()
    sqs, address = boto3.client("sqs"), stack.queues["DispatchQueue"]
    first = sqs.receive_message(QueueUrl=address.url, MaxNumberOfMessages=1, AttributeNames=["All"])[
        "Messages"
    ]
    dispatch_worker(
        sqs_event(first, queue_arn=address.arn, region="us-east-1"), context_for("DispatchFunction")
    )
    sqs.delete_message(QueueUrl=address.url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert call(client, "post", "/campaigns/paused/pause")[1]["status"] == "paused"
    dispatch_all(stack)  # what was queued is parked, not sent
    assert len(senders["email"].sent) == 20 and report(client, "paused")["outcomes"] == {
        "parked": 10,
        "sent": 20,
    }
    assert call(client, "post", "/campaigns/paused/resume")[1]["status"] == "active"
    dispatch_all(stack, duplicate=True)
    assert sorted(m.address for m in senders["email"].sent) == sorted(f"k{n}@example.com" for n in range(30))
    found = report(client, "paused")
    assert found["outcomes"] == {"sent": 30} and found["complete"] is True and len(ids) == 30


def test_provider_throttling_is_retried_not_failed(stack, client, senders, clock):
    person(stack, "lou", email="lou@example.com")
    senders["email"].throttle = 2
    campaign(
        client,
        "slow",
        channels=["email"],
        variants=[{"variant_id": "v1", "content": {"email": {"subject": "x", "body": "Hi"}}}],
    )
    tick()
    for _ in range(3):  # throttled twice, then through: retried with backoff, not failed
        dispatch_all(stack)
    assert report(client, "slow")["outcomes"] == {"sent": 1} and len(senders["email"].sent) == 1


def test_cart_abandonment_fires_once_and_a_checkout_cancels_it_for_that_cart(stack, client, senders, clock):
    mia = person(stack, "mia", email="mia@example.com")
    status, made = call(
        client,
        "post",
        "/journeys",
        {"journey_id": "carts", "template": "cart_abandonment", "overrides": {"name": "Carts"}},
    )
    assert status == 201, made
    journeys = engagement_wiring.get_journeys()
    # Templates ask for push first; Mia has no push endpoint, so WeChat (no consent), then email.
    journeys.on_track(mia, "Checkout Started", {"cart_id": "c1"}, NOW)
    journeys.on_track(mia, "Checkout Started", {"cart_id": "c1"}, NOW)  # the same event twice: one instance
    journeys.on_track(mia, "Checkout Started", {"cart_id": "c2"}, NOW)
    journeys.on_track(mia, "Order Completed", {"cart_id": "c1"}, NOW + timedelta(minutes=20))
    clock.advance(timedelta(minutes=61))
    assert tick()["journey_fired"] == 1  # only cart c2
    assert tick()["journey_fired"] == 0  # fires once
    dispatch_all(stack)
    assert [m.body for m in senders["email"].sent] == ["You left something in your cart, Mia."]
    status, found = call(client, "get", "/journeys/carts/report")
    assert found["outcomes"] == {"sent": 1}


def test_a_wait_ending_mid_minute_fires_in_the_sweep_of_the_next_whole_minute(stack, client, senders, clock):
    """Timers are kept by the minute. A wait that ended 27 s into a minute used to be read by that
    minute's sweep a few seconds early and dropped as stale: the customer never got the message."""
    kai = person(stack, "kai", email="kai@example.com")
    status, made = call(client, "post", "/journeys", {"journey_id": "carts", "template": "cart_abandonment"})
    assert status == 201, made
    entered = NOW.replace(second=27)
    clock.current = entered
    engagement_wiring.get_journeys().on_track(kai, "Checkout Started", {"cart_id": "c9"}, entered)
    (waiting,) = engagement_wiring.get_engagement().instances(kai)
    assert waiting.wake_at == NOW.replace(second=0) + timedelta(hours=1, minutes=1)
    clock.current = NOW.replace(second=5) + timedelta(hours=1)  # the minute the hour ends in
    assert tick()["journey_fired"] == 0
    clock.current = NOW.replace(second=5) + timedelta(hours=1, minutes=1)
    assert tick()["journey_fired"] == 1
    dispatch_all(stack)
    assert [m.body for m in senders["email"].sent] == ["You left something in your cart, Kai."]


def test_an_order_after_a_message_is_attributed_to_it(stack, client, senders, clock):
    ned = person(stack, "ned", email="ned@example.com")
    campaign(
        client,
        "measured",
        channels=["email"],
        variants=[{"variant_id": "v1", "content": {"email": {"subject": "x", "body": "Hi"}}}],
    )
    tick()
    dispatch_all(stack)
    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "OrderPlaced",
        "source": "omnireach",
        "time": NOW.isoformat(),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "profile_id": ned,
            "order_id": "O-9",
            "touchpoint_id": "tp-o9",
            "channel": "web",
            "occurred_at": (NOW + timedelta(days=1)).isoformat(),
            "order": {"total": "299.00", "lines": []},
        },
    }
    queue = stack.queues["EngagementQueue"].url
    for _ in range(2):  # delivered twice: counted once
        boto3.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps(event))
    assert run_queue(stack, "EngagementQueue", engagement_consumer, "EngagementEventsFunction") >= 2
    found = report(client, "measured")
    assert (found["conversions"], found["revenue"], found["conversion_rate"]) == (1, "299.00", 1.0)


def test_the_higher_priority_campaign_wins_the_last_slot_and_the_other_waits_for_the_next_day(
    stack, client, senders, clock
):
    oli = person(stack, "oli", email="oli@example.com")
    call(client, "put", "/frequency-policy", {"caps": [{"scope": "all", "count": 1, "window": "day"}]})
    content = [{"variant_id": "v1", "content": {"email": {"subject": "x", "body": "Hi"}}}]
    campaign(client, "routine", channels=["email"], variants=content, priority=10)  # queued first
    campaign(client, "flash", channels=["email"], variants=content, priority=90)
    dispatch_all(stack)
    routine = next(iter(engagement_wiring.get_engagement().rows("routine")))
    flash = next(iter(engagement_wiring.get_engagement().rows("flash")))
    assert (flash.status, routine.status, routine.reason) == ("sent", "deferred", "cap_priority")
    assert (
        routine.deferred_until is not None
        and routine.deferred_until.isoformat() == "2026-11-24T16:00:00+00:00"
    )
    clock.current = routine.deferred_until + timedelta(
        hours=9
    )  # the next day, 09:00 local (after quiet hours)
    assert tick()["deferred_due"] == 1
    dispatch_all(stack)
    assert next(iter(engagement_wiring.get_engagement().rows("routine"))).status == "sent"
    assert [m.program_id for m in senders["email"].sent] == ["flash", "routine"] and oli


def test_lifecycle_journeys_wake_at_the_right_local_moment_and_end_on_the_right_order(
    stack, client, senders, clock
):
    pia = person(stack, "pia", email="pia@example.com", consent=("email",))
    for name in ("post_purchase", "win_back", "seasonal"):
        status, made = call(
            client, "post", "/journeys", {"journey_id": name.replace("_", "-"), "template": name}
        )
        assert status == 201, made
    journeys = engagement_wiring.get_journeys()
    profile = customers_wiring.get_customer_graph().profiles([pia])[pia]
    profile.purchases_by_month[2] = 3  # usually buys in March: reminded from 1 February
    customers_wiring.get_customer_graph().save_profile(
        profile.model_copy(update={"version": profile.version})
    )
    journeys.on_order(pia, "O-1", ["FORMULA-1"], NOW)
    journeys.on_order(pia, "O-1", ["FORMULA-1"], NOW)  # the same order again: nothing new
    waiting = {i.journey_id: i for i in engagement_wiring.get_engagement().instances(pia)}
    assert set(waiting) == {"post-purchase", "win-back", "seasonal"}
    local = {
        name: instance.wake_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
        for name, instance in waiting.items()
    }
    assert (
        local["post-purchase"].isoformat() == "2026-12-12T10:00:00+08:00"
    )  # 20-day cycle, 3 days before it runs out
    assert local["win-back"].isoformat() == "2027-02-22T17:00:00+08:00"  # 90 days later (then 10:00 local)
    assert local["seasonal"].isoformat() == "2027-02-01T10:00:00+08:00"
    # A repurchase of the same product ends its follow-up; the win-back starts over.
    journeys.on_order(pia, "O-2", ["FORMULA-1"], NOW + timedelta(days=5))
    after = {(i.journey_id, i.key): i.status for i in engagement_wiring.get_engagement().instances(pia)}
    assert after[("post-purchase", "O-1")] == "exited" and after[("win-back", "O-1")] == "exited"
    assert after[("post-purchase", "O-2")] == "waiting" and after[("win-back", "O-2")] == "waiting"
    clock.current = waiting["post-purchase"].wake_at + timedelta(days=5)
    tick()
    dispatch_all(stack)
    assert [m.body for m in senders["email"].sent] == []  # the exited follow-up sends nothing


def test_an_erased_person_leaves_no_inbox_unsubscribe_last_message_or_journey_behind(
    stack, client, senders, clock
):
    """Erasure reaches engagement (issue 15, defect 8): on ProfileErased the engagement consumer
    removes what it keeps per person."""
    from shared.domain.engagement.journeys import Instance
    from shared.domain.engagement.unsubscribe import seal_link
    from tests.integration.test_erasure import residue

    ina = person(stack, "ina", email="ina@example.com")
    inbox = {"inbox": {"title": "Spring", "body": "Hi {{ first_name }}, the spring range is in."}}
    campaign(client, "erase-inbox", channels=["inbox"], variants=[{"variant_id": "v1", "content": inbox}])
    tick()
    dispatch_all(stack)
    assert engagement_wiring.get_engagement().inbox(ina, limit=10)
    token = seal_link(engagement_wiring.link_secrets(), ina, "email", now=NOW)
    assert call(client, "post", f"/unsubscribe/{token}")[0] == 200
    store = engagement_wiring.get_engagement()
    instance = Instance(
        profile_id=ina, journey_id="j-1", key="k", wake_at=NOW + timedelta(days=3), entered_at=NOW
    )
    assert store.create_instance(instance)
    store.set_timer(instance)
    kept = [f"INBOX#{ina}", f"PERSON#{ina}", f"JI#{ina}", f"{ina}|j-1|k"]
    assert len(residue(stack, kept)) >= 5

    status, _ = call(client, "post", "/privacy/erasures", {"type": "user_id", "value": "ina"})
    assert status == 202
    run_privacy_jobs(stack)
    run_queue(stack, "EngagementQueue", engagement_consumer, "EngagementEventsFunction")
    assert residue(stack, kept) == []
    assert residue(stack, ["ina@example.com", "Ina"]) == []
