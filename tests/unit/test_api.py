"""The API function with in-memory ports: every bad input is a 4xx envelope with nothing enqueued."""

import base64
import gzip
import html
import json
import re

import pytest
from chalice.test import Client

from functions.api.app import app
from shared import wiring
from shared.domain.ingest.credentials import secret_digest
from shared.domain.ingest.touchpoints import Source
from shared.domain.kernel.errors import DependencyUnavailableError
from shared.wiring import ingest as ingest_wiring
from tests.fakes import FakeClock, InMemorySourceRegistry, InMemoryTouchpointArchive, InMemoryTouchpointQueue

WRITE_KEY = "wk-test"
ADMIN_KEY = "admin-test-key"


@pytest.fixture
def ports(monkeypatch):
    registry = InMemorySourceRegistry()
    registry.add(Source(source_id="web", name="Web"), write_key=WRITE_KEY)
    registry.add(Source(source_id="old", name="Old POS", enabled=False), write_key="wk-disabled")
    queue, archive, clock = InMemoryTouchpointQueue(), InMemoryTouchpointArchive(), FakeClock()
    monkeypatch.setattr(ingest_wiring, "get_source_registry", lambda: registry)
    monkeypatch.setattr(ingest_wiring, "get_touchpoint_queue", lambda: queue)
    monkeypatch.setattr(ingest_wiring, "get_touchpoint_archive", lambda: archive)
    monkeypatch.setattr(wiring, "get_clock", lambda: clock)
    monkeypatch.setenv("ADMIN_API_KEY_SHA256", secret_digest(ADMIN_KEY))
    wiring.get_settings.cache_clear()
    return queue, archive, clock, registry


@pytest.fixture
def client():
    with Client(app) as test_client:
        yield test_client


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def post(client, path, body, *, key=WRITE_KEY, content_type="application/json"):
    headers = {"Content-Type": content_type}
    if key is not None:
        headers["Authorization"] = basic(key)
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.http.post(path, headers=headers, body=raw)


def track(client, body, **options):
    return post(client, "/v1/track", body, **options)


def error_code(response) -> str:
    return json.loads(response.body)["error"]["code"]


VALID = {"userId": "u-1", "event": "Order Completed", "messageId": "m-1", "properties": {"total": 9.9}}


def test_a_valid_track_call_is_enqueued_and_answered_like_segment(client, ports):
    queue, *_ = ports
    response = track(client, VALID)
    assert response.status_code == 200
    assert json.loads(response.body) == {"success": True}
    assert [(tp.touchpoint_id, tp.event, tp.source_id) for tp in queue.sent] == [
        ("m-1", "Order Completed", "web")
    ]


def test_the_write_key_may_come_in_the_body(client, ports):
    queue, *_ = ports
    response = track(client, {**VALID, "writeKey": WRITE_KEY}, key=None)
    assert response.status_code == 200
    assert len(queue.sent) == 1


def test_beacon_text_plain_bodies_are_accepted(client, ports):
    assert track(client, VALID, content_type="text/plain").status_code == 200


def test_malformed_json_is_400_and_nothing_is_enqueued(client, ports):
    queue, *_ = ports
    response = track(client, '{"userId": "u-1", "event": ')
    assert response.status_code == 400
    assert error_code(response) == "malformed_json"
    assert queue.sent == []


@pytest.mark.parametrize("body", ["[]", '"text"', "null"])
def test_json_that_is_not_an_object_is_400(client, ports, body):
    response = track(client, body)
    assert (response.status_code, error_code(response)) == (400, "invalid_input")


def test_schema_errors_name_the_field(client, ports):
    queue, *_ = ports
    response = track(client, {"userId": "u-1"})
    assert response.status_code == 400
    assert "track needs event" in json.loads(response.body)["error"]["message"]
    assert queue.sent == []


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_missing_or_wrong_write_key_is_401_and_nothing_is_enqueued(client, ports, key):
    queue, *_ = ports
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
    queue, *_ = ports
    response = track(client, {**VALID, "properties": {"blob": "x" * 33_000}})
    assert (response.status_code, error_code(response)) == (413, "payload_too_large")
    assert queue.sent == []


def test_an_unavailable_queue_is_503_so_the_channel_retries(client, ports):
    queue, *_ = ports
    queue.unavailable = True
    response = track(client, VALID)
    assert (response.status_code, error_code(response)) == (503, "dependency_unavailable")


