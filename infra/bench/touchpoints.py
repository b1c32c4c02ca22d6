"""What one touchpoint costs: AWS requests and request units through the API, the queue and the
consumer on moto (single calls and batches), and our own CPU per touchpoint with in-memory ports."""

from __future__ import annotations

import base64
import gc
import json
import math
import time
from typing import Any

from infra.bench.meter import (
    CONSUMER_BATCH,
    RequestMeter,
    captured_output,
    deployed_on_moto,
    replace_factories,
)

KNOWN_CUSTOMERS = 200


def mixed_call(index: int) -> tuple[str, dict[str, Any]]:
    """A realistic mix: 30 % first visits (anonymous page views), 55 % known customers browsing,
    15 % orders; customers return several times over the run."""
    common = {
        "messageId": f"bench-{index}",
        "timestamp": "2026-11-24T08:00:00Z",
        "sentAt": "2026-11-24T08:00:02Z",
        "context": {"ip": "203.0.113.9", "library": {"name": "analytics-python", "version": "2.3.4"}},
    }
    slot = index % 20
    user = f"user-{(index * 7) % KNOWN_CUSTOMERS}"
    if slot < 6:
        return "page", {**common, "anonymousId": f"visitor-{index}", "name": "Home"}
    if slot < 17:
        return "track", {
            **common,
            "userId": user,
            "event": "Product Viewed",
            "properties": {"sku": f"sku-{index % 50}"},
        }
    return "track", {
        **common,
        "userId": user,
        "event": "Order Completed",
        "properties": {"order_id": f"o-{index}", "total": 129.9, "currency": "CNY", "items": 3},
    }


def _track_body(index: int) -> str:
    return json.dumps(mixed_call(index)[1])


def _batch_body(start: int, size: int) -> str:
    events = []
    for index in range(start, start + size):
        call_type, body = mixed_call(index)
        events.append({"type": call_type, **body})
    return json.dumps({"batch": events, "sentAt": "2026-11-24T08:00:02Z"})


def measure_requests(touchpoints: int, *, batch: int = 1) -> dict[str, Any]:
    """The full path on moto: API → queue → consumer (batches of BatchSize) → archive. With
    `batch` > 1 the calls go to /v1/batch, `batch` events per request."""
    import boto3
    from chalice.test import Client

    from functions.api.app import app
    from functions.touchpoints.handler import lambda_handler as consume
    from infra.emulator import function_specs
    from infra.lambda_runtime import LambdaContext, sqs_event
    from shared import wiring

    with deployed_on_moto() as (template, stack):
        sqs = boto3.client("sqs")
        queue = stack.queues["TouchpointQueue"]
        context = LambdaContext(function_specs(template)["TouchpointsFunction"], "us-east-1")
        auth = {
            "Authorization": "Basic " + base64.b64encode(b"wk:").decode(),
            "Content-Type": "application/json",
        }
        meter = RequestMeter()
        with meter.watching(), Client(app) as client, captured_output():
            if batch == 1:
                for index in range(touchpoints):
                    call_type, body = mixed_call(index)
                    client.http.post(f"/v1/{call_type}", headers=auth, body=json.dumps(body))
            else:
                for start in range(0, touchpoints, batch):
                    size = min(batch, touchpoints - start)
                    client.http.post("/v1/batch", headers=auth, body=_batch_body(start, size))
            while True:  # the event source: receive up to BatchSize, invoke, delete what succeeded
                received: list[dict[str, Any]] = []
                while len(received) < CONSUMER_BATCH:
                    got = sqs.receive_message(
                        QueueUrl=queue.url, MaxNumberOfMessages=10, AttributeNames=["All"]
                    )
                    if not got.get("Messages"):
                        break
                    received.extend(got["Messages"])
                if not received:
                    break
                failed = {
                    f["itemIdentifier"]
                    for f in consume(sqs_event(received, queue_arn=queue.arn, region="us-east-1"), context)[
                        "batchItemFailures"
                    ]
                }
                done = [m for m in received if m["MessageId"] not in failed]
                for start in range(0, len(done), 10):
                    sqs.delete_message_batch(
                        QueueUrl=queue.url,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                            for i, m in enumerate(done[start : start + 10])
                        ],
                    )
        wiring.reset()
    per = {name: count / touchpoints for name, count in sorted(meter.calls.items())}
    sqs_requests = sum(count for name, count in meter.calls.items() if name.startswith("sqs:"))
    # The trailing empty receive that ends our loop is not part of the steady state.
    sqs_requests -= 1
    return {
        "api_requests_per_touchpoint": math.ceil(touchpoints / batch) / touchpoints,
        "calls_per_touchpoint": per,
        "sqs_requests_per_touchpoint": sqs_requests / touchpoints,
        "eventbridge_events_per_touchpoint": meter.events / touchpoints,
        "eventbridge_requests_per_touchpoint": meter.calls.get("events:PutEvents", 0) / touchpoints,
        "dynamodb_wru_per_touchpoint": meter.write_units / touchpoints,
        "dynamodb_minimum_wru_per_touchpoint": meter.minimum_write_units / touchpoints,
        "dynamodb_wru_over_minimum": meter.write_units / meter.minimum_write_units,
        "dynamodb_wru_by_entity_per_touchpoint": {
            entity: units / touchpoints for entity, units in sorted(meter.write_units_by_entity.items())
        },
        "dynamodb_rru_per_touchpoint": meter.read_units / touchpoints,
        "consumer_invocations_per_touchpoint": math.ceil(touchpoints / CONSUMER_BATCH) / touchpoints,
    }


