from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.credentials import secret_digest
from shared.domain.errors import AuthenticationError, PermissionDeniedError, TouchpointNotFoundError
from shared.domain.ingest import (
    ArchiveOutcome,
    ArchivePolicy,
    accept_track,
    archive_touchpoint,
    authenticate_source,
    check_admin_key,
    find_touchpoint,
)
from shared.domain.touchpoints import Source, TrackCall, touchpoint_from_track
from tests.fakes import FakeClock, InMemorySourceRegistry, InMemoryTouchpointArchive, InMemoryTouchpointQueue

WEB = Source(source_id="web", channel="web", name="Web shop")
POLICY = ArchivePolicy(retention=timedelta(days=30))


def registry_with(source: Source, key: str = "wk-1") -> InMemorySourceRegistry:
    registry = InMemorySourceRegistry()
    registry.register(source, key)
    return registry


def touchpoint(message_id: str, clock: FakeClock):
    call = TrackCall.model_validate({"userId": "u", "event": "Viewed", "messageId": message_id})
    return touchpoint_from_track(call, source=WEB, received_at=clock.now())


@pytest.mark.parametrize("key", [None, "", "unknown"])
def test_missing_or_unknown_write_keys_are_unauthenticated(key):
    with pytest.raises(AuthenticationError):
        authenticate_source(key, registry=registry_with(WEB))


def test_a_disabled_source_is_refused():
    disabled = WEB.model_copy(update={"enabled": False})
    with pytest.raises(PermissionDeniedError):
        authenticate_source("wk-1", registry=registry_with(disabled))


def test_a_known_key_names_its_source():
    assert authenticate_source("wk-1", registry=registry_with(WEB)) == WEB


def test_accept_track_enqueues_the_normalised_touchpoint():
    queue, clock = InMemoryTouchpointQueue(), FakeClock()
    call = TrackCall.model_validate({"userId": "u-1", "event": "Order Completed", "messageId": "m-1"})
    accepted = accept_track(call, source=WEB, queue=queue, clock=clock)
    assert queue.sent == [accepted]
    assert accepted.received_at == clock.now()


@given(deliveries=st.lists(st.sampled_from(["m-1", "m-2", "m-3", "m-4"]), max_size=30))
def test_archiving_is_idempotent_under_any_redelivery(deliveries):
    archive, clock = InMemoryTouchpointArchive(), FakeClock()
    outcomes = [
        archive_touchpoint(touchpoint(message_id, clock), archive=archive, policy=POLICY, clock=clock)
        for message_id in deliveries
    ]
    assert set(archive.items) == set(deliveries)
    assert outcomes.count(ArchiveOutcome.STORED) == len(set(deliveries))
    assert outcomes.count(ArchiveOutcome.DUPLICATE) == len(deliveries) - len(set(deliveries))


def test_a_redelivery_keeps_the_first_copy():
    archive, clock = InMemoryTouchpointArchive(), FakeClock()
    first = touchpoint("m-1", clock)
    archive_touchpoint(first, archive=archive, policy=POLICY, clock=clock)
    clock.advance(timedelta(minutes=3))
    archive_touchpoint(touchpoint("m-1", clock), archive=archive, policy=POLICY, clock=clock)
    assert find_touchpoint("m-1", archive=archive, clock=clock) == first


def test_expired_touchpoints_are_not_found_even_before_ttl_deletes_them():
    archive, clock = InMemoryTouchpointArchive(), FakeClock()
    archive_touchpoint(touchpoint("m-1", clock), archive=archive, policy=POLICY, clock=clock)
    clock.advance(POLICY.retention)
    assert "m-1" in archive.items
    with pytest.raises(TouchpointNotFoundError):
        find_touchpoint("m-1", archive=archive, clock=clock)


def test_an_expired_id_can_be_stored_again():
    archive, clock = InMemoryTouchpointArchive(), FakeClock()
    archive_touchpoint(touchpoint("m-1", clock), archive=archive, policy=POLICY, clock=clock)
    clock.advance(POLICY.retention + timedelta(seconds=1))
    again = archive_touchpoint(touchpoint("m-1", clock), archive=archive, policy=POLICY, clock=clock)
    assert again is ArchiveOutcome.STORED


def test_admin_key_is_checked_against_its_digest():
    check_admin_key("right", expected_digest=secret_digest("right"))
    with pytest.raises(AuthenticationError):
        check_admin_key("wrong", expected_digest=secret_digest("right"))