def test_get_touchpoint_needs_the_admin_key(client, ports):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": basic(ADMIN_KEY)}):
        response = client.http.get("/touchpoints/m-1", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_get_touchpoint_returns_the_archived_touchpoint(client, ports):
    queue, archive, clock, _ = ports
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

    monkeypatch.setattr(ingest_wiring, "get_touchpoint_queue", explode)
    response = track(client, VALID)
    assert (response.status_code, error_code(response)) == (500, "internal_error")
    assert b"secret internals" not in response.body


def test_health_needs_no_dependency(client):
    assert json.loads(client.http.get("/health").body) == {"status": "ok"}


@pytest.mark.parametrize(
    ("path", "body", "kind"),
    [
        ("/v1/identify", {"userId": "u-1", "traits": {"email": "a@b.io"}}, "identify"),
        ("/v1/page", {"anonymousId": "a-1", "name": "Home"}, "page"),
        ("/v1/screen", {"userId": "u-1", "name": "Cart"}, "screen"),
        ("/v1/group", {"userId": "u-1", "groupId": "g-1"}, "group"),
        ("/v1/alias", {"userId": "u-1", "previousId": "a-1"}, "alias"),
    ],
)
def test_every_segment_call_type_has_its_route(client, ports, path, body, kind):
    queue, *_ = ports
    response = post(client, path, body)
    assert (response.status_code, json.loads(response.body)) == (200, {"success": True})
    assert [tp.type.value for tp in queue.sent] == [kind]


def test_a_batch_accepts_good_events_and_reports_bad_ones_by_index(client, ports):
    queue, *_ = ports
    body = {
        "batch": [
            {"type": "track", "userId": "u", "event": "A", "messageId": "b-0"},
            {"type": "track", "userId": "u"},
            {"type": "identify", "userId": "u", "messageId": "b-2"},
        ],
        "context": {"library": {"name": "analytics-python"}},
    }
    response = post(client, "/v1/batch", body)
    assert response.status_code == 200
    answer = json.loads(response.body)
    assert (answer["success"], answer["accepted"]) == (True, 2)
    assert [(item["index"], item["code"]) for item in answer["rejected"]] == [(1, "invalid_event")]
    assert [tp.touchpoint_id for tp in queue.sent] == ["b-0", "b-2"]
    assert queue.sent[0].context["library"]["name"] == "analytics-python"


def test_a_batch_with_no_valid_event_is_400_and_nothing_is_enqueued(client, ports):
    queue, *_ = ports
    response = post(client, "/v1/batch", {"batch": [{"type": "track"}, {"type": "alias", "userId": "u"}]})
    assert (response.status_code, error_code(response)) == (400, "invalid_batch")
    assert [item["index"] for item in json.loads(response.body)["error"]["details"]["rejected"]] == [0, 1]
    assert queue.sent == []


def test_more_than_2500_events_is_a_clear_400_not_a_silent_drop(client, ports):
    queue, *_ = ports
    events = [{"type": "track", "userId": "u", "event": "E"}] * 2501
    response = post(client, "/v1/batch", {"batch": events})
    assert (response.status_code, error_code(response)) == (400, "too_many_events")
    assert queue.sent == []


def test_exactly_2500_events_are_accepted(client, ports):
    queue, *_ = ports
    events = [{"type": "track", "userId": "u", "event": "E", "messageId": f"m-{i}"} for i in range(2500)]
    response = post(client, "/v1/batch", {"batch": events})
    assert (response.status_code, json.loads(response.body)["accepted"]) == (200, 2500)
    assert len(queue.sent) == 2500


def test_a_batch_over_500_kb_is_413(client, ports):
    queue, *_ = ports
    events = [{"type": "track", "userId": "u", "event": "E", "properties": {"x": "y" * 30_000}}] * 18
    response = post(client, "/v1/batch", {"batch": events})
    assert (response.status_code, error_code(response)) == (413, "payload_too_large")
    assert queue.sent == []


def test_batch_must_be_a_list(client, ports):
    response = post(client, "/v1/batch", {"batch": {"type": "track"}})
    assert (response.status_code, error_code(response)) == (400, "invalid_input")


ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}


def admin_post(client, path, body=None):
    return client.http.post(path, headers=ADMIN, body=json.dumps(body) if body is not None else "")


