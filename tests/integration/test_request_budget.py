"""The cost design, asserted as request counts (not timings), on the whole pipeline: a touchpoint
is stored once, the profile of the path stays at the physical minimum, and every request the
system causes is counted, including EventBridge's deliveries inside the emulator."""

import pytest

from infra.bench.meter import SQS_EXTRA_CHUNKS, RequestMeter, billed_chunks, item_size
from infra.bench.pipeline import EVENT_SOURCES, INGEST, SCHEDULED, measure_pipeline


@pytest.fixture(scope="module")
def single_calls():
    return measure_pipeline(60)


def test_a_touchpoint_is_stored_once_and_its_profile_written_at_most_once(single_calls):
    run = single_calls
    consumer = run.functions["TouchpointsFunction"].calls
    units = {entity: n / 60 for entity, n in run.meter.write_units_by_entity.items()}
    assert (
        run.functions[INGEST].calls["sqs:SendMessageBatch"] == 60
    )  # single calls; /v1/batch: ten per request
    assert units["TOUCHPOINT"] == 1  # archived once, one write unit each
    assert "TOUCHPOINT index" not in units  # histories chain: no index writes
    assert units["IDENTITY"] <= 1  # only identifiers seen for the first time are written
    # the archive, then at most one write per profile per batch and one per new identifier, and
    # the batch's activity tally (one counter write per batch, not per touchpoint)
    new_identifiers = sum(1 for item in run.stored if item["entity"] == "IDENTITY")
    assert consumer["dynamodb:UpdateItem"] == 1
    assert run.functions["TouchpointsFunction"].write_units <= 60 + 60 + new_identifiers + 1
    assert "dynamodb:TransactWriteItems" not in consumer  # nobody merged: no transaction
    assert consumer["dynamodb:BatchGetItem"] <= 3  # archive, graph, profiles for the one batch
    assert consumer["events:PutEvents"] <= 0.25 * 60  # ten entries per PutEvents
    assert not any(name.endswith((":Scan", ":Query")) for name in consumer)
    assert run.functions[INGEST].calls["dynamodb:GetItem"] <= 4  # each write key → source, then cached


def test_the_segments_function_reads_a_batch_of_profiles_and_states_at_once(single_calls):
    segments = single_calls.functions["SegmentsFunction"]
    assert segments.calls["dynamodb:BatchGetItem"] <= 2 * segments.invocations  # profiles, states
    assert segments.calls["dynamodb:GetItem"] <= segments.invocations  # none per profile


def test_every_delivery_eventbridge_makes_inside_the_emulator_is_counted(single_calls):
    run = single_calls
    for queue in ("SegmentQueue", "EngagementQueue", "LoyaltyQueue"):
        assert any(queue in name for name in run.deliveries), queue
    # A batch's touchpoints are announced together (TouchpointsRecorded), and the segment rule
    # takes each batch event once: one delivery per touchpoint batch, not per touchpoint.
    segment_deliveries = sum(n for name, n in run.deliveries.items() if "SegmentQueue" in name)
    assert 1 <= segment_deliveries <= run.functions["TouchpointsFunction"].invocations
    assert run.meter.events < 60  # the 60 touchpoints and their profile changes, in batches
    # What was delivered was consumed: each event-fed consumer ran on it.
    for function in ("SegmentsFunction", "EngagementEventsFunction", "LoyaltyFunction"):
        assert run.functions[function].invocations >= 1
    # The event sources' receives and deletes are charged apart from the functions.
    assert run.functions[EVENT_SOURCES].calls["sqs:DeleteMessageBatch"] >= 3
    assert run.functions[EVENT_SOURCES].invocations == 0


def test_each_schedule_is_measured_once_and_stored_items_have_their_lifetimes(single_calls):
    run = single_calls
    scheduled = {name for name in run.functions if name.startswith(SCHEDULED)}
    assert f"{SCHEDULED}CampaignSchedulerFunction" in scheduled
    assert all(run.functions[name].invocations == 1 for name in scheduled)
    archive = [item for item in run.stored if item["entity"] == "TOUCHPOINT"]
    assert len(archive) == 60
    assert all(12.9 < item["months"] < 13.1 for item in archive)  # TouchpointRetentionDays: 395
    profiles = [item for item in run.stored if item["entity"] == "PROFILE"]
    assert profiles
    assert all(item["months"] is None for item in profiles)  # state: no TTL
    assert run.metrics  # EMF metrics were seen


def test_item_size_follows_dynamodb_rules():
    assert item_size({"pk": {"S": "abc"}}) == 5
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"flag": {"BOOL": True}, "m": {"M": {"a": {"S": "xy"}}}}) == 4 + 1 + 1 + (3 + 1 + 2 + 1)


def test_large_events_and_messages_are_billed_per_64_kb_chunk():
    meter = RequestMeter()
    big = {"Source": "omnireach", "DetailType": "TouchpointsRecorded", "Detail": "x" * 150_000}
    meter.record("events", "PutEvents", {"Entries": [big, {**big, "Detail": "{}"}]}, {})
    assert meter.events == 3 + 1
    meter.record("sqs", "SendMessageBatch", {"Entries": [{"MessageBody": "y" * 70_000}] * 2}, {})
    meter.record("sqs", "ReceiveMessage", {}, {"Messages": [{"Body": "z" * 1000}]})
    assert meter.calls[SQS_EXTRA_CHUNKS] == 2  # 140,000 bytes: three chunks for one request
    assert billed_chunks(65_536) == 1 and billed_chunks(65_537) == 2 and billed_chunks(0) == 1


def test_a_campaign_message_writes_three_items_and_reads_two(monkeypatch):
    """Through the dispatch worker as the queue feeds it, under a weekly email cap: the row's claim,
    the contact history (the cap, the send under way, the last message) and the row's outcome;
    the profile and the customer's partition (unsubscribes and history) in one query each."""
    from infra.bench.campaigns import measure_campaigns

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "bench")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "bench")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    measured = measure_campaigns(40)
    assert measured["outcomes"] == {"sent": 40}
    assert measured["per_message"]["dynamodb_wru"] <= 3
    assert measured["per_message"]["dynamodb_rru"] <= 2.1  # the campaign once per page of 20
