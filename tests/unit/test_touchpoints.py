from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain.touchpoints import Source, TrackCall, corrected_occurrence, touchpoint_from_track

SOURCE = Source(source_id="web-eu", channel="web", name="EU web shop")
RECEIVED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


def test_a_track_call_needs_someone():
    with pytest.raises(ValidationError, match="userId or anonymousId"):
        TrackCall.model_validate({"event": "Viewed"})


def test_a_track_call_needs_an_event_name():
    with pytest.raises(ValidationError) as raised:
        TrackCall.model_validate({"userId": "u-1", "event": ""})
    assert raised.value.errors()[0]["loc"] == ("event",)


def test_numeric_user_ids_are_kept_as_text():
    assert TrackCall.model_validate({"userId": 42, "event": "Viewed"}).user_id == "42"


def test_timestamps_without_offset_are_utc():
    call = TrackCall.model_validate({"userId": "u", "event": "e", "timestamp": "2026-11-24T08:00:00"})
    assert call.timestamp == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_write_key_in_body_is_read_but_never_serialised():
    call = TrackCall.model_validate({"userId": "u", "event": "e", "writeKey": "secret-key"})
    assert call.write_key == "secret-key"
    assert "secret-key" not in call.model_dump_json()
    assert "secret-key" not in repr(call)


def test_touchpoint_carries_the_call_and_the_source():
    call = TrackCall.model_validate(
        {"userId": "u-1", "event": "Order Completed", "messageId": "m-1", "properties": {"total": 12.5}}
    )
    touchpoint = touchpoint_from_track(call, source=SOURCE, received_at=RECEIVED)
    assert (touchpoint.touchpoint_id, touchpoint.source_id, touchpoint.channel) == ("m-1", "web-eu", "web")
    assert touchpoint.properties == {"total": 12.5}
    assert touchpoint.occurred_at == RECEIVED  # no device timestamp: when we received it


def test_a_missing_message_id_gets_a_fresh_one():
    call = TrackCall.model_validate({"anonymousId": "a-1", "event": "Viewed"})
    first = touchpoint_from_track(call, source=SOURCE, received_at=RECEIVED)
    second = touchpoint_from_track(call, source=SOURCE, received_at=RECEIVED)
    assert first.touchpoint_id.startswith("api-")
    assert first.touchpoint_id != second.touchpoint_id


@given(
    device_offset=st.timedeltas(min_value=timedelta(days=-400), max_value=timedelta(days=400)),
    delay=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
)
def test_clock_skew_correction_keeps_the_device_delay_and_drops_the_device_offset(device_offset, delay):
    # The device's clock is off by `device_offset`; the event happened `delay` before it was sent.
    true_sent = RECEIVED
    sent_at = true_sent + device_offset
    device_timestamp = sent_at - delay
    occurred = corrected_occurrence(received_at=RECEIVED, sent_at=sent_at, device_timestamp=device_timestamp)
    assert occurred == true_sent - delay


@given(device_timestamp=moments)
def test_without_sent_at_the_device_timestamp_is_taken_as_is(device_timestamp):
    assert (
        corrected_occurrence(received_at=RECEIVED, sent_at=None, device_timestamp=device_timestamp)
        == device_timestamp
    )


def test_original_timestamp_wins_over_timestamp_for_the_correction():
    call = TrackCall.model_validate(
        {
            "userId": "u",
            "event": "e",
            "originalTimestamp": "2026-11-24T10:00:00Z",
            "timestamp": "2026-01-01T00:00:00Z",
            "sentAt": "2026-11-24T10:00:05Z",
        }
    )
    touchpoint = touchpoint_from_track(call, source=SOURCE, received_at=RECEIVED)
    assert touchpoint.occurred_at == RECEIVED - timedelta(seconds=5)
