"""The emulator's workarounds of moto's per-request costs (infra/emulator_sqs.py,
infra/emulator_events.py) and its in-process serving (infra/emulator.serve_in_process). Each test
fails if its workaround is removed."""

import json
import threading
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.models import botocore_stubber
from moto.sqs.models import Message

from infra import emulator_events
from infra.emulator import serve_in_process

REGION = "us-east-1"


@pytest.fixture
def visibility_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times SQS looks at whether a message is visible (moto: once per message held)."""
    counted = [0]
    upstream = Message.visible

    def counting(message: Message) -> bool:
        counted[0] += 1
        return bool(upstream.fget(message))  # type: ignore[attr-defined]

    monkeypatch.setattr(Message, "visible", property(counting))
    return counted


def test_receiving_and_deleting_a_batch_costs_the_batch_not_the_backlog(visibility_checks):
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="backlog")["QueueUrl"]
        for start in range(0, 2000, 10):
            sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(start + i)} for i in range(10)]
            )
        visibility_checks[0] = 0
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
        )
        sqs.send_message(QueueUrl=url, MessageBody="one more")
        assert [m["Body"] for m in received] == [str(i) for i in range(10)]
        assert visibility_checks[0] <= 50  # moto's own: tens of thousands for this queue
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "1991"
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_a_rule_input_transformer_is_parsed_once_not_per_event(monkeypatch):
    parsed: list[str] = []
    upstream = emulator_events.upstream_parse

    def counting(expression: str) -> Any:
        parsed.append(expression)
        return upstream(expression)

    monkeypatch.setattr(emulator_events, "upstream_parse", counting)
    emulator_events.parse_once.cache_clear()
    with mock_aws():
        events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="target")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="r", EventPattern=json.dumps({"source": ["shop"]}))
        events.put_targets(
            Rule="r",
            Targets=[
                {
                    "Id": "q",
                    "Arn": arn,
                    "InputTransformer": {
                        "InputPathsMap": {"who": "$.detail.who"},
                        "InputTemplate": '{"who": "<who>"}',
                    },
                }
            ],
        )
        for who in ("a", "b", "c"):
            events.put_events(
                Entries=[{"Source": "shop", "DetailType": "t", "Detail": json.dumps({"who": who})}]
            )
        bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(json.loads(body)["who"] for body in bodies) == ["a", "b", "c"]
    assert parsed == ["$.detail.who"]


@pytest.fixture
def in_process():
    """The emulator's backends answering this process's calls, as the local stack serves them."""
    with mock_aws():  # fresh backends, restored (and the stubber switched off) afterwards
        serve_in_process()
        yield


def test_in_process_calls_are_served_one_at_a_time(in_process, monkeypatch):
    """moto's own in-process stubber serves concurrent calls concurrently (it has no lock), so a
    check-then-write of one call can interleave with another's; the local stack's takes the
    emulator's lock around each call."""
    from moto.dynamodb.models import DynamoDBBackend

    inside, overlaps = [0], [0]
    upstream = DynamoDBBackend.update_item
    guard = threading.Lock()

    def slow_update(self: Any, *args: Any, **kwargs: Any) -> Any:
        with guard:
            inside[0] += 1
            overlaps[0] = max(overlaps[0], inside[0])
        try:
            threading.Event().wait(0.002)  # room for another thread to come in, if it could
            return upstream(self, *args, **kwargs)
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(DynamoDBBackend, "update_item", slow_update)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="counter",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )

    def increment(times: int) -> None:
        client = boto3.client("dynamodb", region_name=REGION)
        for _ in range(times):
            client.update_item(
                TableName="counter",
                Key={"pk": {"S": "c"}},
                UpdateExpression="ADD v :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    threads = [threading.Thread(target=increment, args=(10,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    final = dynamodb.get_item(TableName="counter", Key={"pk": {"S": "c"}})["Item"]["v"]["N"]
    assert overlaps[0] == 1
    assert final == "60"
    assert botocore_stubber.enabled


def deliveries(events: Any, sqs: Any, url: str) -> list[dict[str, Any]]:
    """What twenty rules deliver for a put of three events (two matching, one matching none),
    event ids and times left out."""
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for index in range(20):
        events.put_rule(Name=f"r{index}", EventPattern=json.dumps({"detail-type": [f"T{index}"]}))
        transformer = {"InputPathsMap": {"who": "$.detail.who"}, "InputTemplate": '{"who": "<who>"}'}
        target: dict[str, Any] = {"Id": "q", "Arn": arn}
        if index % 2:
            target["InputTransformer"] = transformer
        events.put_targets(Rule=f"r{index}", Targets=[target])
    answer = events.put_events(
        Entries=[
            {"Source": "shop", "DetailType": "T3", "Detail": json.dumps({"who": "a"})},
            {"Source": "shop", "DetailType": "T4", "Detail": json.dumps({"who": "b", "n": [1, 2]})},
            {"Source": "shop", "DetailType": "other", "Detail": json.dumps({"who": "c"})},
        ]
    )
    assert answer["FailedEntryCount"] == 0 and len(answer["Entries"]) == 3
    bodies = [
        json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    for body in bodies:
        for varying in ("id", "time", "ingestion-time"):
            body.pop(varying, None)
    return sorted(bodies, key=json.dumps)


def test_an_event_is_built_once_and_copied_only_for_the_rules_it_matches(monkeypatch):
    import copy

    with mock_aws():
        events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="target")["QueueUrl"]
        copies = [0]
        upstream_copy = copy.deepcopy

        def counting(value: Any, *args: Any) -> Any:
            copies[0] += 1
            return upstream_copy(value, *args)

        monkeypatch.setattr(copy, "deepcopy", counting)
        fast = deliveries(events, sqs, url)
        monkeypatch.setattr(copy, "deepcopy", upstream_copy)
    assert copies[0] <= 3 * 2  # moto: one per rule per event (60), matching or not
    monkeypatch.setattr(emulator_events.EventsBackend, "put_events", emulator_events.upstream_put_events)
    with mock_aws():
        events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
        upstream = deliveries(events, sqs, sqs.create_queue(QueueName="target")["QueueUrl"])
    assert fast == upstream
    assert sorted(body.get("who") or body["detail"]["who"] for body in fast) == ["a", "b"]
