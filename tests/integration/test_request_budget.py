"""The cost design, asserted as request counts (not timings): a touchpoint is stored once and
the profile of the path stays at the physical minimum."""

from infra.bench import item_size, measure_requests


def test_a_touchpoint_costs_one_send_one_put_and_one_write_unit():
    figures = measure_requests(30)
    calls = figures["calls_per_touchpoint"]
    assert calls["sqs:SendMessage"] == 1
    assert calls["dynamodb:PutItem"] == 1
    assert figures["dynamodb_wru_per_touchpoint"] == 1
    assert calls["dynamodb:GetItem"] <= 1 / 30  # write-key lookups are cached by a warm function
    assert not any(name.endswith((":Scan", ":Query")) for name in calls)
    assert figures["sqs_requests_per_touchpoint"] < 1.3  # the event source receives and deletes in tens


def test_item_size_follows_dynamodb_rules():
    assert item_size({"pk": {"S": "abc"}}) == 5
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"flag": {"BOOL": True}, "m": {"M": {"a": {"S": "xy"}}}}) == 4 + 1 + 1 + (3 + 1 + 2 + 1)
