"""Everything a touchpoint causes, on moto, counted per function: the API request, the queue, the
consumer, the events it publishes, what EventBridge delivers to the queues of the segment,
loyalty, inventory and engagement functions, and those functions' own work. Every SQS event
source of template.yaml is drained with its own batch size until all queues are empty.

Per function it records invocations, AWS requests by service, our CPU (the process's time minus
the emulator's, so botocore's work counts and moto's does not), and log bytes and lines. It also
records the deliveries EventBridge made to SQS (inside the emulator, so no client call shows
them), the custom metrics the functions emitted (EMF), and at the end every item in the tables
with its size and lifetime."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.bench.meter import (
    BACKEND_WRITE_KEY,
    SQS_EXTRA_CHUNKS,
    RequestMeter,
    billed_chunks,
    captured_output,
    deployed_on_moto,
    item_size,
    receive_up_to,
)
from infra.bench.prices import SECONDS_PER_MONTH
from infra.bench.segments import BENCH_SEGMENTS
from infra.bench.touchpoints import is_order, mixed_call

INGEST = "IngestFunction"
SCHEDULED = "schedule:"  # prefix of a scheduled invocation's use, measured once
EVENT_SOURCES = "(event sources)"
ITEM_OVERHEAD_BYTES = 100  # DynamoDB bills each item's storage as its size plus 100 bytes


@dataclass
class FunctionUse:
    invocations: int = 0
    cpu_seconds: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)  # "service:Operation"
    log_bytes: int = 0
    log_lines: int = 0
    write_units: float = 0.0
    read_units: float = 0.0
    events: int = 0


@dataclass
class PipelineRun:
    touchpoints: int
    functions: dict[str, FunctionUse]
    meter: RequestMeter
    deliveries: Counter[str]  # queue name → messages EventBridge delivered
    metrics: set[str]  # namespace|name|dimension values
    stored: list[dict[str, Any]]  # table, entity, bytes, months
    tables: dict[str, str] = field(default_factory=dict)  # logical id → physical name


class Attribution:
    """Which function is running, so each AWS request, CPU second and log line is charged to it."""

    def __init__(self, meter: RequestMeter) -> None:
        self.meter = meter
        self.functions: dict[str, FunctionUse] = {}
        self.current: str | None = None
        self.emulator_cpu = 0.0
        self.deliveries: Counter[str] = Counter()
        self.metrics: set[str] = set()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Time the emulator's share of each request, and count EventBridge's deliveries."""
        from moto.core.models import botocore_stubber
        from moto.events.models import Rule

        dispatch = botocore_stubber.process_request
        deliver = Rule._send_to_sqs_queue
        attribution = self

        def timed(request: Any) -> Any:
            started = time.thread_time()
            try:
                return dispatch(request)
            finally:
                attribution.emulator_cpu += time.thread_time() - started

        def counted(rule: Any, resource_id: str, event: Any, group_id: Any = None) -> None:
            # each 64 KB chunk of the delivered message is a billed SQS request
            attribution.deliveries[resource_id] += billed_chunks(len(json.dumps(event, default=str).encode()))
            deliver(rule, resource_id, event, group_id)

        botocore_stubber.process_request = timed  # type: ignore[method-assign]
        Rule._send_to_sqs_queue = counted  # type: ignore[method-assign,assignment]
        recorded = self.meter.record

        def record(service: str, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
            meter = self.meter
            before = (meter.write_units, meter.read_units, meter.events, meter.calls[SQS_EXTRA_CHUNKS])
            recorded(service, operation, params, response)
            if self.current is not None:
                use = self.functions.setdefault(self.current, FunctionUse())
                use.calls[f"{service}:{operation}"] += 1
                if meter.calls[SQS_EXTRA_CHUNKS] > before[3]:
                    use.calls[SQS_EXTRA_CHUNKS] += meter.calls[SQS_EXTRA_CHUNKS] - before[3]
                use.write_units += meter.write_units - before[0]
                use.read_units += meter.read_units - before[1]
                use.events += meter.events - before[2]

        self.meter.record = record  # type: ignore[method-assign]
        try:
            yield
        finally:
            botocore_stubber.process_request = dispatch  # type: ignore[method-assign]
            Rule._send_to_sqs_queue = deliver  # type: ignore[method-assign]
            del self.meter.record

    @contextlib.contextmanager
    def running(self, function: str) -> Iterator[None]:
        use = self.functions.setdefault(function, FunctionUse())
        self.current = function
        emulator_before, started = self.emulator_cpu, time.thread_time()
        with captured_output() as output:
            try:
                yield
            finally:
                use.invocations += 1
                use.cpu_seconds += (time.thread_time() - started) - (self.emulator_cpu - emulator_before)
                self.current = None
        lines = [line for line in output.getvalue().splitlines() if line.strip()]
        use.log_lines += len(lines)
        use.log_bytes += sum(len(line.encode()) for line in lines)
        for line in lines:
            self._note_metrics(line)

    def _note_metrics(self, line: str) -> None:
        if '"_aws"' not in line:
            return
        try:
            blob = json.loads(line)
        except ValueError:
            return
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            for dimensions in directive.get("Dimensions") or [[]]:
                values = ",".join(f"{name}={blob.get(name)}" for name in dimensions)
                for metric in directive.get("Metrics", []):
                    self.metrics.add(f"{directive.get('Namespace')}|{metric['Name']}|{values}")


def _stored_items(tables: dict[str, str], now: datetime) -> list[dict[str, Any]]:
    """Every item left in the tables: its entity and record (the keys' prefixes), size as billed, and lifetime
    in months (its TTL, or None for state kept without one)."""
    import boto3

    dynamodb = boto3.client("dynamodb")
    stored = []
    for logical_id, name in tables.items():
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            for item in page["Items"]:
                expires = item.get("expires_at", {}).get("N")
                months = None
                if expires is not None:
                    seconds = max(0.0, float(expires) - now.timestamp())
                    months = seconds / SECONDS_PER_MONTH
                pk = str(item.get("pk", {}).get("S", ""))
                sk = str(item.get("sk", {}).get("S", ""))
                key = f"{logical_id}|{pk}|{sk}"
                stored.append(
                    {
                        "key": key,
                        "table": logical_id,
                        "entity": pk.partition("#")[0] or "other",
                        "record": sk.partition("#")[0],
                        "bytes": item_size(item) + ITEM_OVERHEAD_BYTES,
                        "months": months,
                    }
                )
    return stored


def _send(client: Any, attribution: Attribution, indices: range, batch: int) -> None:
    """The mix's calls at these indices through the ingest API: the browser reports views (its
    client key); the shop's backend reports orders (its server key)."""
    calls = [mixed_call(index) for index in indices]
    for key in ("wk", BACKEND_WRITE_KEY):
        sent = [call for call in calls if is_order(call) == (key == BACKEND_WRITE_KEY)]
        basic = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        auth = {"Authorization": basic, "Content-Type": "application/json"}
        for start in range(0, len(sent), batch):
            chunk = sent[start : start + batch]
            with attribution.running(INGEST):
                if batch == 1:
                    call_type, body = chunk[0]
                    client.http.post(f"/v1/{call_type}", headers=auth, body=json.dumps(body))
                else:
                    events = [{"type": call_type, **body} for call_type, body in chunk]
                    client.http.post("/v1/batch", headers=auth, body=json.dumps({"batch": events}))


def _drain(stack: Any, specs: dict[str, Any], attribution: Attribution) -> int:
    """Each event source: receive up to its batch size, invoke, delete what succeeded; until every
    queue is empty. Returns the empty receives (the cost model's idle polling counts those)."""
    import boto3

    from infra.lambda_runtime import LocalFunction, delete_messages, sqs_event

    sqs = boto3.client("sqs")
    triggers = [(spec, trigger) for spec in specs.values() for trigger in spec.sqs_triggers]
    consumers = {spec.logical_id: LocalFunction(spec, "us-east-1") for spec, _ in triggers}
    empty_receives = 0
    while True:
        progressed = False
        for spec, trigger in triggers:
            queue = stack.queues[trigger.queue]
            received = receive_up_to(sqs, queue.url, trigger.batch_size)
            if len(received) < trigger.batch_size:
                empty_receives += 1  # the receive that found the queue dry
            if not received:
                continue
            progressed = True
            with attribution.running(spec.logical_id):
                answer = consumers[spec.logical_id].invoke(
                    sqs_event(received, queue_arn=queue.arn, region="us-east-1")
                )
            failed = {f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])}
            done = [m for m in received if m["MessageId"] not in failed]
            delete_messages(sqs, queue.url, done)
        if not progressed:
            return empty_receives


