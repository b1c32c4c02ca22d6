"""POST /v1/track → SQS → consumer → archive → GET /touchpoints/{id}, on moto."""

import base64
import json
from urllib.parse import quote

import boto3
import pytest
from chalice.test import Client

from functions.api.app import app
from functions.touchpoints.handler import lambda_handler as consume
from infra.lambda_runtime import sqs_event
from shared.domain.kernel.errors import ConcurrentUpdateError, DependencyUnavailableError
from shared.domain.kernel.identifiers import IdentifierType
from tests.integration.conftest import ADMIN_KEY, SERVER_WRITE_KEY, context_for, watch_bus

AUTH = {"Authorization": "Basic " + base64.b64encode(f"{SERVER_WRITE_KEY}:".encode()).decode()}
JSON = {"Content-Type": "application/json"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CALL = {"userId": "u-42", "event": "Order Completed", "messageId": "m-42", "properties": {"total": 30}}


@pytest.fixture
def client():
    with Client(app) as test_client:
        yield test_client


def queue_address(stack):
    return stack.queues["TouchpointQueue"]


def drain(stack) -> list[dict]:
    sqs, address = boto3.client("sqs"), queue_address(stack)
    messages: list[dict] = []
    while batch := sqs.receive_message(
        QueueUrl=address.url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
    ).get("Messages", []):
        messages.extend(batch)
    return messages


def deliver(stack, messages) -> dict:
    event = sqs_event(messages, queue_arn=queue_address(stack).arn, region="us-east-1")
    return consume(event, context_for("TouchpointsFunction"))


def archived_items(stack) -> list[dict]:
    table = stack.resources["TouchpointsTable"]
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return [item for item in items if item["kind"]["S"] == "touchpoint"]


def test_a_track_call_reaches_the_archive_and_reads_back(stack, client):
    response = client.http.post("/v1/track", headers={**AUTH, **JSON}, body=json.dumps(CALL))
    assert response.status_code == 200
    messages = drain(stack)
    assert len(messages) == 1
    assert deliver(stack, messages) == {"batchItemFailures": []}

    got = client.http.get("/touchpoints/m-42", headers=ADMIN)
    assert got.status_code == 200
    body = json.loads(got.body)
    assert (body["touchpoint_id"], body["properties"]) == ("m-42", {"total": 30})
    assert body["identifiers"] == [{"type": "user_id", "value": "u-42"}]
    assert body["schema_version"] == 1


def test_each_stored_touchpoint_is_announced_on_the_bus_in_its_batchs_event(stack, client):
    watch = watch_bus(stack.function_environments["TouchpointsFunction"]["EVENT_BUS_NAME"])
    client.http.post("/v1/track", headers={**AUTH, **JSON}, body=json.dumps(CALL))
    deliver(stack, drain(stack))
    messages = boto3.client("sqs").receive_message(QueueUrl=watch, MaxNumberOfMessages=10)["Messages"]
    events = {json.loads(m["Body"])["detail-type"]: json.loads(m["Body"]) for m in messages}
    assert sorted(events) == ["OrderPlaced", "ProfilesChanged", "TouchpointsRecorded"]
    batch = events["TouchpointsRecorded"]
    assert batch["source"] == "omnireach"
    assert (batch["detail"]["count"], batch["detail"]["types"]) == (1, ["order"])
    (recorded,) = batch["detail"]["touchpoints"]
    assert (recorded["touchpoint_id"], recorded["type"]) == ("m-42", "order")
    assert recorded["profile_id"] == events["OrderPlaced"]["detail"]["profile_id"]
    (changed,) = events["ProfilesChanged"]["detail"]["profiles"]
    assert changed["profile_id"] == recorded["profile_id"] and "orders" in changed["changed"]


def test_a_batch_is_enqueued_with_send_message_batch_and_every_good_event_arrives(stack, client):
    events = [
        {"type": "track", "userId": f"u-{i}", "event": "Viewed", "messageId": f"b-{i}"} for i in range(25)
    ]
    events.insert(3, {"type": "track"})
    response = client.http.post("/v1/batch", headers={**AUTH, **JSON}, body=json.dumps({"batch": events}))
    answer = json.loads(response.body)
    assert (answer["accepted"], [r["index"] for r in answer["rejected"]]) == (25, [3])
    messages = drain(stack)
    assert sorted(json.loads(m["Body"])["touchpoint_id"] for m in messages) == sorted(
        f"b-{i}" for i in range(25)
    )
    assert deliver(stack, messages) == {"batchItemFailures": []}
    assert len(archived_items(stack)) == 25


def test_the_same_call_sent_twice_stores_one_touchpoint(stack, client):
    for _ in range(2):
        assert (
            client.http.post("/v1/track", headers={**AUTH, **JSON}, body=json.dumps(CALL)).status_code == 200
        )
    first, second = drain(stack)
    deliver(stack, [first])
    stored_once = json.loads(client.http.get("/touchpoints/m-42", headers=ADMIN).body)
    assert deliver(stack, [second]) == {"batchItemFailures": []}  # a duplicate is a success, not a retry
    assert len(archived_items(stack)) == 1
    assert json.loads(client.http.get("/touchpoints/m-42", headers=ADMIN).body) == stored_once


def test_redelivery_of_one_message_stores_it_once(stack, client):
    client.http.post("/v1/track", headers={**AUTH, **JSON}, body=json.dumps(CALL))
    (message,) = drain(stack)
    for _ in range(3):
        deliver(stack, [message])
    assert len(archived_items(stack)) == 1


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({**AUTH, **JSON}, '{"userId": "u-1", "event":', 400),
        ({**AUTH, **JSON}, json.dumps({"userId": "u-1"}), 400),
        (JSON, json.dumps(CALL), 401),
        ({"Authorization": "Basic " + base64.b64encode(b"wrong:").decode(), **JSON}, json.dumps(CALL), 401),
    ],
)
def test_bad_input_is_refused_and_nothing_is_enqueued(stack, client, headers, body, status):
    response = client.http.post("/v1/track", headers=headers, body=body)
    assert response.status_code == status
    assert set(json.loads(response.body)["error"]) == {"code", "message", "details"}
    assert drain(stack) == []


