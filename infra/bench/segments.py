"""Keeping segments and the classification live per touchpoint, the nightly recompute, and
reading an audience."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from infra.bench.meter import (
    CONSUMER_BATCH,
    RequestMeter,
    captured_output,
    deployed_on_moto,
    receive_up_to,
)
from infra.bench.touchpoints import mixed_call

BENCH_SEGMENTS = [
    {
        "segment_id": "tea-viewers",
        "name": "Viewed tea, no purchase, 7 days",
        "rule": {
            "all": [
                {"did": {"event": "Product Viewed", "sku": "sku-1", "within_days": 7}},
                {"not": {"bought": {"within_days": 7}}},
            ]
        },
    },
    {"segment_id": "buyers", "name": "Buyers", "rule": {"field": "orders", "op": "gte", "value": 1}},
    {
        "segment_id": "big-spenders",
        "name": "AOV 400+",
        "rule": {"field": "average_order_value", "op": "gte", "value": 400},
    },
    {
        "segment_id": "loyal",
        "name": "Loyal or advocates",
        "rule": {"field": "stage", "op": "in", "value": ["loyal", "advocate"]},
    },
    {"segment_id": "email-ok", "name": "Email consent", "rule": {"consent": {"channel": "email"}}},
]


def measure_segments(touchpoints: int) -> dict[str, Any]:
    """Keeping classification and membership live, on moto: what the segments consumer costs per
    touchpoint (five segments defined), what the nightly recompute costs per 10 000 profiles, and
    what reading an audience costs per 1 000 members."""
    import boto3
    from chalice.test import Client

    from functions.api.app import app
    from functions.segments.handler import lambda_handler as segments_consumer
    from functions.segments.recompute import lambda_handler as recompute_part
    from functions.touchpoints.handler import lambda_handler as consume
    from infra.emulator import function_specs
    from infra.lambda_runtime import LambdaContext, delete_messages, sqs_event
    from shared import wiring
    from shared.wiring import segments as segments_wiring

    with deployed_on_moto() as (template, stack):
        specs = function_specs(template)
        sqs = boto3.client("sqs")
        admin = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
        auth = {
            "Authorization": "Basic " + base64.b64encode(b"wk:").decode(),
            "Content-Type": "application/json",
        }

        def drain(logical_id: str, handler: Callable[..., Any], function: str, *, batch: int) -> int:
            queue, handled = stack.queues[logical_id], 0
            while True:
                received = receive_up_to(sqs, queue.url, batch)
                if not received:
                    return handled
                handler(
                    sqs_event(received, queue_arn=queue.arn, region="us-east-1"),
                    LambdaContext(specs[function], "us-east-1"),
                )
                delete_messages(sqs, queue.url, received)
                handled += len(received)

        with Client(app) as client, captured_output():
            for segment in BENCH_SEGMENTS:
                client.http.post("/segments", headers=admin, body=json.dumps(segment))
            for index in range(touchpoints):
                call_type, body = mixed_call(index)
                if call_type == "track" and body["event"] == "Product Viewed":
                    body["properties"] = {"sku": f"sku-{index % 3}"}
                client.http.post(f"/v1/{call_type}", headers=auth, body=json.dumps(body))
            drain("TouchpointQueue", consume, "TouchpointsFunction", batch=CONSUMER_BATCH)
            live = RequestMeter()
            with live.watching():
                events = drain("SegmentQueue", segments_consumer, "SegmentsFunction", batch=100)
            profiles = sum(
                1 for _ in segments_wiring.get_profile_scanner().pages(part=0, parts=1) for _p in _
            )
            everyone = {
                "segment_id": "everyone",
                "name": "Everyone seen on the web",
                "rule": {"field": "touches_by_channel.web", "op": "gte", "value": 0},
            }
            client.http.post("/segments", headers=admin, body=json.dumps(everyone))
            populate, nightly = RequestMeter(), RequestMeter()
            for meter in (populate, nightly):  # first: everyone joins the new segment; then: a quiet night
                with meter.watching():
                    job = json.loads(client.http.post("/segments/recompute", headers=admin).body)
                    drain("RecomputeQueue", recompute_part, "RecomputeFunction", batch=1)
            done = json.loads(client.http.get(f"/segments/recompute/{job['job_id']}", headers=admin).body)
            audience = RequestMeter()
            members = 0
            with audience.watching():
                cursor = None
                while True:
                    path = "/segments/everyone/members?limit=1000" + (f"&after={cursor}" if cursor else "")
                    page = json.loads(client.http.get(path, headers=admin).body)
                    members += len(page["profile_ids"])
                    cursor = page["next"]
                    if not cursor:
                        break
        wiring.reset()

    def per(meter: RequestMeter, count: float) -> dict[str, float]:
        sqs_calls = sum(n for name, n in meter.calls.items() if name.startswith("sqs:"))
        return {
            "dynamodb_wru": meter.write_units / count,
            "dynamodb_rru": meter.read_units / count,
            "eventbridge_events": meter.events / count,
            "sqs_requests": sqs_calls / count,
        }

    return {
        "segments": len(BENCH_SEGMENTS),
        "touchpoints": touchpoints,
        "segment_events_handled": events,
        "profiles": profiles,
        "live_per_touchpoint": per(live, touchpoints),
        "recompute_per_10k_profiles": {k: v * 10_000 for k, v in per(nightly, max(profiles, 1)).items()},
        "new_segment_everyone_joins_per_10k_profiles": {
            k: v * 10_000 for k, v in per(populate, max(profiles, 1)).items()
        },
        "recompute_phase": done["phase"],
        "audience_members": members,
        "audience_per_1k_members": {k: v * 1000 for k, v in per(audience, max(members, 1)).items()},
    }
