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


@pytest.mark.parametrize("queue", ["LoyaltyQueue", "EngagementQueue"])
def test_a_batch_of_profile_changes_reaches_a_consumer_when_one_of_them_names_its_field(stack, queue):
    unrelated = {"profile_id": "p-1", "changed": ["orders"], "version": 3}
    _publish(stack, "ProfilesChanged", {"changed": ["orders"], "count": 1, "profiles": [unrelated]})
    assert _delivered(stack, queue) == []
    birthday = {"profile_id": "p-2", "changed": ["traits.birthday"], "version": 2}
    _publish(
        stack,
        "ProfilesChanged",
        {"changed": ["orders", "traits.birthday"], "count": 2, "profiles": [unrelated, birthday]},
    )
    (delivered,) = _delivered(stack, queue)
    assert [p["profile_id"] for p in delivered["detail"]["profiles"]] == ["p-1", "p-2"]


@pytest.mark.parametrize(
    ("queue", "wanted", "summary"),
    [
        ("InventoryQueue", {"type": "inventory"}, {"types": ["inventory", "page"], "events": []}),
        (
            "EngagementQueue",
            {"type": "track", "event": "Product Added"},
            {"types": ["page", "track"], "events": ["Product Added"]},
        ),
    ],
)
def test_a_touchpoint_batch_reaches_a_consumer_only_when_it_holds_what_the_consumer_acts_on(
    stack, queue, wanted, summary
):
    page = {"touchpoint_id": "t-1", "type": "page", "profile_id": "p-1"}
    viewed = {"touchpoint_id": "t-2", "type": "track", "event": "Product Viewed", "profile_id": "p-1"}
    _publish(
        stack,
        "TouchpointsRecorded",
        {"types": ["page", "track"], "events": ["Product Viewed"], "count": 2, "touchpoints": [page, viewed]},
    )
    assert _delivered(stack, queue) == []
    acted_on = {"touchpoint_id": "t-3", "profile_id": "p-1", **wanted}
    _publish(stack, "TouchpointsRecorded", {**summary, "count": 2, "touchpoints": [page, acted_on]})
    (delivered,) = _delivered(stack, queue)
    assert delivered["detail"]["touchpoints"][1]["touchpoint_id"] == "t-3"
    assert len(_delivered(stack, "SegmentQueue")) == 2  # the segments consumer takes every batch