def test_a_poison_message_is_reported_and_the_rest_of_the_batch_is_stored(stack, client):
    client.http.post("/v1/track", headers={**AUTH, **JSON}, body=json.dumps(CALL))
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queue_address(stack).url, MessageBody="this is not a touchpoint")
    messages = drain(stack)
    poison = next(message for message in messages if message["Body"] == "this is not a touchpoint")
    assert deliver(stack, messages) == {"batchItemFailures": [{"itemIdentifier": poison["MessageId"]}]}
    assert len(archived_items(stack)) == 1


def test_an_unknown_touchpoint_is_404(stack, client):
    response = client.http.get("/touchpoints/never-sent", headers=ADMIN)
    assert response.status_code == 404


def test_the_same_webhook_delivered_three_times_is_one_touchpoint(stack, client):
    import base64 as b64
    import hashlib
    import hmac

    from shared.domain.ingest.sources import NewSource, create_source
    from shared.wiring import ingest as ingest_wiring

    secret = "shpss_integration_secret_0123456789"
    create_source(
        NewSource(source_id="shop", name="Shop", kind="shopify", channel="ecommerce", signing_secret=secret),
        registry=ingest_wiring.get_source_registry(),
    )
    body = json.dumps(
        {"id": 1, "email": "a@b.io", "total_price": "10.00", "currency": "CNY", "line_items": []}
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": "evt-3x",
        "X-Shopify-Hmac-Sha256": b64.b64encode(
            hmac.new(secret.encode(), body, hashlib.sha256).digest()
        ).decode(),
    }
    for _ in range(3):
        assert client.http.post("/webhooks/shopify/shop", headers=headers, body=body).status_code == 200
    messages = drain(stack)
    assert len(messages) == 3
    for message in messages:  # three deliveries, possibly in three batches
        assert deliver(stack, [message]) == {"batchItemFailures": []}
    body_id = hashlib.sha256(body).hexdigest()[:40]
    assert [item["pk"]["S"] for item in archived_items(stack)] == [f"TOUCHPOINT#shopify:shop:{body_id}"]


class ConflictsForOnePerson:
    """The real identity graph, except that every write of one person's profile conflicts, as if
    another writer kept winning the race for it."""

    def __init__(self, graph, user_id: str, error: Exception | None = None) -> None:
        self.graph, self.user_id, self.stuck = graph, user_id, True
        self.error = error or ConcurrentUpdateError("another writer won")

    def __getattr__(self, name):
        return getattr(self.graph, name)

    def _check(self, *profiles) -> None:
        if self.stuck and any(self.user_id in p.identifier_values(IdentifierType.USER_ID) for p in profiles):
            raise self.error

    def save_profile(self, profile) -> None:
        self._check(profile)
        self.graph.save_profile(profile)

    def merge(self, commit) -> None:
        self._check(commit.survivor, *commit.losers)
        self.graph.merge(commit)


class RecordedRedelivery:
    """The real back-off, recorded; the message is made visible again at once so the test can
    deliver it again without waiting."""

    def __init__(self, real) -> None:
        self.real, self.asked = real, []

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        self.asked.append((receipt_handle, seconds))
        self.real.retry_later(receipt_handle, 0)


