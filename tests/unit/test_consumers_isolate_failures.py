"""A bus consumer fails only the record that fails: one bad event (or a fault of ours with it)
goes back alone, and its neighbours in the batch are done (issue 15, defect 2)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from functions.segments import handler as segments_handler
from shared.domain.kernel.errors import DependencyUnavailableError
from shared.domain.kernel.events import TOUCHPOINT_RECORDED
from shared.domain.segments.live import RefreshResult
from shared.triggers import BusEvent, consume_bus_records
from shared.wiring import segments as segments_wiring


class FakeContext:
    function_name = "SegmentsFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:SegmentsFunction"
    aws_request_id = "req-1"


def record(message_id: str, profile_id: str) -> dict:
    body = {"detail-type": TOUCHPOINT_RECORDED, "detail": {"profile_id": profile_id}}
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1700000000000",
            "SenderId": "x",
            "ApproximateFirstReceiveTimestamp": "1700000000000",
        },
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


BATCH = [record("m-1", "p-1"), record("m-2", "p-poison"), record("m-3", "p-3"), record("m-4", "p-busy")]


@dataclass
class Refresher:
    done: list[str] = field(default_factory=list)

    def refresh(self, profile_ids):
        if "p-poison" in profile_ids:
            raise ArithmeticError("a stored value this version cannot read")
        if "p-busy" in profile_ids:
            raise DependencyUnavailableError("the table did not answer")
        self.done += profile_ids
        return RefreshResult()


def test_the_segments_consumer_splits_a_failing_batch_and_returns_only_the_failing_records(monkeypatch):
    refresher = Refresher()
    monkeypatch.setattr(segments_wiring, "get_refresher", lambda: refresher)
    answer = segments_handler.lambda_handler({"Records": BATCH}, FakeContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-4"}]}
    assert refresher.done == ["p-1", "p-3"]


@pytest.mark.parametrize("fault", [KeyError("a bug of ours"), DependencyUnavailableError("down")])
def test_every_bus_consumer_fails_only_the_record_that_fails(fault):
    handled = []

    def handle(event: BusEvent) -> str:
        if event.detail["profile_id"] == "p-poison":
            raise fault
        handled.append(event.detail["profile_id"])
        return "applied"

    answer = consume_bus_records(BATCH[:3], handle, consumer="Test")
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert handled == ["p-1", "p-3"]
