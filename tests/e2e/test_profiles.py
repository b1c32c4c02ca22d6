"""Profiles over real HTTP on the local stack: the official Segment client's calls become one
profile (an anonymous visit merged in by alias), found by any identifier; erasure removes it."""

import json

import pytest
from segment.analytics import Client

from tests.e2e.test_local_stack import ADMIN_KEY, SERVER_WRITE_KEY, WRITE_KEY, get_touchpoint, http, wait_for

pytestmark = pytest.mark.e2e
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def admin(stack, method: str, path: str, body: dict | None = None):
    headers = {**ADMIN, "Content-Type": "application/json"}
    raw = json.dumps(body).encode() if body is not None else None
    return http(method, stack.url(path), body=raw, headers=headers)


def test_a_visitor_who_signs_up_and_buys_is_one_profile_until_erased(stack):
    client = Client(write_key=WRITE_KEY, host=stack.url(""), sync_mode=True, max_retries=0)
    client.page(anonymous_id="e2e-cookie", name="Home", message_id="e2e-p-home")
    client.identify("e2e-lee", {"email": " Lee@Example.com ", "firstName": "Lee"}, message_id="e2e-p-id")
    client.alias("e2e-cookie", "e2e-lee", message_id="e2e-p-alias")
    client.flush()
    backend = Client(write_key=SERVER_WRITE_KEY, host=stack.url(""), sync_mode=True, max_retries=0)
    backend.track("e2e-lee", "Order Completed", {"order_id": "e2e-o1", "total": 30}, message_id="e2e-p-order")
    backend.flush()
    wait_for(lambda: get_touchpoint(stack, "e2e-p-order")[0] == 200, timeout=30, what="the order")

    def merged_profile():
        status, profile = admin(stack, "GET", "/profiles?anonymous_id=e2e-cookie")
        return status == 200 and profile["orders"] == 1 and len(profile["identifiers"]) == 3 and profile

    profile = wait_for(merged_profile, timeout=30, what="one profile with all three identifiers")
    assert admin(stack, "GET", "/profiles?email=lee@example.com")[1]["profile_id"] == profile["profile_id"]
    assert profile["traits"]["firstName"] == "Lee"
    status, touchpoints = admin(stack, "GET", f"/profiles/{profile['profile_id']}/touchpoints")
    assert status == 200
    assert {tp["touchpoint_id"] for tp in touchpoints["touchpoints"]} == {
        "e2e-p-home",
        "e2e-p-id",
        "e2e-p-alias",
        "e2e-p-order",
    }

    status, request = admin(stack, "POST", "/privacy/erasures", {"type": "email", "value": "LEE@example.com"})
    assert status == 202
    wait_for(
        lambda: admin(stack, "GET", f"/privacy/erasures/{request['request_id']}")[1]["status"] != "accepted",
        timeout=30,
        what="the first erasure sweep",
    )
    assert admin(stack, "GET", "/profiles?anonymous_id=e2e-cookie")[0] == 404
    assert get_touchpoint(stack, "e2e-p-order")[0] == 404


def test_a_segment_fills_live_on_the_local_stack(stack):
    rule = {"did": {"event": "Product Viewed", "sku": "E2E-TEA", "within_days": 7}}
    status, _ = admin(stack, "POST", "/segments", {"segment_id": "e2e-tea", "name": "E2E tea", "rule": rule})
    assert status == 201
    client = Client(write_key=WRITE_KEY, host=stack.url(""), sync_mode=True, max_retries=0)
    client.track("e2e-sam", "Product Viewed", {"sku": "E2E-TEA"}, message_id="e2e-seg-view")
    client.flush()
    segment = wait_for(
        lambda: (found := admin(stack, "GET", "/segments/e2e-tea"))[1].get("members") == 1 and found[1],
        timeout=30,
        what="the viewer in the segment (touchpoint → bus rule → segments queue → consumer)",
    )
    assert segment["segment_id"] == "e2e-tea"
    status, members = admin(stack, "GET", "/segments/e2e-tea/members")
    status, profile = admin(stack, "GET", "/profiles?user_id=e2e-sam")
    assert members["profile_ids"] == [profile["profile_id"]]
