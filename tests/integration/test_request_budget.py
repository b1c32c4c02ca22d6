"""The cost design, asserted as request counts (not timings): a touchpoint is stored once and
the profile of the path stays at the physical minimum."""

from infra.bench import item_size, measure_requests


def test_a_touchpoint_costs_one_send_one_put_one_write_unit_and_one_event():
    figures = measure_requests(30)
    calls = figures["calls_per_touchpoint"]
    assert calls["sqs:SendMessageBatch"] == 1  # single calls; /v1/batch sends ten per request
    assert calls["dynamodb:PutItem"] == 1
    assert figures["dynamodb_wru_per_touchpoint"] == 1
    assert calls["dynamodb:GetItem"] <= 2 / 30  # write key → source, cached by a warm function
    assert figures["eventbridge_events_per_touchpoint"] == 1
    assert figures["eventbridge_requests_per_touchpoint"] <= 0.1  # ten entries per PutEvents
    assert not any(name.endswith((":Scan", ":Query")) for name in calls)
    assert figures["sqs_requests_per_touchpoint"] < 1.3  # the event source receives and deletes in tens


def test_item_size_follows_dynamodb_rules():
    assert item_size({"pk": {"S": "abc"}}) == 5
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"flag": {"BOOL": True}, "m": {"M": {"a": {"S": "xy"}}}}) == 4 + 1 + 1 + (3 + 1 + 2 + 1)
