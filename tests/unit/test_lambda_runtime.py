"""The local runtime's Lambda contract, against a fake SQS (no network)."""

import io
import itertools
import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel

from infra.lambda_runtime import (
    LocalFunction,
    ScheduleFirer,
    SqsPoller,
    VirtualClock,
    scheduled_event,
)
from infra.template import FunctionSpec, ScheduleTrigger, SqsTrigger

ATTRIBUTES = {
    "ApproximateReceiveCount": "1",
    "SentTimestamp": "1795510800000",
    "SenderId": "AIDAEXAMPLE",
    "ApproximateFirstReceiveTimestamp": "1795510800100",
}
TRIGGER = SqsTrigger(
    name="Q", queue="Queue", batch_size=25, batching_window_seconds=0, reports_item_failures=True
)


class FakeSqs:
    def __init__(self, count: int) -> None:
        self.pending = [
            {
                "MessageId": f"id-{i}",
                "ReceiptHandle": f"rh-{i}",
                "Body": f'{{"n": {i}}}',
                "Attributes": ATTRIBUTES,
            }
            for i in range(count)
        ]
        self.deleted: list[str] = []
        self.made_visible: dict[str, int] = {}
        self.receive_sizes: list[int] = []

    def receive_message(self, **kwargs):
        assert kwargs["WaitTimeSeconds"] == 0
        size = kwargs["MaxNumberOfMessages"]
        assert size <= 10
        taken, self.pending = self.pending[:size], self.pending[size:]
        self.receive_sizes.append(len(taken))
        return {"Messages": taken}

    def delete_message_batch(self, QueueUrl, Entries):
        assert len(Entries) <= 10
        self.deleted.extend(entry["ReceiptHandle"] for entry in Entries)

    def change_message_visibility(self, QueueUrl, ReceiptHandle, VisibilityTimeout):
        self.made_visible[ReceiptHandle] = VisibilityTimeout


def spec(handler: str = "x.y") -> FunctionSpec:
    return FunctionSpec(logical_id="Fn", handler=handler, timeout=30, memory=512, environment={})


def deliver_once(sqs, handler, *, trigger=TRIGGER, redelivery_delay=None):
    function = LocalFunction(spec(), "us-east-1", _handler=handler)
    reports = []
    poller = SqsPoller(
        function,
        trigger,
        queue_url="q",
        queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
        sqs=sqs,
        stop=threading.Event(),
        report=reports.append,
        redelivery_delay=redelivery_delay,
    )
    poller._deliver(poller._receive_batch())
    return reports


def test_a_batch_fills_up_to_batch_size_across_receives():
    sqs = FakeSqs(30)
    seen = []
    deliver_once(sqs, lambda event, context: seen.append(len(event["Records"])) or {"batchItemFailures": []})
    assert seen == [25]
    assert sqs.receive_sizes == [10, 10, 5]
    assert len(sqs.deleted) == 25


def test_the_event_is_a_real_sqs_event_with_a_lambda_context():
    sqs = FakeSqs(2)
    captured = {}

    def handler(event, context):
        captured["event"], captured["remaining"] = event, context.get_remaining_time_in_millis()
        return {"batchItemFailures": []}

    deliver_once(sqs, handler)
    parsed = SqsModel.model_validate(captured["event"])
    assert [record.messageId for record in parsed.Records] == ["id-0", "id-1"]
    assert 0 < captured["remaining"] <= 30_000


def test_reported_failures_stay_and_the_rest_is_deleted():
    sqs = FakeSqs(3)
    reports = deliver_once(
        sqs, lambda event, context: {"batchItemFailures": [{"itemIdentifier": "id-1"}]}, redelivery_delay=0
    )
    assert sqs.deleted == ["rh-0", "rh-2"]
    assert sqs.made_visible == {"rh-1": 0}
    assert reports[0]["failed"] == ["id-1"]


def test_an_uncaught_error_fails_the_whole_batch():
    sqs = FakeSqs(3)

    def handler(event, context):
        raise RuntimeError("boom")

    reports = deliver_once(sqs, handler)
    assert sqs.deleted == []
    assert reports[0]["failed"] == ["id-0", "id-1", "id-2"]
    assert "boom" in reports[0]["error"]