def measure_cpu(touchpoints: int) -> dict[str, float]:
    """Our own CPU and log bytes per touchpoint, with in-memory ports (no emulator time counted)."""
    from chalice.test import Client

    from functions.api.app import app
    from functions.touchpoints.handler import lambda_handler as consume
    from infra.lambda_runtime import LambdaContext
    from infra.template import FunctionSpec
    from shared.domain.ingest.touchpoints import Source
    from tests.fakes import (
        FakeClock,
        InMemoryCustomerGraph,
        InMemorySourceRegistry,
        InMemoryTouchpointArchive,
        InMemoryTouchpointQueue,
        RecordingPublisher,
    )

    # A Lambda process has a small heap: don't time collections of the emulator's objects left by
    # the request measurement.
    gc.collect()
    gc.freeze()
    registry, queue, archive = (
        InMemorySourceRegistry(),
        InMemoryTouchpointQueue(),
        InMemoryTouchpointArchive(),
    )
    graph = InMemoryCustomerGraph()
    registry.add(Source(source_id="web", name="Web"), write_key="wk")
    restore = replace_factories(
        get_source_registry=lambda: registry,
        get_touchpoint_queue=lambda: queue,
        get_touchpoint_archive=lambda: archive,
        get_customer_graph=lambda: graph,
        get_clock=FakeClock,
        get_event_publisher=RecordingPublisher,
    )
    auth = {"Authorization": "Basic " + base64.b64encode(b"wk:").decode(), "Content-Type": "application/json"}
    try:
        with Client(app) as client, captured_output():
            client.http.post("/v1/track", headers=auth, body=_track_body(7))  # warm
            with captured_output() as api_logs:
                started = time.process_time()
                for index in range(touchpoints):
                    call_type, body = mixed_call(index)
                    client.http.post(f"/v1/{call_type}", headers=auth, body=json.dumps(body))
                api_cpu = time.process_time() - started
        records = [
            {
                "messageId": f"sqs-{i}",
                "receiptHandle": f"rh-{i}",
                "body": touchpoint.model_dump_json(),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795510800000",
                    "SenderId": "AIDA",
                    "ApproximateFirstReceiveTimestamp": "1795510800000",
                },
                "messageAttributes": {},
                "md5OfBody": "0",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
            for i, touchpoint in enumerate(queue.sent)
        ]
        spec = FunctionSpec(
            logical_id="TouchpointsFunction", handler="-", timeout=30, memory=512, environment={}
        )
        with captured_output():  # warm: first-call work is a cold start, not a per-touchpoint cost
            consume({"Records": records[:CONSUMER_BATCH]}, LambdaContext(spec, "us-east-1"))
        archive.items.clear()
        graph.records.clear()
        graph.stored_profiles.clear()
        with captured_output() as consumer_logs:
            started = time.process_time()
            for start in range(0, len(records), CONSUMER_BATCH):
                consume(
                    {"Records": records[start : start + CONSUMER_BATCH]}, LambdaContext(spec, "us-east-1")
                )
            consumer_cpu = time.process_time() - started
    finally:
        restore()
    return {
        "api_cpu_ms": api_cpu * 1000 / touchpoints,
        "consumer_cpu_ms": consumer_cpu * 1000 / touchpoints,
        "api_log_bytes": len(api_logs.getvalue().encode()) / touchpoints,
        "consumer_log_bytes": len(consumer_logs.getvalue().encode()) / touchpoints,
    }