def test_creating_a_segment_source_returns_its_write_key_once(client, ports):
    response = admin_post(
        client, "/sources", {"source_id": "app-cn", "name": "CN app", "kind": "segment", "channel": "app"}
    )
    assert response.status_code == 201
    created = json.loads(response.body)
    write_key = created["credentials"]["write_key"]
    assert len(write_key) >= 24
    assert created["source"] == {
        "source_id": "app-cn",
        "name": "CN app",
        "kind": "segment",
        "channel": "app",
        "enabled": True,
        "default_country_code": None,
        "app_id": None,
        "trust": "client",
    }
    listed = client.http.get("/sources", headers=ADMIN)
    fetched = client.http.get("/sources/app-cn", headers=ADMIN)
    for response in (listed, fetched):
        assert write_key.encode() not in response.body
    assert [s["source_id"] for s in json.loads(listed.body)["sources"]] == ["app-cn", "old", "web"]
    # The new key works at once.
    assert post(client, "/v1/track", {"userId": "u", "event": "E"}, key=write_key).status_code == 200


def test_a_standard_webhooks_source_gets_a_generated_secret_and_can_rotate_it(client, ports):
    *_, registry = ports
    created = json.loads(
        admin_post(
            client,
            "/sources",
            {"source_id": "pos-1", "name": "POS", "kind": "standard_webhooks", "channel": "pos"},
        ).body
    )
    first = created["credentials"]["signing_secret"]
    assert first.startswith("whsec_")
    rotated = admin_post(client, "/sources/pos-1/signing-secrets")
    assert rotated.status_code == 201
    second = json.loads(rotated.body)["signing_secret"]
    assert registry.secrets("pos-1").signing == [second, first]
    third = json.loads(admin_post(client, "/sources/pos-1/signing-secrets").body)["signing_secret"]
    assert registry.secrets("pos-1").signing == [third, second]


def test_a_shopify_source_needs_the_secret_shopify_issued(client, ports):
    response = admin_post(
        client, "/sources", {"source_id": "shop", "name": "Shop", "kind": "shopify", "channel": "ecommerce"}
    )
    assert (response.status_code, error_code(response)) == (400, "invalid_input")


def test_source_ids_are_unique(client, ports):
    response = admin_post(
        client, "/sources", {"source_id": "web", "name": "Again", "kind": "segment", "channel": "web"}
    )
    assert (response.status_code, error_code(response)) == (409, "conflict")


def test_a_source_can_be_disabled_and_is_then_refused(client, ports):
    response = client.http.patch("/sources/web", headers=ADMIN, body=json.dumps({"enabled": False}))
    assert (response.status_code, json.loads(response.body)["enabled"]) == (200, False)
    assert track(client, VALID).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"source_id": "Bad Id", "name": "x", "kind": "segment", "channel": "web"},
        {"source_id": "ok", "name": "x", "kind": "fax", "channel": "web"},
        {"source_id": "ok", "name": "x", "kind": "segment", "channel": "web", "extra": 1},
    ],
)
def test_bad_source_definitions_are_400(client, ports, body):
    assert admin_post(client, "/sources", body).status_code == 400


def test_unknown_sources_are_404_and_admin_routes_need_the_key(client, ports):
    assert client.http.get("/sources/nope", headers=ADMIN).status_code == 404
    assert client.http.get("/sources").status_code == 401


def test_gzip_bodies_are_accepted(client, ports):
    queue, *_ = ports
    body = gzip.compress(
        json.dumps({"batch": [{"type": "track", "userId": "u", "event": "Zipped"}]}).encode()
    )
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Authorization": basic(WRITE_KEY),
    }
    response = client.http.post("/v1/batch", headers=headers, body=body)
    assert response.status_code == 200
    assert [tp.event for tp in queue.sent] == ["Zipped"]


def test_a_gzip_bomb_is_413_without_inflating_it(client, ports):
    bomb = gzip.compress(b'{"batch": [' + b" " * 5_000_000 + b"]}")
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Authorization": basic(WRITE_KEY),
    }
    response = client.http.post("/v1/batch", headers=headers, body=bomb)
    assert (response.status_code, error_code(response)) == (413, "payload_too_large")


@pytest.mark.parametrize(("encoding", "body"), [("gzip", b"not gzip"), ("br", b"{}")])
def test_bad_or_unknown_encodings_are_400(client, ports, encoding, body):
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": encoding,
        "Authorization": basic(WRITE_KEY),
    }
    assert client.http.post("/v1/track", headers=headers, body=body).status_code == 400


def test_the_contract_is_served(client):
    document = json.loads(client.http.get("/openapi.json").body)
    assert document["openapi"].startswith("3.")
    assert "/v1/batch" in document["paths"]


