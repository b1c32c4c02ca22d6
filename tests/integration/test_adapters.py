"""The DynamoDB adapters against tables created from template.yaml."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.dynamo.touchpoints_table import (
    DynamoSourceRegistry,
    DynamoTouchpointArchive,
    SourceItem,
    source_key,
)
from shared.domain.errors import ConflictError
from shared.domain.touchpoints import Source, Touchpoint, TouchpointType

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


def test_a_write_key_registers_once(stack):
    registry = DynamoSourceRegistry(cache_seconds=0)
    with pytest.raises(ConflictError):
        registry.register(Source(source_id="other", channel="pos", name="POS"), "integration-write-key")
    assert registry.find_by_write_key("nobody-has-this") is None


def test_source_lookups_are_cached_for_the_configured_time(stack):
    ticks = [0.0]
    registry = DynamoSourceRegistry(cache_seconds=60, monotonic=lambda: ticks[0])
    assert registry.find_by_write_key("integration-write-key").enabled
    item = SourceItem.get(*source_key("integration-write-key"))
    item.update(actions=[SourceItem.enabled.set(False)])
    ticks[0] = 59
    assert registry.find_by_write_key("integration-write-key").enabled  # still cached
    ticks[0] = 61
    assert not registry.find_by_write_key("integration-write-key").enabled
