"""The campaign loop closed, on moto: SES's delivery, bounce and complaint events move the ledger
row and the report, a one-click unsubscribe changes the profile's consent, a finished campaign
is `completed` with its report read from one stored item, a journey's higher-priority send wins a
customer's last slot against a promotion, and a page re-paged after a crash is not enqueued
twice."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from functions.campaigns.events import lambda_handler as engagement_consumer
from functions.campaigns.scheduler import tick
from shared.domain.engagement.campaigns import CampaignService
from shared.domain.engagement.deliveries import row_tag
from shared.domain.engagement.unsubscribe import seal_link
from shared.domain.ingest.channels.ses import touchpoint_from_ses
from shared.domain.ingest.touchpoints import Channel, Source, SourceKind
from shared.wiring import customers as customers_wiring
from shared.wiring import engagement as engagement_wiring
from shared.wiring import ingest as ingest_wiring
from tests.integration import test_campaigns_flow as campaigns_flow
from tests.integration.test_campaigns_flow import call, campaign, dispatch_all, person, report
from tests.integration.test_segments_flow import NOW, run_queue
from tests.integration.test_touchpoint_slice import deliver, drain

clock, senders, client = campaigns_flow.clock, campaigns_flow.senders, campaigns_flow.client  # fixtures
SES = Source(source_id="ses", name="SES events", kind=SourceKind.SES, channel=Channel.EMAIL, app_id="arn:x")
EMAIL_ONLY = [
    {"variant_id": "v1", "content": {"email": {"subject": "Spring", "body": "Hi {{ first_name }}"}}}
]


def pipeline(stack) -> None:
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    run_queue(stack, "EngagementQueue", engagement_consumer, "EngagementEventsFunction")


def ses_event(kind: str, message, number: int, **detail: object) -> None:
    """What SES publishes for the message (through SNS), as ingest's SES webhook takes it."""
    mail = {
        "timestamp": NOW.isoformat(),
        "messageId": f"ses-{number}",
        "destination": [message.address],
        "tags": {"dispatch": ["x"], "row": [row_tag(message.idempotency_key)]},
    }
    bodies = {
        "Delivery": {"delivery": {"timestamp": NOW.isoformat(), "recipients": [message.address]}},
        "Bounce": {
            "bounce": {
                "timestamp": NOW.isoformat(),
                "bouncedRecipients": [{"emailAddress": message.address}],
                **detail,
            }
        },
        "Complaint": {
            "complaint": {
                "timestamp": NOW.isoformat(),
                "complainedRecipients": [{"emailAddress": message.address}],
            }
        },
    }
    event = {"eventType": kind, "mail": mail, **bodies[kind]}
    touchpoint = touchpoint_from_ses(f"sns-{number}", event, source=SES, received_at=NOW)
    ingest_wiring.get_touchpoint_queue().send_all([touchpoint])


def rows_of(campaign_id: str) -> dict[str, tuple[str, str | None]]:
    return {r.profile_id: (r.status, r.reason) for r in engagement_wiring.get_engagement().rows(campaign_id)}


def test_ses_events_move_the_ledger_row_and_the_report_and_a_hard_bounce_suppresses(
    stack, client, senders, clock
):
    ana = person(stack, "ana", email="ana@example.com")
    bo = person(stack, "bo", email="bo@example.com")
    cy = person(stack, "cy", email="cy@example.com")
    campaign(client, "spring", channels=["email"], variants=EMAIL_ONLY)
    dispatch_all(stack)
    sent = {m.profile_id: m for m in senders["email"].sent}
    ses_event("Delivery", sent[ana], 1)
    ses_event("Bounce", sent[bo], 2, bounceType="Permanent", bounceSubType="General")
    ses_event("Delivery", sent[cy], 3)
    ses_event("Complaint", sent[cy], 4)
    ses_event("Delivery", sent[cy], 5)  # late and out of order: the complaint stands
    pipeline(stack)
    assert rows_of("spring") == {
        ana: ("delivered", None),
        bo: ("bounced", "hard_bounce"),
        cy: ("complained", "complaint"),
    }
    figures = report(client, "spring")
    assert figures["outcomes"] == {"bounced": 1, "complained": 1, "delivered": 1}
    assert figures["treated"] == 3  # all three were sent
    # The hard bounce suppresses email for Bo; the complaint revoked Cy's consent on the profile.
    assert "email" in engagement_wiring.get_engagement().contact_history(bo).suppressed
    profile = customers_wiring.get_customer_graph().profiles([cy])[cy]
    assert profile.consent["email:marketing"].status.value == "revoked"
    senders["email"].sent.clear()
    campaign(client, "summer", channels=["email"], variants=EMAIL_ONLY)
    dispatch_all(stack)
    assert rows_of("summer")[bo] == ("suppressed", "unsubscribed")
    assert rows_of("summer")[cy] == ("suppressed", "consent")


