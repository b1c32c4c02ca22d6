from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain.ingest.touchpoints import (
    Channel,
    SegmentCall,
    Source,
    SourceKind,
    SourceTrust,
    TouchpointType,
    corrected_occurrence,
    touchpoint_from_segment,
)
from shared.domain.kernel.identifiers import Identifier, IdentifierType

SOURCE = Source(source_id="web-eu", channel=Channel.WEB, name="EU web shop", default_country_code="86")
BACKEND = Source(
    source_id="web-eu-backend", channel=Channel.WEB, name="EU web shop backend", trust=SourceTrust.SERVER
)
RECEIVED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


def test_a_track_call_needs_someone():
    with pytest.raises(ValidationError, match="userId or anonymousId"):
        SegmentCall.model_validate({"type": "track", "event": "Viewed"})


def test_a_track_call_needs_an_event_name():
    with pytest.raises(ValidationError) as raised:
        SegmentCall.model_validate({"type": "track", "userId": "u-1", "event": ""})
    assert raised.value.errors()[0]["loc"] == ("event",)


def test_numeric_user_ids_are_kept_as_text():
    assert SegmentCall.model_validate({"type": "track", "userId": 42, "event": "Viewed"}).user_id == "42"


def test_timestamps_without_offset_are_utc():
    call = SegmentCall.model_validate(
        {"type": "track", "userId": "u", "event": "e", "timestamp": "2026-11-24T08:00:00"}
    )
    assert call.timestamp == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_write_key_in_body_is_read_but_never_serialised():
    call = SegmentCall.model_validate(
        {"type": "track", "userId": "u", "event": "e", "writeKey": "secret-key"}
    )
    assert call.write_key == "secret-key"
    assert "secret-key" not in call.model_dump_json()
    assert "secret-key" not in repr(call)


def test_touchpoint_carries_the_call_and_the_source():
    call = SegmentCall.model_validate(
        {
            "type": "track",
            "userId": "u-1",
            "event": "Order Completed",
            "messageId": "m-1",
            "properties": {"total": 12.5},
        }
    )
    touchpoint = touchpoint_from_segment(call, source=SOURCE, received_at=RECEIVED)
    assert (touchpoint.touchpoint_id, touchpoint.source_id, touchpoint.channel) == (
        "m-1",
        "web-eu",
        Channel.WEB,
    )
    assert touchpoint.identifiers == [Identifier(type=IdentifierType.USER_ID, value="u-1")]
    assert touchpoint.properties == {"total": 12.5}
    assert touchpoint.occurred_at == RECEIVED  # no device timestamp: when we received it


def test_a_missing_message_id_gets_a_fresh_one():
    call = SegmentCall.model_validate({"type": "track", "anonymousId": "a-1", "event": "Viewed"})
    first = touchpoint_from_segment(call, source=SOURCE, received_at=RECEIVED)
    second = touchpoint_from_segment(call, source=SOURCE, received_at=RECEIVED)
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
    call = SegmentCall.model_validate(
        {
            "type": "track",
            "userId": "u",
            "event": "e",
            "originalTimestamp": "2026-11-24T10:00:00Z",
            "timestamp": "2026-01-01T00:00:00Z",
            "sentAt": "2026-11-24T10:00:05Z",
        }
    )
    touchpoint = touchpoint_from_segment(call, source=SOURCE, received_at=RECEIVED)
    assert touchpoint.occurred_at == RECEIVED - timedelta(seconds=5)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"type": "track", "userId": "u"}, "track needs event"),
        ({"type": "alias", "userId": "u"}, "alias needs previousId and userId"),
        ({"type": "group", "userId": "u"}, "group needs groupId"),
        ({"type": "identify"}, "userId or anonymousId"),
        ({"type": "shout", "userId": "u"}, "type"),
    ],
)
def test_each_call_type_requires_its_fields(payload, message):
    with pytest.raises(ValidationError, match=message):
        SegmentCall.model_validate(payload)


