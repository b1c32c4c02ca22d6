"""An idle poller of the local stack sleeps until a message reached its own queue, whichever way
it came (an SQS send, an EventBridge rule's target, a message made visible again); a message put
on another queue does not wake it."""

import threading
import time
from collections.abc import Callable

import boto3
import pytest
from moto import mock_aws
from moto.sqs.models import Queue, SQSBackend

from infra.emulator import Arrivals


def waits(arrivals: Arrivals, queue: str, then: Callable[[], object]) -> float:
    seen = arrivals.seen(queue)
    timer = threading.Timer(0.05, then)
    timer.start()
    started = time.monotonic()
    arrivals.wait(queue, seen, timeout=1.0)
    timer.join()
    return time.monotonic() - started


@pytest.fixture(autouse=True)
def moto_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `watch_queues` replaces is put back after each test."""
    monkeypatch.setattr(Queue, "add_message", Queue.add_message)
    monkeypatch.setattr(SQSBackend, "change_message_visibility", SQSBackend.change_message_visibility)


def test_a_message_on_its_own_queue_wakes_the_poller_and_one_on_another_does_not():
    arrivals = Arrivals()
    arrivals.watch_queues()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        mine = sqs.create_queue(QueueName="mine")["QueueUrl"]
        other = sqs.create_queue(QueueName="other")["QueueUrl"]
        mine_arn = sqs.get_queue_attributes(QueueUrl=mine, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events = boto3.client("events", region_name="us-east-1")
        events.put_rule(Name="to-mine", EventPattern='{"source": ["shop"]}')
        events.put_targets(Rule="to-mine", Targets=[{"Id": "mine", "Arn": mine_arn}])

        assert waits(arrivals, "mine", lambda: sqs.send_message(QueueUrl=mine, MessageBody="a")) < 0.5
        put = [{"Source": "shop", "DetailType": "x", "Detail": "{}"}]
        assert waits(arrivals, "mine", lambda: events.put_events(Entries=put)) < 0.5
        held = sqs.receive_message(QueueUrl=mine, VisibilityTimeout=60)["Messages"][0]
        assert (
            waits(
                arrivals,
                "mine",
                lambda: sqs.change_message_visibility(
                    QueueUrl=mine, ReceiptHandle=held["ReceiptHandle"], VisibilityTimeout=0
                ),
            )
            < 0.5
        )
        assert waits(arrivals, "mine", lambda: sqs.send_message(QueueUrl=other, MessageBody="b")) >= 0.9
        elsewhere = [{"Source": "till", "DetailType": "x", "Detail": "{}"}]  # no rule matches
        assert waits(arrivals, "mine", lambda: events.put_events(Entries=elsewhere)) >= 0.9
        assert waits(arrivals, "mine", lambda: sqs.receive_message(QueueUrl=mine)) >= 0.9


def test_wake_releases_every_waiting_poller():
    arrivals = Arrivals()
    assert waits(arrivals, "mine", arrivals.wake) < 0.5