def test_a_transient_bounce_changes_nothing(stack, client, senders, clock):
    ana = person(stack, "ana", email="ana@example.com")
    campaign(client, "spring", channels=["email"], variants=EMAIL_ONLY)
    dispatch_all(stack)
    ses_event("Bounce", senders["email"].sent[0], 1, bounceType="Transient")
    pipeline(stack)
    assert rows_of("spring") == {ana: ("sent", None)}
    assert "email" not in engagement_wiring.get_engagement().contact_history(ana).suppressed


def test_a_one_click_unsubscribe_changes_the_profile_consent(stack, client, senders, clock):
    jen = person(stack, "jen", email="jen@example.com")
    token = seal_link(engagement_wiring.link_secrets(), jen, "email", now=NOW)
    assert call(client, "post", f"/unsubscribe/{token}") == (200, {"unsubscribed": True, "channel": "email"})
    assert call(client, "post", f"/unsubscribe/{token}")[0] == 200  # twice: one touchpoint
    pipeline(stack)
    status, profile = call(client, "get", f"/profiles/{jen}")
    assert status == 200
    consent = profile["consent"]["email:marketing"]
    assert consent["status"] == "revoked" and consent["reason"] == "one-click unsubscribe"
    status, touchpoints = call(client, "get", f"/profiles/{jen}/touchpoints")
    assert [t["event"] for t in touchpoints["touchpoints"]].count("Unsubscribed") == 1


def test_a_finished_campaign_is_completed_and_its_report_is_one_stored_item(
    stack, client, senders, clock, monkeypatch
):
    people = [person(stack, name, email=f"{name}@example.com") for name in ("ana", "bo")]
    campaign(client, "spring", channels=["email"], variants=EMAIL_ONLY)
    assert tick()["completed"] == 0  # the sends are still on the queue
    dispatch_all(stack)
    clock.advance(timedelta(minutes=10))
    assert tick()["completed"] == 1
    assert tick()["completed"] == 0  # once
    assert call(client, "get", "/campaigns/spring")[1]["status"] == "completed"
    assert call(client, "get", "/campaigns")[1]["campaigns"][0]["status"] == "completed"
    assert engagement_wiring.get_engagement().active_campaigns() == []

    stored = engagement_wiring.get_engagement().stored_report("spring")[0]
    assert stored is not None and stored["outcomes"] == {"sent": 2} and stored["complete"] is True

    def no_rows(*_: object, **__: object) -> object:
        raise AssertionError("a completed campaign's report is read from its stored item")

    monkeypatch.setattr(type(engagement_wiring.get_engagement()), "rows", no_rows)
    reads: list[str] = []
    real_get = type(engagement_wiring.get_engagement())._get

    def counting_get(self, pk: str, sk: str, **kwargs: object) -> object:
        reads.append(pk)
        return real_get(self, pk, sk, **kwargs)

    monkeypatch.setattr(type(engagement_wiring.get_engagement()), "_get", counting_get)
    assert report(client, "spring") == stored
    assert reads.count("REPORT") == 1 and not any(pk.startswith("LEDGER#") for pk in reads)
    monkeypatch.undo()

    # A bounce after completion: the stored report is recomputed once, then read again.
    ses_event("Bounce", senders["email"].sent[0], 9, bounceType="Permanent")
    pipeline(stack)
    assert engagement_wiring.get_engagement().stored_report("spring")[0] is None  # stale
    after = report(client, "spring")
    assert after["outcomes"] == {"bounced": 1, "sent": 1} and after["status"] == "completed"
    assert engagement_wiring.get_engagement().stored_report("spring")[0] == after
    assert len(people) == 2


