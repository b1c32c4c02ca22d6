"""What each rule of template.yaml delivers to its consumer's queue: what the consumer acts on, and
(since each delivery is a billed SQS request and an invocation's share) nothing it would ignore."""

import json
import os

import boto3
import pytest


def _publish(stack, detail_type: str, detail: dict) -> None:
    boto3.client("events").put_events(
        Entries=[
            {
                "Source": "omnireach",
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "EventBusName": os.environ["EVENT_BUS_NAME"],
            }
        ]
    )


def _delivered(stack, queue: str) -> list[dict]:
    sqs = boto3.client("sqs")
    url = stack.queues[queue].url
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(message["Body"]) for message in messages]


@pytest.mark.parametrize(
    ("queue", "acted_on"),
    [
        ("LoyaltyQueue", ["traits.birthday"]),
        ("LoyaltyQueue", ["traits.timezone", "orders"]),
        ("EngagementQueue", ["traits.birthday", "traits.first_name"]),
    ],
)
def test_a_profile_change_reaches_a_consumer_only_when_it_names_a_field_the_consumer_uses(
    stack, queue, acted_on
):
    _publish(stack, "ProfileChanged", {"profile_id": "p-1", "changed": ["orders", "revenue"], "version": 3})
    _publish(stack, "ProfileChanged", {"profile_id": "p-2", "changed": ["identifiers", "merged_from"]})
    assert _delivered(stack, queue) == []
    _publish(stack, "ProfileChanged", {"profile_id": "p-3", "changed": acted_on, "version": 4})
    delivered = _delivered(stack, queue)
    assert [event["detail"]["profile_id"] for event in delivered] == ["p-3"]


@pytest.mark.parametrize(
    ("queue", "detail_types"),
    [
        ("LoyaltyQueue", ["OrderPlaced", "OrderRefunded"]),
        ("EngagementQueue", ["OrderPlaced", "ProfileErased"]),
    ],
)
def test_orders_refunds_and_erasures_reach_their_consumers_whole(stack, queue, detail_types):
    for detail_type in detail_types:
        _publish(stack, detail_type, {"profile_id": "p-9", "order_id": "o-1"})
    assert sorted(event["detail-type"] for event in _delivered(stack, queue)) == sorted(detail_types)
