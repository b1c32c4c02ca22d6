"""The cost design, asserted as request counts (not timings): a touchpoint is stored once and
the profile of the path stays at the physical minimum."""

from infra.bench.meter import item_size
from infra.bench.touchpoints import measure_requests


def test_a_touchpoint_is_stored_once_and_its_profile_written_at_most_once():
    figures = measure_requests(60)
    calls = figures["calls_per_touchpoint"]
    units = figures["dynamodb_wru_by_entity_per_touchpoint"]
    assert calls["sqs:SendMessageBatch"] == 1  # single calls; /v1/batch sends ten per request
    assert units["TOUCHPOINT"] == 1  # archived once, one write unit each
    assert not any(entity.endswith("index") for entity in units)  # histories chain: no index writes
    assert units["PROFILE"] <= 1  # one write per profile per batch (coalesced)
    assert units["IDENTITY"] <= 1  # only identifiers seen for the first time are written
    assert "dynamodb:TransactWriteItems" not in calls  # nobody merged: no transaction
    # The write key → source (cached by a warm function), and the profile id key once per process.
    assert calls["dynamodb:GetItem"] <= 3 / 60
    assert calls["dynamodb:BatchGetItem"] <= 3 / 100 * 2 + 0.05  # archive, graph, profiles per batch
    assert figures["eventbridge_requests_per_touchpoint"] <= 0.25  # ten entries per PutEvents
    assert not any(name.endswith((":Scan", ":Query")) for name in calls)
    assert figures["sqs_requests_per_touchpoint"] < 1.3  # the event source receives and deletes in tens


def test_item_size_follows_dynamodb_rules():
    assert item_size({"pk": {"S": "abc"}}) == 5
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"flag": {"BOOL": True}, "m": {"M": {"a": {"S": "xy"}}}}) == 4 + 1 + 1 + (3 + 1 + 2 + 1)
