"""Campaigns: request units and CPU per dispatched message on moto (the local stack's time from
launch to every outcome is measured in infra.bench.local_stack)."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from infra.bench.meter import OwnCpu, RequestMeter, captured_output, create_tables, restored

# One email to everyone in the `bench-all` segment (the bench's audience).
BENCH_CAMPAIGN: dict[str, Any] = {
    "name": "Bench",
    "segment_id": "bench-all",
    "channels": ["email"],
    "variants": [{"variant_id": "v", "content": {"email": {"subject": "Hi", "body": "Hi {{ first_name }}"}}}],
}


def _bench_people(count: int, now: Any) -> list[Any]:
    from shared.domain.customers.profiles import ConsentState, Profile, TraitValue
    from shared.domain.ingest.touchpoints import ConsentStatus
    from shared.domain.kernel.identifiers import Identifier, IdentifierType

    granted = {
        "email:marketing": ConsentState(
            status=ConsentStatus.GRANTED, at=now, source_id="bench", reason="form"
        )
    }
    return [
        Profile(
            profile_id=f"bench-{index:06d}",
            created_at=now,
            identifiers=[Identifier(type=IdentifierType.EMAIL, value=f"p{index}@example.com")],
            traits={
                "first_name": TraitValue(value=f"P{index}", at=now, by="bench"),
                "timezone": TraitValue(value="Europe/Amsterdam", at=now, by="bench"),
            },
            consent=granted,
        )
        for index in range(count)
    ]


def _seed_audience(people: list[Any], segment_id: str, now: Any) -> None:
    """Profiles and their segment membership written straight into the tables (what the
    touchpoint pipeline and the segment consumer would have left there)."""
    from shared.domain.segments.live import MembershipState, SegmentDefinition
    from shared.wiring import customers as customers_wiring
    from shared.wiring import segments as segments_wiring

    graph, segments = customers_wiring.get_customer_graph(), segments_wiring.get_segment_store()
    if segments.definition(segment_id) is None:
        segments.create_definition(
            SegmentDefinition.model_validate(
                {
                    "segment_id": segment_id,
                    "name": segment_id,
                    "rule": {"field": "identifiers.email", "op": "exists"},
                    "created_at": now,
                    "updated_at": now,
                }
            )
        )
    # Written in batches, as the segment store's items: the emulator copies every table on each
    # transaction, which makes seeding thousands through `commit` slow and memory-hungry.
    from shared.adapters.dynamo.customers_table import CustomersTableItem
    from shared.adapters.dynamo.segments_store import MembershipItem, MembershipStateItem
    from shared.domain.segments.live import audience_shard

    body = MembershipState(profile_id="-", segments={segment_id: now}).model_dump_json(
        exclude={"version", "profile_id"}
    )
    with CustomersTableItem.batch_write() as batch:
        for person in people:
            graph.save_profile(person)
            pk = f"PROFILE#{person.profile_id}"
            batch.save(MembershipStateItem(pk, "SEGSTATE", version=1, body=body))
            batch.save(
                MembershipItem(
                    pk,
                    f"SEGMENT#{segment_id}",
                    audience=f"{segment_id}#{audience_shard(person.profile_id)}",
                    member=person.profile_id,
                    since=now,
                )
            )


def measure_campaigns(messages: int = 300) -> dict[str, Any]:
    """Request units, queue requests and our CPU per dispatched message on moto: one campaign to
    `messages` consented customers, launched, its pages played through the dispatch worker in the
    template's batches, each message decided (consent, caps, quiet hours, variant, render) and
    sent once through a recording sender; the emulator's CPU is left out by timing what is spent
    inside botocore calls."""
    import boto3
    from moto import mock_aws

    from functions.campaigns.dispatch import lambda_handler as dispatch_worker
    from infra.emulator import function_specs
    from infra.lambda_runtime import LambdaContext, sqs_event
    from infra.template import load_template
    from shared import wiring
    from shared.clock import SystemClock
    from shared.domain.engagement.models import CampaignChange
    from shared.wiring import engagement as engagement_wiring

    class Accepting:
        idempotent = False

        def send(self, message: Any) -> str:
            return "ok"

    saved_environment = dict(os.environ)
    results: dict[str, Any] = {"messages": messages}
    with mock_aws(), restored(saved_environment):
        create_tables({"CustomersTable": "bench-customers", "EngagementTable": "bench-engagement"})
        queue_url = boto3.client("sqs").create_queue(QueueName="bench-dispatch")["QueueUrl"]
        os.environ.update(
            CUSTOMERS_TABLE="bench-customers",
            ENGAGEMENT_TABLE="bench-engagement",
            DISPATCH_QUEUE_URL=queue_url,
        )
        wiring.reset()
        engagement_wiring.use_senders({"email": Accepting()})
        try:
            now = SystemClock().now()
            people = _bench_people(messages, now)
            _seed_audience(people, "bench-all", now)
            engagement = engagement_wiring.get_engagement()
            from shared.domain.engagement.frequency import FrequencyPolicy

            engagement.save_policy(
                FrequencyPolicy(
                    caps=[{"scope": "channel", "channel": "email", "count": 3, "window": "week"}],
                    quiet_hours=None,
                )
            )
            change = CampaignChange.model_validate(BENCH_CAMPAIGN)
            service = engagement_wiring.get_campaign_service()
            service.create("bench", change)
            service.launch("bench")  # pages the audience onto the queue; the loop below plays the worker
            # The worker as the queue feeds it: the pages launch wrote (20 sends each), 5 a batch.
            sqs = boto3.client("sqs")
            pages: list[dict[str, Any]] = []
            while got := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
                pages.extend(got)
            spec = function_specs(load_template())["DispatchFunction"]
            batch = spec.sqs_triggers[0].batch_size
            cpu = OwnCpu()
            with RequestMeter().watching() as meter, cpu.measuring(), captured_output():
                for start in range(0, len(pages), batch):
                    event = sqs_event(pages[start : start + batch], queue_arn="arn:bench", region="us-east-1")
                    dispatch_worker(event, LambdaContext(spec, "us-east-1"))
            rows = list(engagement.rows("bench"))
            results["per_message"] = {
                "dynamodb_wru": meter.write_units / messages,
                "dynamodb_rru": meter.read_units / messages,
                "handler_cpu_ms": cpu.ms / messages,
            }
            results["outcomes"] = dict(Counter(row.status for row in rows))
        finally:
            engagement_wiring.use_senders({})
    return results