def test_a_campaign_with_a_send_still_deferred_is_not_completed(stack, client, senders, clock):
    person(stack, "ana", email="ana@example.com")
    clock.current = NOW + timedelta(hours=5)  # 22:00 in Shanghai: quiet hours
    campaign(client, "late", channels=["email"], variants=EMAIL_ONLY)
    dispatch_all(stack)
    clock.advance(timedelta(minutes=11))
    assert tick()["completed"] == 0
    assert report(client, "late")["status"] == "active"
    clock.current = NOW + timedelta(hours=24)  # 17:00 the next day
    tick()
    dispatch_all(stack)
    clock.advance(timedelta(minutes=11))
    assert tick()["completed"] == 1


def test_a_journey_send_of_higher_priority_wins_the_last_slot_against_a_promotion(
    stack, client, senders, clock
):
    """A reminder waiting to go today outranks a promotion at the customer's last slot today: the
    promotion waits for tomorrow, whichever is processed first."""
    mia = person(stack, "mia", email="mia@example.com")
    call(client, "put", "/frequency-policy", {"caps": [{"scope": "all", "count": 1, "window": "day"}]})
    definition = {
        "name": "Service reminder",
        "trigger": "cart_started",
        "steps": [
            {"type": "wait", "hours": 1},
            {
                "type": "send",
                "send": {
                    "channels": ["email"],
                    "priority": 90,
                    "variants": [
                        {"variant_id": "r", "content": {"email": {"subject": "Reminder", "body": "Reminder"}}}
                    ],
                },
            },
        ],
    }
    assert call(client, "post", "/journeys", {"journey_id": "reminder", "definition": definition})[0] == 201
    engagement_wiring.get_journeys().on_track(mia, "Checkout Started", {"cart_id": "c1"}, NOW)
    campaign(client, "promo", channels=["email"], variants=EMAIL_ONLY, priority=50)
    dispatch_all(stack)
    assert rows_of("promo") == {mia: ("deferred", "cap_priority")}
    clock.advance(timedelta(hours=1, minutes=1))
    assert tick()["journey_fired"] == 1
    dispatch_all(stack)
    assert [m.program_id for m in senders["email"].sent] == ["journey-reminder"]


def _queued(stack) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack.queues["DispatchQueue"].url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


@pytest.mark.parametrize("dies", ["after_sending", "before_sending"])
def test_a_page_re_paged_after_a_crash_is_not_enqueued_twice(
    stack, client, senders, clock, monkeypatch, dies
):
    people = {person(stack, f"p{n}", email=f"p{n}@example.com") for n in range(3)}
    content = {
        "campaign_id": "crashy",
        "name": "Crashy",
        "segment_id": "spring",
        "channels": ["email"],
        "variants": EMAIL_ONLY,
        "schedule": {"kind": "at", "at": (NOW + timedelta(minutes=1)).isoformat()},
    }
    assert call(client, "post", "/campaigns", content)[0] == 201
    status, _ = call(client, "post", "/campaigns/crashy/launch")
    assert status == 200
    clock.advance(timedelta(minutes=1))
    saves: list[object] = []
    real_save, real_send = CampaignService._settle, engagement_wiring.get_dispatch_queue().send

    def settle_then_die(self, claimed, cursor, count):  # the tick dies before moving the cursor
        saves.append(claimed)
        raise RuntimeError("the scheduler died")

    def send_then_die(batches):
        if dies == "before_sending":
            raise RuntimeError("the scheduler died")
        return real_send(batches)

    monkeypatch.setattr(CampaignService, "_settle", settle_then_die)
    monkeypatch.setattr(engagement_wiring.get_dispatch_queue(), "send", send_then_die)
    with pytest.raises(RuntimeError):
        tick()
    monkeypatch.setattr(CampaignService, "_settle", real_save)
    monkeypatch.setattr(engagement_wiring.get_dispatch_queue(), "send", real_send)
    first = dispatch_all(stack)
    assert first == (1 if dies == "after_sending" else 0)  # messages of up to 20 sends
    tick()  # a minute later: the claim is fresh, the page may still be on its way
    assert _queued(stack) == 0
    clock.advance(timedelta(minutes=6))
    tick()
    expected = 0 if dies == "after_sending" else 1  # one message of up to 20 sends, or none
    assert _queued(stack) == expected
    dispatch_all(stack)
    assert {m.profile_id for m in senders["email"].sent} == people
    assert len(senders["email"].sent) == 3
    (run,) = engagement_wiring.get_engagement().runs("crashy")
    assert run.targeted == 3 and run.pending is None and json.dumps(saves, default=str)
