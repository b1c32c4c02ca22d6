"""The touchpoint pipeline's batch events: what is packed comes out again, in order, each batch
under EventBridge's and SQS's size limits, with the values the rules filter on beside it."""

import json

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.kernel.events import (
    MAX_BATCH_DETAIL_BYTES,
    ORDER_PLACED,
    PROFILE_CHANGED,
    PROFILES_CHANGED,
    TOUCHPOINT_RECORDED,
    TOUCHPOINTS_RECORDED,
    batched,
    unbatched,
)

touchpoints = st.builds(
    lambda n, kind, event, pad: {
        "touchpoint_id": f"t-{n}",
        "type": kind,
        **({"event": event} if kind == "track" else {}),
        "properties": {"pad": "x" * pad},
    },
    st.integers(0, 10_000),
    st.sampled_from(["page", "track", "identify", "inventory"]),
    st.sampled_from(["Product Added", "Checkout Started", "Product Viewed"]),
    st.integers(0, 3000),
)
profile_changes = st.builds(
    lambda n, fields: {"profile_id": f"p-{n}", "changed": fields, "version": 1},
    st.integers(0, 100),
    st.lists(st.sampled_from(["traits.birthday", "orders", "identifiers", "traits.plan"]), max_size=3),
)
events = st.lists(
    st.one_of(
        st.tuples(st.just(TOUCHPOINT_RECORDED), touchpoints),
        st.tuples(st.just(PROFILE_CHANGED), profile_changes),
        st.tuples(st.just(ORDER_PLACED), st.fixed_dictionaries({"order_id": st.text(max_size=5)})),
    ),
    max_size=120,
)


@given(events=events, limit=st.sampled_from([4_000, 20_000, MAX_BATCH_DETAIL_BYTES]))
def test_what_is_batched_comes_out_again_in_order_and_each_batch_fits(events, limit):
    announced = batched(events, max_bytes=limit)
    opened = [single for kind, detail in announced for single in unbatched(kind, detail)]
    for kind in (TOUCHPOINT_RECORDED, PROFILE_CHANGED, ORDER_PLACED):
        assert [e for e in opened if e[0] == kind] == [e for e in events if e[0] == kind]
    for kind, detail in announced:
        if kind in (TOUCHPOINTS_RECORDED, PROFILES_CHANGED):
            single_sizes = [len(json.dumps(d)) for _, d in unbatched(kind, detail)]
            # full, or one detail that is alone too big to share
            assert len(json.dumps(detail, separators=(",", ":"))) <= limit or len(single_sizes) == 1
            assert detail["count"] == len(single_sizes) >= 1


def test_a_batch_names_the_values_its_rules_filter_on():
    announced = batched(
        [
            (TOUCHPOINT_RECORDED, {"touchpoint_id": "a", "type": "page"}),
            (TOUCHPOINT_RECORDED, {"touchpoint_id": "b", "type": "track", "event": "Product Added"}),
            (TOUCHPOINT_RECORDED, {"touchpoint_id": "c", "type": "inventory"}),
            (PROFILE_CHANGED, {"profile_id": "p", "changed": ["traits.birthday"], "version": 2}),
            (PROFILE_CHANGED, {"profile_id": "q", "changed": ["orders"], "version": 5}),
        ]
    )
    assert [kind for kind, _ in announced] == [TOUCHPOINTS_RECORDED, PROFILES_CHANGED]
    recorded, changed = (detail for _, detail in announced)
    assert (recorded["types"], recorded["events"], recorded["count"]) == (
        ["inventory", "page", "track"],
        ["Product Added"],
        3,
    )
    assert changed["changed"] == ["orders", "traits.birthday"]
    assert [p["profile_id"] for p in changed["profiles"]] == ["p", "q"]


def test_a_single_event_and_a_foreign_one_pass_through():
    single = (PROFILE_CHANGED, {"profile_id": "p", "changed": ["traits.plan"], "version": 1})
    assert unbatched(*single) == [single]
    assert unbatched(TOUCHPOINTS_RECORDED, {"touchpoints": ["not an object", {"touchpoint_id": "t"}]}) == [
        (TOUCHPOINT_RECORDED, {"touchpoint_id": "t"})
    ]
