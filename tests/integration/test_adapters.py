"""The DynamoDB adapters against tables created from template.yaml."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.dynamo.touchpoints_table import (
    DynamoSourceRegistry,
    DynamoTouchpointArchive,
)
from shared.domain.ingest.touchpoints import Channel, Source, SourceKind, Touchpoint, TouchpointType
from shared.domain.kernel.errors import ConflictError

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def a_touchpoint(event: str = "Viewed") -> Touchpoint:
    return Touchpoint(
        touchpoint_id="m-1",
        type=TouchpointType.TRACK,
        source_id="web",
        channel="web",
        event=event,
        user_id="u",
        occurred_at=NOW,
        received_at=NOW,
    )


def test_an_expired_touchpoint_awaiting_ttl_deletion_can_be_replaced(stack):
    archive = DynamoTouchpointArchive()
    assert archive.add(a_touchpoint("Old"), expires_at=NOW - timedelta(days=1), now=NOW - timedelta(days=2))
    assert not archive.add(a_touchpoint("Dup"), expires_at=NOW, now=NOW - timedelta(days=2))
    assert archive.add(a_touchpoint("New"), expires_at=NOW + timedelta(days=1), now=NOW)
    stored, expires = archive.get("m-1")
    assert (stored.event, expires) == ("New", NOW + timedelta(days=1))


def test_the_archive_stores_a_touchpoint_deflated_and_still_reads_one_stored_as_text(stack):
    import zlib

    import boto3

    archive = DynamoTouchpointArchive()
    touchpoint = a_touchpoint().model_copy(update={"properties": {"page": "/tea/" + "oolong-" * 20}})
    assert archive.add(touchpoint, expires_at=NOW + timedelta(days=395), now=NOW, profile_id="p-1")
    table = stack.resources["TouchpointsTable"]
    raw = boto3.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": "TOUCHPOINT#m-1"}, "sk": {"S": "TOUCHPOINT"}}
    )
    item = raw["Item"]
    text = touchpoint.model_dump_json(exclude_defaults=True)
    assert "body" not in item and zlib.decompress(item["packed"]["B"]).decode() == text
    assert len(item["packed"]["B"]) < 0.6 * len(text)
    assert archive.entry("m-1", now=NOW).touchpoint == touchpoint
    # an item archived before the archive deflated its touchpoints
    boto3.client("dynamodb").put_item(
        TableName=table,
        Item={
            "pk": {"S": "TOUCHPOINT#m-2"},
            "sk": {"S": "TOUCHPOINT"},
            "kind": {"S": "touchpoint"},
            "source_id": {"S": "web"},
            "body": {"S": text.replace('"m-1"', '"m-2"')},
            "expires_at": {"N": str(int((NOW + timedelta(days=1)).timestamp()))},
        },
    )
    legacy, _ = archive.get("m-2")
    assert (legacy.touchpoint_id, legacy.properties) == ("m-2", touchpoint.properties)


def test_a_source_and_its_write_key_are_created_together_or_not_at_all(stack):
    registry = DynamoSourceRegistry(cache_seconds=0)
    with pytest.raises(ConflictError, match="write key"):
        registry.create(
            Source(source_id="other", name="Other"), write_key="integration-write-key", signing_secrets=[]
        )
    assert registry.find("other") is None  # the transaction left nothing half-written
    with pytest.raises(ConflictError, match="source with this id"):
        registry.create(Source(source_id="web", name="Web again"), write_key="fresh-key", signing_secrets=[])
    assert registry.find_by_write_key("fresh-key") is None
    assert registry.find_by_write_key("nobody-has-this") is None


def test_sources_are_listed_from_their_partition_with_their_secrets_apart(stack):
    registry = DynamoSourceRegistry(cache_seconds=0)
    registry.create(
        Source(source_id="pos", name="POS", kind=SourceKind.STANDARD_WEBHOOKS, channel=Channel.POS),
        write_key=None,
        signing_secrets=["whsec_a"],
    )
    assert [source.source_id for source in registry.all_sources()] == ["pos", "web", "web-backend"]
    registry.add_signing_secret("pos", "whsec_b", keep=2)
    assert registry.secrets("pos").signing == ["whsec_b", "whsec_a"]


def test_source_lookups_are_cached_for_the_configured_time(stack):
    ticks = [0.0]
    registry = DynamoSourceRegistry(cache_seconds=60, monotonic=lambda: ticks[0])
    assert registry.find_by_write_key("integration-write-key").enabled
    DynamoSourceRegistry(cache_seconds=0).save(Source(source_id="web", name="Web shop", enabled=False))
    ticks[0] = 59
    assert registry.find_by_write_key("integration-write-key").enabled  # still cached
    ticks[0] = 61
    assert not registry.find_by_write_key("integration-write-key").enabled


def test_the_write_key_cache_stays_bounded_however_many_unknown_keys_are_tried(stack):
    registry = DynamoSourceRegistry(cache_seconds=3600)
    registry.MAX_CACHED = 50  # the same rule as 1,000, at a size a test can reach quickly
    for attempt in range(400):
        assert registry.find_by_write_key(f"guess-{attempt}") is None
    assert len(registry._cache) == 50
    assert registry.find_by_write_key("integration-write-key") is not None  # the real key still works


def test_the_profile_id_key_is_made_once_and_read_by_every_process(stack):
    import boto3

    from shared.adapters.dynamo import customers_table
    from shared.wiring import customers as customers_wiring

    table = stack.resources["CustomersTable"]
    boto3.client("dynamodb").delete_item(
        TableName=table, Key={"pk": {"S": "DEPLOYMENT"}, "sk": {"S": "PROFILE_ID_KEY"}}
    )  # a new deployment: the conftest's fixed key is gone
    customers_table._id_keys.clear()
    first = customers_wiring.get_customer_graph().id_key()
    customers_table._id_keys.clear()  # another process, a later cold start
    assert customers_wiring.get_customer_graph().id_key() == first and len(first) == 32


def test_a_slow_touchpoint_queue_stops_at_its_deadline_and_says_what_it_queued(stack):
    """Issue 15, defect 5: however slowly SQS answers, the enqueue ends well inside API Gateway's
    29 s, with what was queued (a retry of the whole request is safe)."""
    import boto3

    from shared.adapters.sqs.ingest import SqsTouchpointQueue
    from shared.domain.kernel.errors import DependencyUnavailableError
    from tests.integration.test_touchpoint_slice import drain

    ticks = iter(range(0, 1000, 7))  # every call to the clock: 7 s later
    queue = SqsTouchpointQueue(
        stack.queues["TouchpointQueue"].url,
        client=boto3.client("sqs"),
        deadline_seconds=20,
        monotonic=lambda: float(next(ticks)),
    )
    touchpoints = [a_touchpoint().model_copy(update={"touchpoint_id": f"slow-{n}"}) for n in range(35)]
    with pytest.raises(DependencyUnavailableError) as slow:
        queue.send_all(touchpoints)
    assert slow.value.details["enqueued"] == 20 and slow.value.details["of"] == 35
    assert len(drain(stack)) == 20