@pytest.mark.parametrize(
    "error",
    [ConcurrentUpdateError("another writer won"), KeyError("a fault of ours")],
    ids=["conflicts-every-time", "our-bug"],
)
def test_a_batch_that_keeps_failing_on_one_person_lands_the_rest_and_backs_off_briefly(
    stack, client, monkeypatch, error
):
    from shared.domain.customers import folding
    from shared.wiring import customers as customers_wiring
    from shared.wiring import ingest as ingest_wiring

    monkeypatch.setattr(folding.Backoff, "pause", lambda self, attempt: None)
    graph = ConflictsForOnePerson(customers_wiring.get_customer_graph(), "u-stuck")
    monkeypatch.setattr(customers_wiring, "get_customer_graph", lambda: graph)
    redelivery = RecordedRedelivery(ingest_wiring.get_touchpoint_redelivery())
    monkeypatch.setattr(ingest_wiring, "get_touchpoint_redelivery", lambda: redelivery)
    calls = [
        {"type": "track", "userId": f"u-{i}", "event": "Viewed", "messageId": f"c-{i}"} for i in range(4)
    ]
    calls.insert(2, {"type": "track", "userId": "u-stuck", "event": "Viewed", "messageId": "c-stuck"})
    client.http.post("/v1/batch", headers={**AUTH, **JSON}, body=json.dumps({"batch": calls}))
    messages = drain(stack)
    stuck = next(m for m in messages if json.loads(m["Body"])["touchpoint_id"] == "c-stuck")

    # Only the conflicting touchpoint goes back, alone, and after seconds, not the visibility timeout.
    assert deliver(stack, messages) == {"batchItemFailures": [{"itemIdentifier": stuck["MessageId"]}]}
    assert sorted(item["pk"]["S"] for item in archived_items(stack)) == [
        f"TOUCHPOINT#c-{i}" for i in range(4)
    ]
    ((receipt, seconds),) = redelivery.asked
    assert receipt == stuck["ReceiptHandle"] and 5 <= seconds <= 10

    graph.stuck = False  # the other writer is done: the next delivery lands it
    (again,) = drain(stack)
    assert json.loads(again["Body"])["touchpoint_id"] == "c-stuck"
    assert deliver(stack, [again]) == {"batchItemFailures": []}
    assert client.http.get("/touchpoints/c-stuck", headers=ADMIN).status_code == 200
    assert len(archived_items(stack)) == 5


def test_a_dependency_that_is_down_stops_the_one_by_one_pass(stack, client, monkeypatch):
    from shared.wiring import customers as customers_wiring
    from shared.wiring import ingest as ingest_wiring

    real = customers_wiring.get_customer_graph()
    graph = ConflictsForOnePerson(real, "u-stuck")

    def table_down(*profiles) -> None:
        if any(p.identifier_values(IdentifierType.USER_ID) == ["u-2"] for p in profiles):
            raise DependencyUnavailableError("the customers table did not answer")

    graph._check = table_down
    monkeypatch.setattr(customers_wiring, "get_customer_graph", lambda: graph)
    redelivery = RecordedRedelivery(ingest_wiring.get_touchpoint_redelivery())
    monkeypatch.setattr(ingest_wiring, "get_touchpoint_redelivery", lambda: redelivery)
    calls = [
        {"type": "track", "userId": f"u-{i}", "event": "Viewed", "messageId": f"d-{i}"} for i in range(4)
    ]
    client.http.post("/v1/batch", headers={**AUTH, **JSON}, body=json.dumps({"batch": calls}))
    messages = sorted(drain(stack), key=lambda m: json.loads(m["Body"])["touchpoint_id"])

    answer = deliver(stack, messages)
    # d-0 and d-1 land one by one; at d-2 the table is down, so d-2 and d-3 go back untried
    assert sorted(f["itemIdentifier"] for f in answer["batchItemFailures"]) == sorted(
        m["MessageId"] for m in messages[2:]
    )
    assert sorted(item["pk"]["S"] for item in archived_items(stack)) == ["TOUCHPOINT#d-0", "TOUCHPOINT#d-1"]
    assert len(redelivery.asked) == 2


@pytest.mark.parametrize("message_id", ["a#b:c", "order 42/ß", "渠道-1", "50%off"])
def test_an_id_that_needs_percent_encoding_reads_back(stack, client, message_id):
    call = {**CALL, "messageId": message_id}
    assert client.http.post("/v1/track", headers={**AUTH, **JSON}, body=json.dumps(call)).status_code == 200
    assert deliver(stack, drain(stack)) == {"batchItemFailures": []}
    got = client.http.get(f"/touchpoints/{quote(message_id, safe='')}", headers=ADMIN)
    assert got.status_code == 200, got.body
    assert json.loads(got.body)["touchpoint_id"] == message_id
