"""On the local stack, over real HTTP: a contact plan of 3 search / 2 WeChat / 1 video exposures a
week for a segment. WeChat campaigns that name the plan stop at its maximum; the ad platform's
exposure file comes back through the synced hashes; after the refresh each paid channel's sync
holds exactly the people still under their target there, and every channel's counts add up to
the segment."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import urllib.request
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from standardwebhooks import Webhook

from tests.e2e.test_living_stack import ADMIN, admin, advance, stack_now
from tests.e2e.test_local_stack import SERVER_WRITE_KEY, RunningStack, http, wait_for

pytestmark = pytest.mark.e2e
SHANGHAI = ZoneInfo("Asia/Shanghai")
PEOPLE = ("ann", "bob", "cai")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def join(stack: RunningStack, secret: str, name: str) -> None:
    """A member signs up at the till (WeChat consent, openid, email), and the app's backend
    says which campaign group they are in."""
    now = stack_now(stack)
    event = {
        "type": "member.joined",
        "timestamp": now.isoformat(),
        "data": {
            "customer": {
                "user_id": f"plan-{name}",
                "email": f"{name}@plan.example",
                "wechat_openid": f"o-plan-{name}",
            },
            "consent": [{"channel": "wechat", "status": "granted", "reason": "joined at the till"}],
        },
    }
    body = json.dumps(event)
    message_id = f"join-{name}"
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
        "Content-Type": "application/json",
    }
    assert (
        http("POST", stack.url("/webhooks/standard/plan-tills"), body=body.encode(), headers=headers)[0]
        == 200
    )
    identify = {"userId": f"plan-{name}", "messageId": f"group-{name}", "traits": {"group": "plan-e2e"}}
    server = {
        "Content-Type": "application/json",
        "Authorization": "Basic " + base64.b64encode(f"{SERVER_WRITE_KEY}:".encode()).decode(),
    }
    assert (
        http("POST", stack.url("/v1/identify"), body=json.dumps(identify).encode(), headers=server)[0] == 200
    )


def refreshed(stack: RunningStack, before: str | None) -> dict[str, Any]:
    status, queued = admin(stack, "POST", "/contact-plans/e2e-week/refresh")
    assert status == 202, queued

    def done() -> Any:
        status, found = admin(stack, "GET", "/contact-plans/e2e-week/report")
        return (
            found if status == 200 and found["status"] == "done" and found["generated_at"] != before else None
        )

    return dict(wait_for(done, timeout=60, what="the plan's report"))


def synced(tally: dict[str, Any]) -> set[str]:
    with urllib.request.urlopen(tally["download_url"], timeout=10) as response:  # noqa: S310 (the local stack)
        rows = list(csv.reader(io.StringIO(response.read().decode())))
    assert rows[0] == ["Email", "Phone"]
    return {email for email, _phone in rows[1:]}


def wechat_campaign(stack: RunningStack, campaign_id: str) -> dict[str, Any]:
    body = {
        "campaign_id": campaign_id,
        "name": campaign_id,
        "segment_id": "e2e-plan",
        "channels": ["wechat"],
        "contact_plan_id": "e2e-week",
        "variants": [{"variant_id": "v1", "content": {"wechat": {"body": "New this week"}}}],
    }
    assert admin(stack, "POST", "/campaigns", body)[0] == 201
    assert admin(stack, "POST", f"/campaigns/{campaign_id}/launch")[0] == 200
    advance(stack, 120)

    def finished() -> Any:
        status, found = admin(stack, "GET", f"/campaigns/{campaign_id}/report")
        outcomes = found.get("outcomes", {}) if status == 200 else {}
        return found if sum(outcomes.values()) == len(PEOPLE) and not outcomes.get("queued") else None

    return dict(wait_for(finished, timeout=60, what=f"{campaign_id}'s outcomes"))


def test_a_plan_syncs_exactly_who_is_under_target_and_its_counts_add_up():
    stack = RunningStack()  # its own: it moves the clock to the morning (no sends in quiet hours)
    try:
        _plan(stack)
    finally:
        assert stack.stop() == 0


def _plan(stack: RunningStack) -> None:
    now = stack_now(stack).astimezone(SHANGHAI)
    ten = now.replace(hour=10, minute=0, second=0, microsecond=0)
    ten += timedelta(days=1) if ten <= now else timedelta(0)
    advance(stack, (ten - now).total_seconds())

    source = {"source_id": "plan-tills", "name": "Tills", "kind": "standard_webhooks", "channel": "pos"}
    status, created = admin(stack, "POST", "/sources", source)
    assert status == 201, created
    rule = {"field": "traits.group", "op": "eq", "value": "plan-e2e"}
    assert (
        admin(stack, "POST", "/segments", {"segment_id": "e2e-plan", "name": "Plan", "rule": rule})[0] == 201
    )
    for name in PEOPLE:
        join(stack, created["credentials"]["signing_secret"], name)
    wait_for(
        lambda: admin(stack, "GET", "/segments/e2e-plan")[1].get("members") == len(PEOPLE),
        timeout=60,
        what="three members",
    )
    plan = {
        "name": "This week's reach",
        "segment_id": "e2e-plan",
        "period": "week",
        "channels": [
            {"channel": "search", "target": 3, "maximum": 3},
            {"channel": "wechat", "target": 2, "maximum": 2},
            {"channel": "video", "target": 1, "maximum": 1},
        ],
    }
    status, made = admin(stack, "PUT", "/contact-plans/e2e-week", plan)
    assert status == 200, made
    first = refreshed(stack, None)
    paid = {t["channel"]: t for t in first["channels"] if t["paid"]}
    everyone = {sha(f"{name}@plan.example") for name in PEOPLE}
    assert synced(paid["search"]) == synced(paid["video"]) == everyone  # nobody reached yet

    # Owned: two WeChat messages each, then the plan's maximum stops a third campaign.
    assert wechat_campaign(stack, "plan-w1")["outcomes"] == {"sent": 3}
    assert wechat_campaign(stack, "plan-w2")["outcomes"] == {"sent": 3}
    third = wechat_campaign(stack, "plan-w3")
    assert third["outcomes"] == {"suppressed": 3}, third

    # Paid: the ad platform reports ann 3 search impressions and a video view, bob one search.
    at = (stack_now(stack) - timedelta(minutes=5)).isoformat()
    rows = ["exposure_id,channel,kind,at,email_sha256"]
    rows += [f"s-ann-{n},search,impression,{at},{sha('ann@plan.example')}" for n in range(3)]
    rows += [
        f"v-ann,video,view,{at},{sha('ann@plan.example')}",
        f"s-bob,search,click,{at},{sha('bob@plan.example')}",
    ]
    status, counted = http(
        "POST",
        stack.url("/ad-exposures/e2e-ads"),
        body=("\n".join(rows) + "\n").encode(),
        headers={**ADMIN, "Content-Type": "text/csv"},
    )
    assert status == 200, counted
    assert (counted["matched"], counted["counted"], counted["people"]) == (5, 5, 2)

    final = refreshed(stack, first["generated_at"])
    tallies = {t["channel"]: t for t in final["channels"]}
    assert {c: (t["under"], t["at_target"], t["over"]) for c, t in tallies.items()} == {
        "search": (2, 1, 0),
        "wechat": (0, 3, 0),
        "video": (2, 1, 0),
    }
    for tally in tallies.values():
        assert tally["under"] + tally["at_target"] + tally["over"] == final["members"] == len(PEOPLE)
    still_under = {sha("bob@plan.example"), sha("cai@plan.example")}
    assert synced(tallies["search"]) == synced(tallies["video"]) == still_under
    assert final["totals"] == {"2": 1, "3": 1, "6": 1}  # cai 2 WeChat; bob 2 + 1; ann 2 + 3 + 1
