"""Segments end to end on the stack deployed from template.yaml (moto): a Segment call flows
through the consumer and the bus rule to the segments consumer; the window closes by timer;
the recompute runs its parts; a hashed audience file lands in the exports bucket."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from chalice.test import Client

from functions.api.app import app
from functions.segments.export import lambda_handler as export_job
from functions.segments.handler import lambda_handler as segments_consumer
from functions.segments.recompute import lambda_handler as recompute_part
from functions.segments.timers import lambda_handler as run_timers
from infra.lambda_runtime import sqs_event
from shared import wiring
from tests.fakes import FakeClock
from tests.integration.conftest import ADMIN_KEY, SERVER_WRITE_KEY, context_for
from tests.integration.test_touchpoint_slice import deliver, drain

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
SEGMENT = {
    # The shop's backend: its orders are real (a browser's key only reports behaviour).
    "Authorization": "Basic " + base64.b64encode(f"{SERVER_WRITE_KEY}:".encode()).decode(),
    "Content-Type": "application/json",
}
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(NOW)
    monkeypatch.setattr(wiring, "get_clock", lambda: fake)
    return fake


@pytest.fixture
def client(stack, clock):
    with Client(app) as test_client:
        yield test_client


def run_queue(stack, logical_id: str, handler, function: str) -> int:
    sqs, address = boto3.client("sqs"), stack.queues[logical_id]
    handled = 0
    while messages := sqs.receive_message(
        QueueUrl=address.url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages", []):
        result = handler(
            sqs_event(messages, queue_arn=address.arn, region="us-east-1"), context_for(function)
        )
        assert result == {"batchItemFailures": []}
        for message in messages:
            sqs.delete_message(QueueUrl=address.url, ReceiptHandle=message["ReceiptHandle"])
        handled += len(messages)
    return handled


def api(client, method: str, path: str, body: dict | None = None):
    call = getattr(client.http, method)
    response = (
        call(path, headers=ADMIN, body=json.dumps(body)) if body is not None else call(path, headers=ADMIN)
    )
    return response.status_code, (json.loads(response.body) if response.body else None)


def test_a_viewer_enters_leaves_by_timer_is_recomputed_and_exported(stack, client, clock):
    rule = {"did": {"event": "Product Viewed", "sku": "TEA-01", "within_days": 7}}
    assert (
        api(client, "post", "/segments", {"segment_id": "tea-viewers", "name": "Tea viewers", "rule": rule})[
            0
        ]
        == 201
    )
    view = {
        "userId": "mei",
        "event": "Product Viewed",
        "properties": {"sku": "TEA-01"},
        "messageId": "view-1",
        "timestamp": NOW.isoformat(),
        "context": {"traits": {"email": " Mei.Lin@GMAIL.com ", "phone": "+8613800138000"}},
    }
    assert client.http.post("/v1/track", headers=SEGMENT, body=json.dumps(view)).status_code == 200
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    assert (
        run_queue(stack, "SegmentQueue", segments_consumer, "SegmentsFunction") >= 1
    )  # routed by the bus rule

    status, segment = api(client, "get", "/segments/tea-viewers")
    assert (status, segment["members"]) == (200, 1)
    status, members = api(client, "get", "/segments/tea-viewers/members?limit=10")
    (profile_id,) = members["profile_ids"]
    status, mine = api(client, "get", f"/profiles/{profile_id}/segments")
    assert list(mine["segments"]) == ["tea-viewers"]
    assert mine["classification"]["stage"] == "potential"

    # The hashed audience, as Google Customer Match takes it.
    status, export = api(client, "post", "/segments/tea-viewers/exports", {"format": "google"})
    assert status == 202 and export["members_total"] == 1
    run_queue(stack, "ExportQueue", export_job, "ExportFunction")
    status, export = api(client, "get", f"/segments/tea-viewers/exports/{export['export_id']}")
    assert (export["status"], export["rows"], export["progress"]) == ("done", 1, 1.0)
    body = boto3.client("s3").get_object(Bucket=stack.resources["ExportsBucket"], Key=export["file_key"])[
        "Body"
    ]
    email, phone = (
        hashlib.sha256(b"meilin@gmail.com").hexdigest(),
        hashlib.sha256(b"+8613800138000").hexdigest(),
    )
    assert body.read().decode() == f"Email,Phone\n{email},{phone}\n"
    assert export["download_url"].startswith("http")

    clock.advance(timedelta(days=7, minutes=1))  # the window closes; only a timer notices
    run_timers({}, context_for("SegmentTimersFunction"))
    assert api(client, "get", "/segments/tea-viewers")[1]["members"] == 0

    status, job = api(client, "post", "/segments/recompute")
    assert status == 202
    run_queue(stack, "RecomputeQueue", recompute_part, "RecomputeFunction")
    status, job = api(client, "get", f"/segments/recompute/{job['job_id']}")
    assert (job["phase"], job["progress"], job["profiles_evaluated"]) == ("done", 1.0, 1)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("post", "/segments", {"segment_id": "x", "name": "X", "rule": {"did": {}}}, 400, "invalid_input"),
        (
            "post",
            "/segments",
            {"segment_id": "Bad Id", "name": "X", "rule": {"birthday": "today"}},
            400,
            "invalid_input",
        ),
        ("get", "/segments/nope", None, 404, "segment_not_found"),
        ("get", "/segments/nope/members", None, 404, "segment_not_found"),
        ("post", "/segments/nope/exports", {}, 404, "segment_not_found"),
        (
            "post",
            "/segments/preview",
            {"rule": {"field": "shoe", "op": "eq", "value": 1}},
            400,
            "invalid_input",
        ),
        ("get", "/segments/recompute/nope", None, 404, "recompute_not_found"),
    ],
)
def test_segment_requests_are_validated(stack, client, method, path, body, status, code):
    got_status, got = api(client, method, path, body)
    assert (got_status, got["error"]["code"]) == (status, code)


def test_preview_counts_before_saving(stack, client, clock):
    for n in range(3):
        call = {
            "userId": f"u{n}",
            "event": "Order Completed",
            "messageId": f"o{n}",
            "properties": {"order_id": f"o{n}", "total": 100 * (n + 1)},
        }
        client.http.post("/v1/track", headers=SEGMENT, body=json.dumps(call))
    deliver(stack, drain(stack))
    status, estimate = api(
        client, "post", "/segments/preview", {"rule": {"field": "revenue", "op": "gte", "value": 200}}
    )
    assert status == 200
    assert (estimate["matched"], estimate["estimated_members"], estimate["exact"]) == (2, 2, True)


def test_members_page_across_shards_and_segments_change_and_go(stack, client, clock):
    for n in range(25):
        call = {
            "userId": f"p{n}",
            "event": "Product Viewed",
            "messageId": f"pv{n}",
            "properties": {"sku": "S"},
        }
        client.http.post("/v1/track", headers=SEGMENT, body=json.dumps(call))
    deliver(stack, drain(stack))
    rule = {"did": {"event": "Product Viewed"}}
    assert (
        api(client, "post", "/segments", {"segment_id": "viewers", "name": "Viewers", "rule": rule})[0] == 201
    )
    run_queue(stack, "SegmentQueue", segments_consumer, "SegmentsFunction")  # events from before the segment
    api(client, "post", "/segments/recompute")
    run_queue(stack, "RecomputeQueue", recompute_part, "RecomputeFunction")

    seen, cursor, pages = [], None, 0
    while True:
        status, page = api(
            client, "get", "/segments/viewers/members?limit=7" + (f"&after={cursor}" if cursor else "")
        )
        assert status == 200 and len(page["profile_ids"]) <= 7
        seen += page["profile_ids"]
        pages += 1
        cursor = page["next"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 25 and pages >= 4
    assert api(client, "get", "/segments/viewers/members?after=garbage")[0] == 400

    status, changed = api(client, "patch", "/segments/viewers", {"name": "Product viewers"})
    assert (status, changed["name"], changed["version"]) == (200, "Product viewers", 2)
    assert api(client, "patch", "/segments/viewers", {"rule": {"did": {}}})[0] == 400
    assert client.http.delete("/segments/viewers", headers=ADMIN).status_code == 204
    assert api(client, "get", "/segments/viewers")[0] == 404
    assert [s["segment_id"] for s in api(client, "get", "/segments")[1]["segments"]] == []