def test_identify_collects_normalised_identifiers_from_traits_context_and_external_ids():
    call = SegmentCall.model_validate(
        {
            "type": "identify",
            "userId": "u-1",
            "anonymousId": "null",
            "traits": {"email": "  Li.Na@Example.COM ", "phone": "138 0013 8000", "tier": "gold"},
            "context": {
                "device": {"id": "dev-9"},
                "externalIds": [
                    {"id": "oABC123", "type": "wechat_openid", "collection": "users"},
                    {"id": "x", "type": "not_a_known_type"},
                ],
            },
        }
    )
    touchpoint = touchpoint_from_segment(call, source=SOURCE, received_at=RECEIVED)
    assert touchpoint.type is TouchpointType.IDENTIFY
    assert [(i.type.value, i.value) for i in touchpoint.identifiers] == [
        ("user_id", "u-1"),
        ("email", "li.na@example.com"),
        ("phone", "+8613800138000"),
        ("device_id", "dev-9"),
        ("wechat_openid", "oABC123"),
    ]
    assert touchpoint.traits["tier"] == "gold"


ORDER_COMPLETED = {
    "type": "track",
    "userId": "u-1",
    "event": "Order Completed",
    "properties": {
        "order_id": "o-7",
        "total": 59.97,
        "currency": "cny",
        "location_id": "store-1",
        "products": [{"sku": "SKU-1", "price": 19.99, "quantity": 3}],
    },
}


def test_order_completed_from_a_server_side_source_carries_the_order_with_exact_amounts():
    call = SegmentCall.model_validate(ORDER_COMPLETED)
    touchpoint = touchpoint_from_segment(call, source=BACKEND, received_at=RECEIVED)
    assert touchpoint.type is TouchpointType.ORDER
    assert touchpoint.order is not None
    assert (touchpoint.order.order_id, str(touchpoint.order.total), touchpoint.order.currency) == (
        "o-7",
        "59.97",
        "CNY",
    )
    assert [(line.sku, str(line.quantity), str(line.unit_price)) for line in touchpoint.order.lines] == [
        ("SKU-1", "3", "19.99")
    ]


@pytest.mark.parametrize("event", ["Order Completed", "Order Refunded"])
def test_an_order_from_a_client_side_key_is_behaviour_as_reported_not_an_order(event):
    """The browser's key is public: what it reports is kept, but creates no order (no points,
    no stock moved, no refund taken back)."""
    call = SegmentCall.model_validate({**ORDER_COMPLETED, "event": event})
    touchpoint = touchpoint_from_segment(call, source=SOURCE, received_at=RECEIVED)
    assert (touchpoint.type, touchpoint.order, touchpoint.event) == (TouchpointType.TRACK, None, event)
    assert touchpoint.properties["total"] == 59.97


def test_a_segment_source_is_client_side_unless_declared_and_signed_webhooks_are_server_side():
    assert SOURCE.trust is SourceTrust.CLIENT and not SOURCE.creates_value
    assert BACKEND.creates_value
    shop = Source(source_id="shop", name="Shop", kind=SourceKind.SHOPIFY, trust=SourceTrust.CLIENT)
    assert shop.trust is SourceTrust.SERVER


def test_cart_events_are_cart_touchpoints():
    call = SegmentCall.model_validate({"type": "track", "anonymousId": "a", "event": "Product Added"})
    assert touchpoint_from_segment(call, source=SOURCE, received_at=RECEIVED).type is TouchpointType.CART


def test_alias_keeps_the_previous_id():
    call = SegmentCall.model_validate({"type": "alias", "userId": "u-2", "previousId": "anon-1"})
    touchpoint = touchpoint_from_segment(call, source=SOURCE, received_at=RECEIVED)
    assert (touchpoint.type, touchpoint.previous_id) == (TouchpointType.ALIAS, "anon-1")


def test_alias_links_the_previous_id_as_the_visitors_anonymous_id():
    from datetime import UTC, datetime

    from shared.domain.ingest.touchpoints import SegmentCall, Source, touchpoint_from_segment
    from shared.domain.kernel.identifiers import Identifier, IdentifierType

    call = SegmentCall.model_validate({"type": "alias", "previousId": "cookie-9", "userId": "u-9"})
    tp = touchpoint_from_segment(
        call, source=Source(source_id="web", name="Web"), received_at=datetime.now(UTC)
    )
    assert tp.identifiers == [
        Identifier(type=IdentifierType.USER_ID, value="u-9"),
        Identifier(type=IdentifierType.ANONYMOUS_ID, value="cookie-9"),
    ]
    assert tp.previous_id == "cookie-9"
