from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.ingest.credentials import secret_digest
from shared.domain.ingest.intake import (
    ArchivePolicy,
    authenticate_source,
    check_admin_key,
    enqueue,
    find_touchpoint,
    parse_segment_calls,
)
from shared.domain.ingest.touchpoints import (
    MAX_EVENT_BYTES,
    SegmentCall,
    SegmentCallType,
    Source,
    SourceKind,
    touchpoint_from_segment,
)
from shared.domain.kernel.errors import AuthenticationError, PermissionDeniedError, TouchpointNotFoundError
from shared.domain.kernel.events import TOUCHPOINT_RECORDED, TOUCHPOINTS_RECORDED
from tests.fakes import (
    FakeClock,
    InMemorySourceRegistry,
    InMemoryTouchpointArchive,
    InMemoryTouchpointQueue,
)
from tests.unit.customers_support import Harness

WEB = Source(source_id="web", name="Web shop")
POLICY = ArchivePolicy(retention=timedelta(days=30))


def registry_with(source: Source, key: str = "wk-1") -> InMemorySourceRegistry:
    registry = InMemorySourceRegistry()
    registry.add(source, write_key=key)
    return registry


def touchpoint(message_id: str, clock: FakeClock):
    call = SegmentCall.model_validate(
        {"type": "track", "userId": "u", "event": "Viewed", "messageId": message_id}
    )
    return touchpoint_from_segment(call, source=WEB, received_at=clock.now())


@pytest.mark.parametrize("key", [None, "", "unknown"])
def test_missing_or_unknown_write_keys_are_unauthenticated(key):
    with pytest.raises(AuthenticationError):
        authenticate_source(key, registry=registry_with(WEB))


def test_a_disabled_source_is_refused():
    with pytest.raises(PermissionDeniedError, match="disabled"):
        authenticate_source("wk-1", registry=registry_with(WEB.model_copy(update={"enabled": False})))


def test_a_webhook_source_cannot_use_the_tracking_api():
    shopify = WEB.model_copy(update={"kind": SourceKind.SHOPIFY})
    with pytest.raises(PermissionDeniedError, match="shopify"):
        authenticate_source("wk-1", registry=registry_with(shopify))


def test_a_known_key_names_its_source():
    assert authenticate_source("wk-1", registry=registry_with(WEB)) == WEB


def test_a_batch_accepts_the_good_events_and_reports_each_bad_one_by_index():
    clock = FakeClock()
    items = [
        {"type": "track", "userId": "u", "event": "A", "messageId": "m-0"},
        {"type": "track", "userId": "u"},
        "not an object",
        {"type": "identify", "anonymousId": "a", "traits": {"blob": "x" * MAX_EVENT_BYTES}},
        {"type": "page", "userId": "u", "name": "Home", "messageId": "m-4"},
        {"userId": "u", "event": "no type"},
    ]
    result = parse_segment_calls(items, source=WEB, received_at=clock.now())
    assert [t.touchpoint_id for t in result.accepted] == ["m-0", "m-4"]
    assert [(r.index, r.code) for r in result.rejected] == [
        (1, "invalid_event"),
        (2, "invalid_event"),
        (3, "event_too_large"),
        (5, "invalid_event"),
    ]
    assert "track needs event" in result.rejected[0].message


def test_batch_context_and_sent_at_fill_what_an_item_leaves_out():
    clock = FakeClock()
    items = [
        {
            "type": "track",
            "userId": "u",
            "event": "A",
            "timestamp": "2026-11-24T08:00:00Z",
            "context": {"ip": "1.2.3.4"},
        },
    ]
    defaults = {"context": {"library": {"name": "analytics-python"}}, "sentAt": "2026-11-24T08:00:10Z"}
    (accepted,) = parse_segment_calls(items, source=WEB, received_at=clock.now(), defaults=defaults).accepted
    assert accepted.context == {"library": {"name": "analytics-python"}, "ip": "1.2.3.4"}
    assert accepted.occurred_at == clock.now() - timedelta(seconds=10)


def test_the_route_decides_the_type_of_a_single_call():
    result = parse_segment_calls(
        [{"type": "identify", "userId": "u", "event": "E"}],
        source=WEB,
        received_at=FakeClock().now(),
        call_type=SegmentCallType.TRACK,
    )
    assert result.accepted[0].type.value == "track"


def test_enqueue_sends_everything_in_one_call_and_nothing_when_empty():
    queue, clock = InMemoryTouchpointQueue(), FakeClock()
    enqueue([], queue=queue)
    assert queue.sent == []
    batch = [touchpoint("m-1", clock), touchpoint("m-2", clock)]
    enqueue(batch, queue=queue)
    assert queue.sent == batch


def _archive(archive, tp):
    return archive.add(tp, expires_at=POLICY.expires_at(tp), now=tp.received_at)


def _harness(clock):
    harness = Harness(clock=clock)
    harness.archive = InMemoryTouchpointArchive()
    return harness


@given(deliveries=st.lists(st.lists(st.sampled_from(["m-1", "m-2", "m-3", "m-4"]), max_size=5), max_size=8))
def test_folding_is_idempotent_under_any_redelivery(deliveries):
    clock = FakeClock()
    harness = _harness(clock)
    for batch in deliveries:
        harness.fold([touchpoint(message_id, clock) for message_id in batch])
    delivered = {message_id for batch in deliveries for message_id in batch}
    assert set(harness.archive.items) == delivered
    recorded = [d["touchpoint_id"] for d in harness.events(TOUCHPOINT_RECORDED)]
    assert sorted(recorded) == sorted(delivered)  # announced once each, duplicates not again
    # one batch event per fold that had something new to say
    batches = [kind for kind, _ in harness.publisher.published if kind == TOUCHPOINTS_RECORDED]
    assert len(batches) <= len(deliveries)
    touches = sum(p.touches_by_channel.get("web", 0) for p in harness.live())
    assert touches == len(delivered)


def test_a_redelivery_keeps_the_first_copy():
    archive, clock = InMemoryTouchpointArchive(), FakeClock()
    first = touchpoint("m-1", clock)
    assert _archive(archive, first)
    clock.advance(timedelta(minutes=3))
    assert not _archive(archive, touchpoint("m-1", clock))
    assert find_touchpoint("m-1", archive=archive, clock=clock) == first


def test_expired_touchpoints_are_not_found_even_before_ttl_deletes_them():
    archive, clock = InMemoryTouchpointArchive(), FakeClock()
    _archive(archive, touchpoint("m-1", clock))
    clock.advance(POLICY.retention)
    assert "m-1" in archive.items
    with pytest.raises(TouchpointNotFoundError):
        find_touchpoint("m-1", archive=archive, clock=clock)
    assert archive.existing(["m-1"], now=clock.now()) == set()


def test_an_expired_id_can_be_stored_again():
    archive, clock = InMemoryTouchpointArchive(), FakeClock()
    _archive(archive, touchpoint("m-1", clock))
    clock.advance(POLICY.retention + timedelta(seconds=1))
    assert _archive(archive, touchpoint("m-1", clock))


def test_admin_key_is_checked_against_its_digest():
    check_admin_key("right", expected_digest=secret_digest("right"))
    with pytest.raises(AuthenticationError):
        check_admin_key("wrong", expected_digest=secret_digest("right"))