def test_an_event_with_a_lone_surrogate_is_rejected_not_a_500(client, ports):
    queue, *_ = ports
    bad = '{"type": "track", "userId": "u", "event": "E", "properties": {"x": "\\ud835"}}'
    good = '{"type": "track", "userId": "u", "event": "E", "messageId": "ok"}'
    response = post(client, "/v1/batch", '{"batch": [' + bad + ", " + good + "]}")
    assert response.status_code == 200
    assert [(r["index"], r["code"]) for r in json.loads(response.body)["rejected"]] == [(0, "invalid_event")]
    assert [tp.touchpoint_id for tp in queue.sent] == ["ok"]
    single = post(client, "/v1/track", '{"userId": "u", "event": "\\udead"}')
    assert single.status_code == 400


def test_absurd_timestamps_do_not_break_the_clock_skew_correction(client, ports):
    queue, _, clock, _ = ports
    body = {
        "userId": "u",
        "event": "E",
        "timestamp": "0011-11-30T06:15:04+02:34",
        "sentAt": "5452-10-21T13:49:53+18:33",
    }
    assert track(client, body).status_code == 200
    assert queue.sent[0].occurred_at == clock.now()  # unusable device clock: when we received it


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_number_literals_are_malformed(client, ports, literal):
    response = track(client, '{"userId": "u", "event": "E", "properties": {"x": ' + literal + "}}")
    assert (response.status_code, error_code(response)) == (400, "malformed_json")


def test_the_api_reference_page_lists_every_route_safely(client):
    response = client.http.get("/reference")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script" not in policy and "unsafe" not in policy
    page = response.body.decode()
    assert "<script" not in page
    document = json.loads(client.http.get("/openapi.json").body)
    for path, item in document["paths"].items():
        for method in item:
            assert f'<span class="m {method}">{method}</span>{html.escape(path)}</h3>' in page
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name.lower()}"' in page
    anchors = set(re.findall(r' id="([^"]+)"', page))
    links = set(re.findall(r'href="#([^"]+)"', page))
    assert links and links <= anchors  # every link on the page leads somewhere


def test_the_api_reference_escapes_what_the_document_says():
    from functions.api.reference_page import render

    hostile = "<script>alert(1)</script>"
    page = render(
        {
            "info": {"title": hostile, "version": "1"},
            "paths": {
                "/x/{id}": {
                    "get": {
                        "summary": hostile,
                        "tags": [hostile],
                        "parameters": [{"name": hostile, "in": "path", "schema": {"type": "string"}}],
                        "responses": {"200": {"description": hostile}},
                    }
                }
            },
            "components": {"schemas": {"Thing": {"properties": {hostile: {"description": hostile}}}}},
        }
    )
    assert "<script>" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6


class QueueThatFailsMidway:
    """Takes the first chunk of 10, then fails, as SQS can within one request; later tries work."""

    def __init__(self) -> None:
        self.sent: list = []
        self.failures = 1

    def send_all(self, touchpoints) -> None:
        for start in range(0, len(touchpoints), 10):
            if start and self.failures:
                self.failures -= 1
                raise DependencyUnavailableError(
                    "The touchpoint queue did not accept the messages", details={"enqueued": start}
                )
            self.sent.extend(touchpoints[start : start + 10])


def test_a_batch_answered_503_midway_is_safe_to_retry_whole_even_without_message_ids(
    client, ports, monkeypatch
):
    """Calls without a messageId get ids from what they say and where they stand, so the client's
    retry of the whole batch names the same touchpoints and the archive keeps each once."""
    queue = QueueThatFailsMidway()
    monkeypatch.setattr(ingest_wiring, "get_touchpoint_queue", lambda: queue)
    batch = {
        "batch": [
            {"type": "track", "anonymousId": "a-1", "event": "Viewed", "properties": {"n": n}}
            for n in range(25)
        ]
        + [
            {"type": "track", "anonymousId": "a-1", "event": "Viewed", "properties": {"n": 0}}
        ],  # an equal call
        "sentAt": "2026-12-02T10:00:00Z",
    }
    first = post(client, "/v1/batch", batch)
    assert (first.status_code, error_code(first)) == (503, "dependency_unavailable")
    assert json.loads(first.body)["error"]["details"]["enqueued"] == 10
    retry = post(client, "/v1/batch", {**batch, "sentAt": "2026-12-02T10:00:05Z"})  # clients re-stamp sentAt
    assert retry.status_code == 200
    ids = [touchpoint.touchpoint_id for touchpoint in queue.sent]
    assert len(ids) == 36 and len(set(ids)) == 26  # the first 10 twice; the equal call stays its own
