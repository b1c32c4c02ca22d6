"""The profile API on moto: Segment calls in through the API and the consumer, profiles out."""

from __future__ import annotations

import base64
import json

import pytest
from chalice.test import Client

from functions.api.app import app
from tests.integration.conftest import ADMIN_KEY, WRITE_KEY
from tests.integration.test_touchpoint_slice import deliver, drain

AUTH = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}
JSON = {"Content-Type": "application/json"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def client():
    with Client(app) as test_client:
        yield test_client


def send(stack, client, path: str, body: dict) -> None:
    assert client.http.post(path, headers={**AUTH, **JSON}, body=json.dumps(body)).status_code == 200
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}


def get(client, path: str) -> tuple[int, dict]:
    response = client.http.get(path, headers=ADMIN)
    return response.status_code, json.loads(response.body)


def test_lookup_touchpoints_merge_log_and_unmerge(stack, client):
    send(
        stack,
        client,
        "/v1/page",
        {"anonymousId": "cookie-1", "name": "Home", "messageId": "p1", "timestamp": "2026-11-20T10:00:00Z"},
    )
    send(
        stack,
        client,
        "/v1/identify",
        {
            "userId": "ann",
            "traits": {"email": " Ann@Example.COM ", "plan": "gold"},
            "messageId": "i1",
            "timestamp": "2026-11-21T10:00:00Z",
        },
    )
    send(
        stack,
        client,
        "/v1/alias",
        {
            "previousId": "cookie-1",
            "userId": "ann",
            "anonymousId": "cookie-1",
            "messageId": "l1",
            "timestamp": "2026-11-22T10:00:00Z",
        },
    )

    status, by_email = get(client, "/profiles?email=ann@example.com")
    assert status == 200
    assert by_email["traits"]["plan"] == "gold"
    assert {(i["type"], i["value"]) for i in by_email["identifiers"]} == {
        ("anonymous_id", "cookie-1"),
        ("user_id", "ann"),
        ("email", "ann@example.com"),
    }
    assert get(client, "/profiles?anonymous_id=cookie-1")[1]["profile_id"] == by_email["profile_id"]
    profile_id = by_email["profile_id"]

    status, touchpoints = get(client, f"/profiles/{profile_id}/touchpoints?limit=10")
    assert [tp["touchpoint_id"] for tp in touchpoints["touchpoints"]] == ["l1", "i1", "p1"]

    status, log = get(client, f"/profiles/{profile_id}/merges")
    (merge,) = log["merges"]
    assert merge["touchpoint_id"] == "l1" and merge["unmerged_at"] is None
    assert get(client, f"/profiles/{merge['loser_id']}")[1]["profile_id"] == profile_id  # follows the merge

    response = client.http.post(f"/profiles/{profile_id}/merges/{merge['merge_id']}/unmerge", headers=ADMIN)
    assert response.status_code == 200
    body = json.loads(response.body)
    assert body["restored"]["profile_id"] == merge["loser_id"]
    assert get(client, f"/profiles/{merge['loser_id']}")[1]["profile_id"] == merge["loser_id"]
    assert get(client, f"/profiles/{profile_id}/merges")[1]["merges"][0]["unmerged_at"] is not None


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/profiles?email=nobody@example.com", 404, "profile_not_found"),
        ("/profiles?email=not-an-email", 400, "invalid_input"),
        ("/profiles?email=a@example.com&user_id=u", 400, "invalid_input"),
        ("/profiles?shoe_size=42", 400, "invalid_input"),
        ("/profiles/no-such-profile", 404, "profile_not_found"),
        ("/profiles/no-such-profile/touchpoints?limit=0", 400, "invalid_input"),
        ("/profiles/no-such-profile/merges", 404, "profile_not_found"),
    ],
)
def test_bad_lookups_are_clear_4xx(stack, client, path, status, code):
    got_status, body = get(client, path)
    assert (got_status, body["error"]["code"]) == (status, code)


def test_unmerging_an_unknown_merge_is_404_and_profiles_need_the_admin_key(stack, client):
    send(stack, client, "/v1/track", {"userId": "bob", "event": "Viewed", "messageId": "b1"})
    profile_id = get(client, "/profiles?user_id=bob")[1]["profile_id"]
    response = client.http.post(f"/profiles/{profile_id}/merges/nope/unmerge", headers=ADMIN)
    assert (response.status_code, json.loads(response.body)["error"]["code"]) == (404, "merge_not_found")
    assert client.http.get(f"/profiles/{profile_id}").status_code == 401