def measure_pipeline(touchpoints: int, *, batch: int = 1) -> PipelineRun:
    """`touchpoints` of the realistic mix through the ingest API (single calls, or `batch` per
    /v1/batch request) with the bench's five segments defined, and every queue drained.

    A first, unmeasured pass of as many touchpoints makes the known customers exist, so the
    measured pass is the steady state: its first visits make new profiles, its known customers
    come back. What it stored is the items it added."""
    from chalice.test import Client

    from functions.api.app import app as admin_app
    from functions.api.ingest_app import app as ingest_app
    from infra.emulator import function_specs
    from infra.lambda_runtime import LocalFunction, scheduled_event
    from infra.template import resources_of
    from shared import wiring

    with deployed_on_moto() as (template, stack):
        specs = function_specs(template)
        meter = RequestMeter()
        attribution = Attribution(meter)
        admin = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
        tables = {name: stack.resources[name] for name in resources_of(template, "AWS::DynamoDB::Table")}
        with Client(admin_app) as admin_client, captured_output():
            for segment in BENCH_SEGMENTS:
                admin_client.http.post("/segments", headers=admin, body=json.dumps(segment))
        with Client(ingest_app) as client:
            warm = Attribution(RequestMeter())
            _send(client, warm, range(touchpoints), batch)
            _drain(stack, specs, warm)
            before = {item["key"] for item in _stored_items(tables, wiring.get_clock().now())}
            with meter.watching(), attribution.installed():
                _send(client, attribution, range(touchpoints, 2 * touchpoints), batch)
                empty_receives = _drain(stack, specs, attribution)
                # each schedule once, on the tables the run left: what one of its invocations costs
                now = wiring.get_clock().now()
                for spec in specs.values():
                    for schedule in spec.schedules:
                        with attribution.running(f"{SCHEDULED}{spec.logical_id}"):
                            LocalFunction(spec, "us-east-1").invoke(
                                scheduled_event(schedule, spec, at=now, region="us-east-1")
                            )
        stored = [
            item
            for item in _stored_items(tables, wiring.get_clock().now().astimezone(UTC))
            if item["key"] not in before
        ]
        wiring.reset()
    event_source_calls = meter.calls.copy()
    for use in attribution.functions.values():
        event_source_calls.subtract(use.calls)
    event_source_calls["sqs:ReceiveMessage"] -= empty_receives
    attribution.functions[EVENT_SOURCES] = FunctionUse(
        calls=Counter({name: n for name, n in event_source_calls.items() if n > 0})
    )
    return PipelineRun(
        touchpoints=touchpoints,
        functions=attribution.functions,
        meter=meter,
        deliveries=attribution.deliveries,
        metrics=attribution.metrics,
        stored=stored,
        tables=tables,
    )