def test_an_unknown_failure_id_fails_the_whole_batch():
    sqs = FakeSqs(2)
    deliver_once(sqs, lambda event, context: {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]})
    assert sqs.deleted == []


def test_without_report_batch_item_failures_the_response_is_ignored():
    sqs = FakeSqs(2)
    trigger = SqsTrigger(
        name="Q", queue="Q", batch_size=10, batching_window_seconds=0, reports_item_failures=False
    )
    deliver_once(
        sqs, lambda event, context: {"batchItemFailures": [{"itemIdentifier": "id-0"}]}, trigger=trigger
    )
    assert sqs.deleted == ["rh-0", "rh-1"]


def test_scheduled_events_look_like_eventbridge_and_honour_input():
    trigger = ScheduleTrigger(name="Tick", expression="rate(5 minutes)", input=None, enabled=True)
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    event = scheduled_event(trigger, spec(), at=at, region="eu-west-1")
    assert (event["detail-type"], event["source"], event["time"]) == (
        "Scheduled Event",
        "aws.events",
        "2026-11-24T09:00:00Z",
    )
    with_input = ScheduleTrigger(name="Tick", expression="rate(5 minutes)", input={"job": "x"}, enabled=True)
    assert scheduled_event(with_input, spec(), at=at, region="eu-west-1") == {"job": "x"}


def test_an_accelerated_schedule_fires_and_retries_failures_twice():
    calls = []

    def handler(event, context):
        calls.append(event["time"])
        raise RuntimeError("always fails")

    stop = threading.Event()
    reports = []
    firer = ScheduleFirer(
        LocalFunction(spec(), "us-east-1", _handler=handler),
        ScheduleTrigger(name="Tick", expression="rate(1 minute)", input=None, enabled=True),
        clock=VirtualClock(600.0),  # one virtual minute every 0.1 s
        stop=stop,
        report=reports.append,
        retry_wait=0.01,
    )
    firer.start()
    deadline = time.monotonic() + 10
    while len(reports) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    firer.join(timeout=5)
    assert [report["attempt"] for report in reports[:3]] == [1, 2, 3]
    assert len(set(calls[:3])) == 1  # the retries carry the same scheduled time


def test_accelerate_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        VirtualClock(0)


def test_a_rate_schedule_keeps_its_period_without_drift():
    fired = []

    def slow_handler(event, context):
        fired.append(datetime.fromisoformat(event["time"].replace("Z", "+00:00")))
        time.sleep(0.02)  # two virtual seconds at x100: must not push the next fire time

    stop = threading.Event()
    firer = ScheduleFirer(
        LocalFunction(spec(), "us-east-1", _handler=slow_handler),
        ScheduleTrigger(name="Tick", expression="rate(1 minute)", input=None, enabled=True),
        clock=VirtualClock(100.0, start=datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
        stop=stop,
        report=lambda record: None,
    )
    firer.start()
    deadline = time.monotonic() + 10
    while len(fired) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    firer.join(timeout=5)
    assert len(fired) >= 4
    assert {later - earlier for earlier, later in itertools.pairwise(fired[:4])} == {timedelta(minutes=1)}


def test_each_log_line_names_the_function_that_wrote_it():
    """Every function shares one logger in the local stack; one invocation's keys must not label
    the lines another thread writes meanwhile."""
    from shared.observability import logger

    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    level = logger.log_level
    logger.setLevel("INFO")

    both_logging = threading.Barrier(2)

    def handler_of(name: str):
        def handler(event, context):
            both_logging.wait(timeout=5)
            for _ in range(20):
                logger.info("working", extra={"who": name})
                time.sleep(0.001)

        return handler

    functions = []
    for name in ("ApiFunction", "DispatchFunction"):
        spec = FunctionSpec(logical_id=name, handler="x.handler", timeout=30, memory=512, environment={})
        function = LocalFunction(spec, "us-east-1")
        function._handler = logger.inject_lambda_context(handler_of(name))
        functions.append(function)
    threads = [threading.Thread(target=function.invoke, args=({},)) for function in functions]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = [json.loads(line) for line in written.getvalue().splitlines() if '"working"' in line]
    assert len(lines) == 40
    assert all(line["function_name"] == line["who"] for line in lines), [
        (line["function_name"], line["who"]) for line in lines if line["function_name"] != line["who"]
    ]