def measure_batches(batch: int = 100, batches: int = 20) -> dict[str, Any]:
    """/v1/batch with in-memory ports: CPU per request and per event, and the largest batch the
    API accepts (probed at and just over each limit)."""
    from chalice.test import Client

    from functions.api.app import app
    from shared.domain.ingest.touchpoints import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, Source
    from tests.fakes import FakeClock, InMemorySourceRegistry, InMemoryTouchpointQueue

    registry, queue = InMemorySourceRegistry(), InMemoryTouchpointQueue()
    registry.add(Source(source_id="web", name="Web"), write_key="wk")
    restore = replace_factories(
        get_source_registry=lambda: registry, get_touchpoint_queue=lambda: queue, get_clock=FakeClock
    )
    auth = {"Authorization": "Basic " + base64.b64encode(b"wk:").decode(), "Content-Type": "application/json"}
    tiny = {"type": "track", "userId": "u", "event": "E"}

    def post(body: str) -> tuple[int, dict[str, Any]]:
        response = client.http.post("/v1/batch", headers=auth, body=body)
        return response.status_code, json.loads(response.body)

    try:
        with Client(app) as client, captured_output():
            post(_batch_body(0, batch))  # warm
            started = time.process_time()
            for index in range(batches):
                post(_batch_body(index * batch, batch))
            cpu = time.process_time() - started
            at_count, _ = post(json.dumps({"batch": [tiny] * MAX_BATCH_EVENTS}))
            over_count, over_count_body = post(json.dumps({"batch": [tiny] * (MAX_BATCH_EVENTS + 1)}))
            padding = "x" * (MAX_BATCH_BYTES - 200)
            at_bytes, _ = post(
                json.dumps({"batch": [tiny], "context": {"pad": padding[: MAX_BATCH_BYTES - 100]}})
            )
            over_bytes, over_bytes_body = post(
                json.dumps({"batch": [tiny], "context": {"pad": "x" * MAX_BATCH_BYTES}})
            )
    finally:
        restore()
    return {
        "batch_size": batch,
        "api_cpu_ms_per_request": cpu * 1000 / batches,
        "api_cpu_ms_per_event": cpu * 1000 / (batches * batch),
        "max_events_accepted": MAX_BATCH_EVENTS if at_count == 200 else None,
        "over_max_events": f"{over_count} {over_count_body.get('error', {}).get('code')}",
        "max_bytes_accepted": MAX_BATCH_BYTES if at_bytes == 200 else None,
        "over_max_bytes": f"{over_bytes} {over_bytes_body.get('error', {}).get('code')}",
    }
