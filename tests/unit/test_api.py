"""The API function with in-memory ports: every bad input is a 4xx envelope with nothing enqueued."""

import base64
import json

import pytest
from chalice.test import Client

from functions.api.app import app
from shared import dependencies
from shared.domain.credentials import secret_digest
from shared.domain.touchpoints import Source
from tests.fakes import FakeClock, InMemorySourceRegistry, InMemoryTouchpointArchive, InMemoryTouchpointQueue

WRITE_KEY = "wk-test"
ADMIN_KEY = "admin-test-key"


@pytest.fixture
def ports(monkeypatch):
    registry = InMemorySourceRegistry()
    registry.register(Source(source_id="web", channel="web", name="Web"), WRITE_KEY)
    registry.register(Source(source_id="old", channel="pos", name="Old POS", enabled=False), "wk-disabled")
    queue, archive, clock = InMemoryTouchpointQueue(), InMemoryTouchpointArchive(), FakeClock()
    monkeypatch.setattr(dependencies, "get_source_registry", lambda: registry)
    monkeypatch.setattr(dependencies, "get_touchpoint_queue", lambda: queue)
    monkeypatch.setattr(dependencies, "get_touchpoint_archive", lambda: archive)
    monkeypatch.setattr(dependencies, "get_clock", lambda: clock)
    monkeypatch.setenv("ADMIN_API_KEY_SHA256", secret_digest(ADMIN_KEY))
    dependencies.get_settings.cache_clear()
    return queue, archive, clock


@pytest.fixture
def client():
    with Client(app) as test_client:
        yield test_client


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def track(client, body, *, key=WRITE_KEY, content_type="application/json"):
    headers = {"Content-Type": content_type}
    if key is not None:
        headers["Authorization"] = basic(key)
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.http.post("/v1/track", headers=headers, body=raw)


def error_code(response) -> str:
    return json.loads(response.body)["error"]["code"]


VALID = {"userId": "u-1", "event": "Order Completed", "messageId": "m-1", "properties": {"total": 9.9}}


def test_a_valid_track_call_is_enqueued_and_answered_like_segment(client, ports):
    queue, _, _ = ports
    response = track(client, VALID)
    assert response.status_code == 200
    assert json.loads(response.body) == {"success": True}
    assert [(tp.touchpoint_id, tp.event, tp.source_id) for tp in queue.sent] == [
        ("m-1", "Order Completed", "web")
    ]


def test_the_write_key_may_come_in_the_body(client, ports):
    queue, _, _ = ports
    response = track(client, {**VALID, "writeKey": WRITE_KEY}, key=None)
    assert response.status_code == 200
    assert len(queue.sent) == 1


def test_beacon_text_plain_bodies_are_accepted(client, ports):
    assert track(client, VALID, content_type="text/plain").status_code == 200


def test_malformed_json_is_400_and_nothing_is_enqueued(client, ports):
    queue, _, _ = ports
    response = track(client, '{"userId": "u-1", "event": ')
    assert response.status_code == 400
    assert error_code(response) == "malformed_json"
    assert queue.sent == []


@pytest.mark.parametrize("body", ["[]", '"text"', "null"])
def test_json_that_is_not_an_object_is_400(client, ports, body):
    response = track(client, body)
    assert (response.status_code, error_code(response)) == (400, "invalid_input")


def test_schema_errors_name_the_field(client, ports):
    queue, _, _ = ports
    response = track(client, {"userId": "u-1"})
    assert response.status_code == 400
    assert [detail["field"] for detail in json.loads(response.body)["error"]["details"]] == ["event"]
    assert queue.sent == []


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_missing_or_wrong_write_key_is_401_and_nothing_is_enqueued(client, ports, key):
    queue, _, _ = ports
    response = track(client, VALID, key=key)
    assert response.status_code == 401
    assert error_code(response) == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert queue.sent == []


def test_a_wrong_key_is_refused_before_the_body_is_read(client, ports):
    assert track(client, "{not json", key="wrong-key").status_code == 401


def test_a_disabled_source_is_403(client, ports):
    response = track(client, VALID, key="wk-disabled")
    assert (response.status_code, error_code(response)) == (403, "forbidden")


def test_an_event_over_32_kb_is_413_not_a_silent_drop(client, ports):
    queue, _, _ = ports
    response = track(client, {**VALID, "properties": {"blob": "x" * 33_000}})
    assert (response.status_code, error_code(response)) == (413, "payload_too_large")
    assert queue.sent == []


def test_an_unavailable_queue_is_503_so_the_channel_retries(client, ports):
    queue, _, _ = ports
    queue.unavailable = True
    response = track(client, VALID)
    assert (response.status_code, error_code(response)) == (503, "dependency_unavailable")


def test_get_touchpoint_needs_the_admin_key(client, ports):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": basic(ADMIN_KEY)}):
        response = client.http.get("/touchpoints/m-1", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_get_touchpoint_returns_the_archived_touchpoint(client, ports):
    queue, archive, clock = ports
    track(client, VALID)
    archive.add(queue.sent[0], expires_at=clock.now().replace(year=2027), now=clock.now())
    response = client.http.get("/touchpoints/m-1", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status_code == 200
    assert json.loads(response.body)["properties"] == {"total": 9.9}


def test_an_unknown_touchpoint_is_404(client, ports):
    response = client.http.get("/touchpoints/nope", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert (response.status_code, error_code(response)) == (404, "touchpoint_not_found")


def test_unexpected_errors_are_a_500_envelope_without_internals(client, ports, monkeypatch):
    def explode():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(dependencies, "get_touchpoint_queue", explode)
    response = track(client, VALID)
    assert (response.status_code, error_code(response)) == (500, "internal_error")
    assert b"secret internals" not in response.body


def test_health_needs_no_dependency(client):
    assert json.loads(client.http.get("/health").body) == {"status": "ok"}
