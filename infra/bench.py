"""`make bench`: what one touchpoint costs.

- AWS requests per touchpoint (API, SQS incl. the event source's receives/deletes, DynamoDB,
  EventBridge), counted at botocore for boto3 and PynamoDB alike, on the template deployed into
  moto; DynamoDB request units computed from item sizes (moto's ReturnConsumedCapacity is wrong);
- our own CPU per touchpoint in the API and the consumer, with in-memory ports so the emulator's
  time is not counted; log bytes written per touchpoint;
- cold-start import time of each function;
- cost per million touchpoints at AWS list prices (us-east-1, on-demand, arm64).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import io
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

# us-east-1 list prices, USD (checked 2026-11).
PRICE = {
    "api_gateway_rest_per_million": 3.50,
    "lambda_requests_per_million": 0.20,
    "lambda_arm_gb_second": 0.0000133334,
    "sqs_requests_per_million": 0.40,
    "dynamodb_wru_per_million": 0.625,
    "dynamodb_rru_per_million": 0.125,
    "eventbridge_events_per_million": 1.00,
    "cloudwatch_logs_ingest_per_gb": 0.50,
}
# Lambda bills wall time; our CPU is measured, AWS round trips are assumed at this latency.
ASSUMED_AWS_CALL_MS = 8.0
CONSUMER_BATCH = 100  # template.yaml: TouchpointsFunction BatchSize


def _value_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return math.ceil(len(str(inner).lstrip("-").replace(".", "")) / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in inner)
    return sum(len(str(v)) for v in inner)  # sets


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (AWS's documented sizing rules)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


# DynamoDB bills an index entry as its keys plus the projected attributes plus 100 bytes. Every
# secondary index of template.yaml is listed here, so its writes are counted.
GSI_KEYS: dict[str, tuple[str, ...]] = {"by_audience": ("audience", "member")}
INDEX_ENTRY_OVERHEAD = 100


def _write_units(item: dict[str, Any]) -> int:
    return math.ceil((item_size(item) or 1) / 1024)


def _read_units(item: dict[str, Any], *, consistent: bool) -> float:
    units = math.ceil((item_size(item) or 1) / 4096)
    return units if consistent else units / 2


class RequestMeter:
    """Counts every AWS API call made through botocore and the DynamoDB request units it uses,
    as DynamoDB bills them: writes per started KB of the item (twice inside a transaction), plus
    one index write per index entry the item creates; reads per started 4 KB of each item returned
    (half for eventually consistent reads). `minimum_write_units` is the physical minimum the
    design aims at: each touchpoint stored once and each profile written once per batch."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.write_units = 0.0
        self.read_units = 0.0
        self.minimum_write_units = 0.0
        self.write_units_by_entity: Counter[str] = Counter()
        self.events = 0
        self.messages = 0

    def _write(self, item: dict[str, Any], *, factor: int = 1) -> None:
        pk = str(item.get("pk", {}).get("S", ""))
        entity = pk.partition("#")[0] or "other"
        base = _write_units(item) * factor
        self.write_units += base
        self.write_units_by_entity[entity] += base
        for index_keys in GSI_KEYS.values():
            if all(key in item for key in index_keys):
                entry = {name: item[name] for name in ("pk", "sk", *index_keys) if name in item}
                index_units = math.ceil((item_size(entry) + INDEX_ENTRY_OVERHEAD) / 1024)
                self.write_units += index_units
                self.write_units_by_entity[f"{entity} index"] += index_units
        is_profile = entity == "PROFILE" and item.get("sk", {}).get("S") == "PROFILE"
        if factor == 1 and (entity == "TOUCHPOINT" or is_profile):
            self.minimum_write_units += _write_units(item)

    def record(self, service: str, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        self.calls[f"{service}:{operation}"] += 1
        if operation == "PutEvents":
            self.events += len(params.get("Entries", []))
        if operation == "SendMessageBatch":
            self.messages += len(params.get("Entries", []))
        if service != "dynamodb":
            return
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            self._write(params.get("Item") or params.get("Key") or {})
        elif operation == "TransactWriteItems":
            for action in params.get("TransactItems", []):
                for body in action.values():
                    self._write(body.get("Item") or body.get("Key") or {}, factor=2)
        elif operation == "GetItem":
            self.read_units += _read_units(
                response.get("Item") or {}, consistent=bool(params.get("ConsistentRead"))
            )
        elif operation == "BatchGetItem":
            for table, items in (response.get("Responses") or {}).items():
                consistent = bool(params["RequestItems"][table].get("ConsistentRead"))
                for item in items:
                    self.read_units += _read_units(item, consistent=consistent)
                missing = len(params["RequestItems"][table]["Keys"]) - len(items)
                self.read_units += missing * (1 if consistent else 0.5)  # a miss still costs a unit
        elif operation == "Query":
            items = response.get("Items") or []
            size = sum(item_size(item) for item in items) or 1
            units = math.ceil(size / 4096)
            self.read_units += units if params.get("ConsistentRead") else units / 2

    @contextlib.contextmanager
    def watching(self) -> Iterator[RequestMeter]:
        from botocore.client import BaseClient
        from botocore.exceptions import ClientError

        original = BaseClient._make_api_call
        meter = self

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            try:
                response = original(client, operation, params)
            except ClientError as error:
                meter.record(service, operation, params, {})  # failed conditions still cost units
                raise error
            meter.record(service, operation, params, response)
            return response

        BaseClient._make_api_call = counted
        try:
            yield self
        finally:
            BaseClient._make_api_call = original


@contextlib.contextmanager
def captured_output() -> Iterator[io.StringIO]:
    """Everything written to stdout, including the Powertools logger (which holds its own stream)."""
    from shared.observability import logger

    buffer = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        with contextlib.redirect_stdout(buffer):
            yield buffer
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]


@contextlib.contextmanager
def _restored(environment: dict[str, str]) -> Iterator[None]:
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environment)


def _replace_factories(**factories: Callable[[], Any]) -> Callable[[], None]:
    """Serve the given dependency factories (in-memory ports, so only our CPU is timed); the
    returned function puts the real ones back. Each name is found in the composition root that
    defines it."""
    import importlib

    roots = [importlib.import_module(f"shared.wiring.{name}") for name in ("ingest", "customers")]
    roots.insert(0, importlib.import_module("shared.wiring"))
    owners = {name: next(root for root in roots if hasattr(root, name)) for name in factories}
    saved = {name: getattr(owners[name], name) for name in factories}
    for name, factory in factories.items():
        setattr(owners[name], name, factory)

    def restore() -> None:
        for name, factory in saved.items():
            setattr(owners[name], name, factory)

    return restore


KNOWN_CUSTOMERS = 200


def _mixed_call(index: int) -> tuple[str, dict[str, Any]]:
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
    return json.dumps(_mixed_call(index)[1])


def _batch_body(start: int, size: int) -> str:
    events = []
    for index in range(start, start + size):
        call_type, body = _mixed_call(index)
        events.append({"type": call_type, **body})
    return json.dumps({"batch": events, "sentAt": "2026-11-24T08:00:02Z"})


def measure_requests(touchpoints: int, *, batch: int = 1) -> dict[str, Any]:
    """The full path on moto: API → queue → consumer (batches of BatchSize) → archive. With
    `batch` > 1 the calls go to /v1/batch, `batch` events per request."""
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from functions.api.app import app
    from functions.touchpoints.handler import lambda_handler as consume
    from infra.emulator import deploy, function_specs
    from infra.lambda_runtime import LambdaContext, sqs_event
    from infra.template import load_template
    from shared import wiring
    from shared.domain.ingest.credentials import secret_digest
    from shared.domain.ingest.touchpoints import Source
    from shared.wiring import ingest as ingest_wiring

    template = load_template()
    saved_environment = dict(os.environ)
    with mock_aws(), _restored(saved_environment):
        stack = deploy(
            template,
            cloudformation=boto3.client("cloudformation"),
            sqs=boto3.client("sqs"),
            stack_name="omnireach-bench",
            parameters={"Stage": "bench", "AdminApiKeySha256": secret_digest("bench")},
        )
        os.environ.update(stack.shared_environment())
        wiring.reset()
        ingest_wiring.get_source_registry().create(
            Source(source_id="web", name="Web"), write_key="wk", signing_secrets=[]
        )
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
                    call_type, body = _mixed_call(index)
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
    from moto import mock_aws

    from functions.api.app import app
    from functions.segments.handler import lambda_handler as segments_consumer
    from functions.segments.recompute import lambda_handler as recompute_part
    from functions.touchpoints.handler import lambda_handler as consume
    from infra.emulator import deploy, function_specs
    from infra.lambda_runtime import LambdaContext, sqs_event
    from infra.template import load_template
    from shared import wiring
    from shared.domain.ingest.credentials import secret_digest
    from shared.domain.ingest.touchpoints import Source
    from shared.wiring import ingest as ingest_wiring
    from shared.wiring import segments as segments_wiring

    template = load_template()
    specs = function_specs(template)
    saved_environment = dict(os.environ)
    with mock_aws(), _restored(saved_environment):
        stack = deploy(
            template,
            cloudformation=boto3.client("cloudformation"),
            sqs=boto3.client("sqs"),
            stack_name="omnireach-bench",
            parameters={"Stage": "bench", "AdminApiKeySha256": secret_digest("bench")},
        )
        os.environ.update(stack.shared_environment())
        wiring.reset()
        ingest_wiring.get_source_registry().create(
            Source(source_id="web", name="Web"), write_key="wk", signing_secrets=[]
        )
        sqs = boto3.client("sqs")
        admin = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
        auth = {
            "Authorization": "Basic " + base64.b64encode(b"wk:").decode(),
            "Content-Type": "application/json",
        }

        def drain(logical_id: str, handler: Callable[..., Any], function: str, *, batch: int) -> int:
            queue, handled = stack.queues[logical_id], 0
            while True:
                received: list[dict[str, Any]] = []
                while len(received) < batch:
                    got = sqs.receive_message(
                        QueueUrl=queue.url, MaxNumberOfMessages=10, AttributeNames=["All"]
                    )
                    if not got.get("Messages"):
                        break
                    received.extend(got["Messages"])
                if not received:
                    return handled
                handler(
                    sqs_event(received, queue_arn=queue.arn, region="us-east-1"),
                    LambdaContext(specs[function], "us-east-1"),
                )
                for start in range(0, len(received), 10):
                    sqs.delete_message_batch(
                        QueueUrl=queue.url,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                            for i, m in enumerate(received[start : start + 10])
                        ],
                    )
                handled += len(received)

        with Client(app) as client, captured_output():
            for segment in BENCH_SEGMENTS:
                client.http.post("/segments", headers=admin, body=json.dumps(segment))
            for index in range(touchpoints):
                call_type, body = _mixed_call(index)
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


def measure_membership(members: int = 200) -> dict[str, Any]:
    """Request units per loyalty operation on moto, the customers table created from template.yaml:
    an order earning points (three per member: the first also opens the account and its expiry
    schedule), a points redemption, a coupon issued, a coupon redeemed at a till."""
    import boto3
    from moto import mock_aws

    from infra.template import load_template
    from shared import wiring
    from shared.clock import SystemClock
    from shared.domain.loyalty.book import LoyaltyBook, earn_for_order
    from shared.domain.loyalty.coupons import CouponCheck, CouponDefinition, Coupons
    from shared.domain.loyalty.ledger import Account, Change, LoyaltyRules, redeem
    from shared.wiring import loyalty as loyalty_wiring

    class CountingPublisher:
        def __init__(self) -> None:
            self.events = 0

        def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
            self.events += 1

        def publish_all(self, events: Any) -> None:
            self.events += len(events)

    properties = load_template()["Resources"]["CustomersTable"]["Properties"]
    saved_environment = dict(os.environ)
    results: dict[str, Any] = {"members": members}
    with mock_aws(), _restored(saved_environment):
        boto3.client("dynamodb").create_table(
            TableName="bench-customers",
            AttributeDefinitions=properties["AttributeDefinitions"],
            KeySchema=properties["KeySchema"],
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=properties["GlobalSecondaryIndexes"],
        )
        os.environ["CUSTOMERS_TABLE"] = "bench-customers"
        wiring.reset()
        store, clock, publisher = loyalty_wiring.get_loyalty_store(), SystemClock(), CountingPublisher()
        coupons = Coupons(store=store, clock=clock)
        book = LoyaltyBook(
            store=store, clock=clock, rules=LoyaltyRules(), publisher=publisher, coupons=coupons
        )
        coupons.create_definition(
            CouponDefinition(
                definition_id="bench-10", name="10 off", discount_type="amount", value=Decimal(10)
            )
        )

        def measured(label: str, count: int, work: Callable[[int], Any]) -> None:
            publisher.events = 0
            with RequestMeter().watching() as meter:
                for index in range(count):
                    work(index)
            results[label] = {
                "dynamodb_wru": meter.write_units / count,
                "dynamodb_rru": meter.read_units / count,
                "eventbridge_events": publisher.events / count,
            }

        def order_event(index: int) -> dict[str, Any]:
            member, number = index % members, index // members
            return {
                "profile_id": f"member-{member}",
                "touchpoint_id": f"tp-{index}",
                "order_id": f"order-{index}",
                "channel": "web",
                "order": {"total": str(100 + number * 50)},
            }

        measured("per_earn", members * 3, lambda i: earn_for_order(book, order_event(i)))

        def points_redemption(index: int) -> None:
            entry_id = f"redeem:b{index}"

            def spend(account: Account) -> Change:
                return redeem(account, entry_id=entry_id, points=50, now=clock.now(), rules=book.rules)

            book.record(f"member-{index}", spend, entry_id=entry_id)

        measured("per_points_redemption", members, points_redemption)
        codes: list[str] = []
        measured(
            "per_coupon_issued",
            members,
            lambda i: codes.append(
                coupons.issue(f"member-{i}", "bench-10", issue_key="bench", reason="bench").code
            ),
        )
        measured(
            "per_coupon_redemption",
            members,
            lambda i: coupons.redeem(
                codes[i], CouponCheck(order_total=Decimal(50), redemption_id=f"till:{i}"), channel="pos"
            ),
        )
    return results


def measure_inventory(operations: int = 100, buckets: int = 8) -> dict[str, Any]:
    """Request units per inventory operation on moto, the catalog table created from template.yaml,
    two channels with endpoints (so each change asks for two pushes): a reservation of one SKU, of a
    3-line cart, of a hot SKU split in `buckets`; its commit; a stock adjustment; an outbound push.
    Then the hot SKU's sustainable reservations per second implied by DynamoDB's 1,000 WCU/s per
    item: `buckets` x 1,000 / (write units each reservation spends on counter items)."""
    import boto3
    from moto import mock_aws

    from infra.template import load_template
    from shared import wiring
    from shared.clock import SystemClock
    from shared.domain.commerce.channel_sync import ChannelSync, SyncFanOut
    from shared.domain.commerce.inventory import Inventory
    from shared.domain.commerce.pricing import PriceEntry
    from shared.domain.commerce.sales_channels import Location, RegistryDirectory, SalesChannel
    from shared.domain.commerce.stock import ReservationRequest
    from shared.wiring import commerce as commerce_wiring

    class AcceptingEndpoints:
        def push(self, channel: Any, message_id: str, payload: Any, *, now: Any) -> None:
            return None

        def read(self, channel: Any, skus: Any) -> dict[str, Any]:
            return {}

    properties = load_template()["Resources"]["CatalogTable"]["Properties"]
    saved_environment = dict(os.environ)
    results: dict[str, Any] = {"operations": operations, "hot_sku_buckets": buckets}
    with mock_aws(), _restored(saved_environment):
        boto3.client("dynamodb").create_table(
            TableName="bench-catalog",
            AttributeDefinitions=properties["AttributeDefinitions"],
            KeySchema=properties["KeySchema"],
            BillingMode="PAY_PER_REQUEST",
        )
        queue_url = boto3.client("sqs").create_queue(QueueName="bench-sync")["QueueUrl"]
        os.environ.update(CATALOG_TABLE="bench-catalog", CHANNEL_SYNC_QUEUE_URL=queue_url)
        wiring.reset()
        catalog, clock = commerce_wiring.get_catalog(), SystemClock()
        catalog.save_location(Location(location_id="dc", name="DC", kind="warehouse"))
        for channel_id in ("web", "tmall"):
            catalog.save_channel(
                SalesChannel(
                    channel_id=channel_id,
                    name=channel_id,
                    kind="web",
                    locations=["dc"],
                    endpoint_url="https://example.invalid/push",
                    signing_secret="whsec_YmVuY2g=",  # noqa: S106 (a bench channel)
                )
            )
        fan_out = SyncFanOut(registry=catalog, requests=commerce_wiring.get_sync_requests())
        inventory = Inventory(
            stock=catalog,
            reservations=catalog,
            directory=RegistryDirectory(catalog),
            clock=clock,
            listener=fan_out,
        )
        skus = ["ONE", "CART-A", "CART-B", "CART-C", "HOT"]
        for sku in skus:
            inventory.configure(
                sku, "dc", safety_stock=None, incoming=None, buckets=buckets if sku == "HOT" else 1
            )
            inventory.adjust(sku, "dc", 100_000, op_id=f"stock-{sku}", reason="received", source="bench")
            catalog.save_entry(PriceEntry(sku=sku, base=Decimal("10.00")))
        catalog.channels(), catalog.settings("ONE", "dc")  # warm the caches, as a running function has them

        def measured(label: str, work: Callable[[int], Any]) -> dict[str, float]:
            with RequestMeter().watching() as meter:
                for index in range(operations):
                    work(index)
            figures = {
                "dynamodb_wru": meter.write_units / operations,
                "dynamodb_rru": meter.read_units / operations,
                "counter_item_wru": sum(
                    units for entity, units in meter.write_units_by_entity.items() if entity == "STOCK"
                )
                / operations,
                "sync_requests_queued": meter.messages / operations,
                "sqs_requests": sum(v for k, v in meter.calls.items() if k.startswith("sqs:")) / operations,
            }
            results[label] = figures
            return figures

        held: dict[str, list[str]] = {"ONE": []}

        def reserve(label: str, lines: list[tuple[str, int]]) -> Callable[[int], Any]:
            def work(index: int) -> None:
                request = ReservationRequest(
                    request_id=f"{label}-{index}",
                    channel_id="web",
                    lines=[{"sku": sku, "quantity": quantity} for sku, quantity in lines],
                )
                reservation, _ = inventory.reserve(request)
                held.setdefault(label, []).append(reservation.reservation_id)

            return work

        measured("per_reservation", reserve("ONE", [("ONE", 1)]))
        measured("per_reservation_3_lines", reserve("CART", [("CART-A", 1), ("CART-B", 2), ("CART-C", 1)]))
        hot = measured("per_reservation_hot_sku", reserve("HOT", [("HOT", 1)]))
        measured("per_commit", lambda i: inventory.commit(held["ONE"][i], order_id=f"order-{i}"))
        measured("per_release", lambda i: inventory.release(held["CART"][i]))
        measured(
            "per_stock_adjustment",
            lambda i: inventory.adjust("ONE", "dc", 5, op_id=f"adj-{i}", reason="received", source="bench"),
        )
        sync = ChannelSync(
            registry=catalog,
            inventory=inventory,
            prices=catalog,
            store=catalog,
            endpoints=AcceptingEndpoints(),
            requests=commerce_wiring.get_sync_requests(),
            clock=clock,
        )
        measured("per_push", lambda i: sync.push("web", "ONE", force=True))
        results["hot_sku_reservations_per_second"] = {
            "counter_writes_per_reservation": hot["counter_item_wru"],
            "one_item_wcu_per_second": 1000,
            "buckets": buckets,
            "sustainable": buckets * 1000 / hot["counter_item_wru"],
            "one_counter": 1000 / results["per_reservation"]["counter_item_wru"],
        }
    return results


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
    `messages` consented customers, each message decided (consent, caps, quiet hours, variant,
    render) and sent once through a recording sender; the emulator's CPU is left out by timing
    what is spent inside botocore calls."""
    import boto3
    from moto import mock_aws

    from infra.template import load_template
    from shared import wiring
    from shared.clock import SystemClock
    from shared.domain.engagement.models import CampaignChange, DispatchTask
    from shared.wiring import engagement as engagement_wiring

    class Accepting:
        idempotent = False

        def send(self, message: Any) -> str:
            return "ok"

    resources = load_template()["Resources"]
    saved_environment = dict(os.environ)
    results: dict[str, Any] = {"messages": messages}
    with mock_aws(), _restored(saved_environment):
        dynamodb = boto3.client("dynamodb")
        for logical_id, name in (
            ("CustomersTable", "bench-customers"),
            ("EngagementTable", "bench-engagement"),
        ):
            properties = resources[logical_id]["Properties"]
            extra = (
                {"GlobalSecondaryIndexes": properties["GlobalSecondaryIndexes"]}
                if "GlobalSecondaryIndexes" in properties
                else {}
            )
            dynamodb.create_table(
                TableName=name,
                AttributeDefinitions=properties["AttributeDefinitions"],
                KeySchema=properties["KeySchema"],
                BillingMode="PAY_PER_REQUEST",
                **extra,
            )
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
            change = CampaignChange.model_validate(
                {
                    "name": "Bench",
                    "segment_id": "bench-all",
                    "channels": ["email"],
                    "variants": [
                        {
                            "variant_id": "v",
                            "content": {"email": {"subject": "Hi", "body": "Hi {{ first_name }}"}},
                        }
                    ],
                }
            )
            service = engagement_wiring.get_campaign_service()
            service.create("bench", change)
            service.launch("bench")  # pages the audience onto the queue; the loop below plays the worker
            dispatcher = engagement_wiring.get_dispatcher()
            from botocore.client import BaseClient

            inside = [0.0]
            with RequestMeter().watching() as meter:
                counting = BaseClient._make_api_call

                def timed(client: Any, operation: str, params: dict[str, Any]) -> Any:
                    started = time.process_time()
                    try:
                        return counting(client, operation, params)
                    finally:
                        inside[0] += time.process_time() - started

                BaseClient._make_api_call = timed
                started = time.process_time()
                try:
                    for person in people:
                        task = DispatchTask(
                            program_id="bench", run_key="r1", profile_id=person.profile_id, planned_at=now
                        )
                        dispatcher.dispatch(task)
                finally:
                    ours = time.process_time() - started
                    BaseClient._make_api_call = counting
            rows = list(engagement.rows("bench"))
            results["per_message"] = {
                "dynamodb_wru": meter.write_units / messages,
                "dynamodb_rru": meter.read_units / messages,
                "handler_cpu_ms": (ours - inside[0]) * 1000 / messages,
            }
            results["outcomes"] = dict(Counter(row.status for row in rows))
        finally:
            engagement_wiring.use_senders({})
    return results


def measure_local_campaign(size: int = 10_000) -> dict[str, Any]:
    """The local stack (embedded emulator, every trigger running) dispatching one campaign to
    `size` consented customers: seconds from launch until the report shows every one of them
    with an outcome. The audience is written straight into the emulator's tables first."""
    import socket
    import urllib.request

    from infra.local_stack import LocalStack, Options

    def free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    saved_environment = dict(os.environ)
    options = Options(api_port=free_port(), emulator_port=free_port(), stage="bench")
    stack = LocalStack(options, report=lambda record: None)
    with _restored(saved_environment), captured_output():
        stack.start()
        try:
            from shared import wiring
            from shared.clock import SystemClock
            from shared.wiring import engagement as engagement_wiring

            now = SystemClock().now()
            wiring.reset()
            seeding = time.monotonic()
            _seed_audience(_bench_people(size, now), "bench-all", now)
            seeded = time.monotonic() - seeding

            def call(method: str, path: str, body: Any = None) -> Any:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{options.api_port}{path}",
                    data=json.dumps(body).encode() if body is not None else None,
                    method=method,
                    headers={
                        "Authorization": f"Bearer {options.admin_key}",
                        "Content-Type": "application/json",
                    },
                )
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                    return json.loads(response.read())

            call("PUT", "/frequency-policy", {"quiet_hours": None})
            call(
                "POST",
                "/campaigns",
                {
                    "campaign_id": "bench-10k",
                    "name": "Bench",
                    "segment_id": "bench-all",
                    "channels": ["email"],
                    "variants": [
                        {
                            "variant_id": "v",
                            "content": {"email": {"subject": "Hi", "body": "Hi {{ first_name }}"}},
                        }
                    ],
                },
            )
            started = time.monotonic()
            call("POST", "/campaigns/bench-10k/launch")
            # Progress is counted cheaply (rows with an outcome, per ledger shard, Select=COUNT); the
            # report, which reads every row, is asked for once at the end.
            from shared.domain.engagement.models import LEDGER_SHARDS

            engagement = engagement_wiring.get_engagement()
            while time.monotonic() - started < 3600:
                done = sum(
                    engagement.count_final_rows("bench-10k", shard=shard) for shard in range(LEDGER_SHARDS)
                )
                if done >= size:
                    break
                time.sleep(30)  # each count reads the ledger: rarely, or it slows the emulator down
            elapsed = time.monotonic() - started
            report = call("GET", "/campaigns/bench-10k/report")
            return {
                "size": size,
                "seed_seconds": round(seeded, 1),
                "dispatch_seconds": round(elapsed, 1),
                "outcomes": report.get("outcomes"),
                "complete": report.get("complete"),
            }
        finally:
            stack.stop()


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
    restore = _replace_factories(
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
                    call_type, body = _mixed_call(index)
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
    restore = _replace_factories(
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


def measure_cold_starts(runs: int = 3) -> dict[str, float]:
    from infra.template import functions, load_template

    results = {}
    for spec in functions(load_template()):
        module = spec.handler.rpartition(".")[0]
        code = (
            "import time; t = time.perf_counter(); import importlib; "
            f"importlib.import_module({module!r}); print(time.perf_counter() - t)"
        )
        samples = [
            float(
                subprocess.run(
                    [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
                ).stdout
            )
            for _ in range(runs)
        ]
        results[spec.logical_id] = statistics.median(samples) * 1000
    return results


def cost_per_million(
    requests: dict[str, Any], cpu: dict[str, float], *, api_cpu_ms_per_touchpoint: float | None = None
) -> dict[str, float]:
    sends = requests["calls_per_touchpoint"].get("sqs:SendMessageBatch", 0)
    reads = requests["calls_per_touchpoint"].get("dynamodb:GetItem", 0)
    api_cpu = cpu["api_cpu_ms"] if api_cpu_ms_per_touchpoint is None else api_cpu_ms_per_touchpoint
    api_ms = api_cpu + ASSUMED_AWS_CALL_MS * (sends + reads)
    consumer_calls = sum(
        count
        for name, count in requests["calls_per_touchpoint"].items()
        if name.startswith(("dynamodb:", "events:")) and name != "dynamodb:GetItem"
    )
    consumer_ms = cpu["consumer_cpu_ms"] + ASSUMED_AWS_CALL_MS * consumer_calls
    gb = 512 / 1024
    lines = {
        "api_gateway": PRICE["api_gateway_rest_per_million"] * requests["api_requests_per_touchpoint"],
        "lambda_requests": PRICE["lambda_requests_per_million"]
        * (requests["api_requests_per_touchpoint"] + requests["consumer_invocations_per_touchpoint"]),
        "lambda_duration": 1e6 * (api_ms + consumer_ms) / 1000 * gb * PRICE["lambda_arm_gb_second"],
        "sqs": PRICE["sqs_requests_per_million"] * requests["sqs_requests_per_touchpoint"],
        "dynamodb_writes": PRICE["dynamodb_wru_per_million"] * requests["dynamodb_wru_per_touchpoint"],
        "dynamodb_reads": PRICE["dynamodb_rru_per_million"] * requests["dynamodb_rru_per_touchpoint"],
        "eventbridge": PRICE["eventbridge_events_per_million"]
        * requests["eventbridge_events_per_touchpoint"],
        "logs": PRICE["cloudwatch_logs_ingest_per_gb"]
        * 1e6
        * (cpu["api_log_bytes"] + cpu["consumer_log_bytes"])
        / 1e9,
    }
    lines["total"] = sum(lines.values())
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench ARGS=...", description=__doc__.split("\n\n")[0])
    parser.add_argument("--touchpoints", type=int, default=1000, help="touchpoints per measurement")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--campaign-size", type=int, default=10_000, help="customers in the local-stack campaign (0: skip it)"
    )
    args = parser.parse_args(argv)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 (moto takes any credentials)
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="omnireach",
        POWERTOOLS_METRICS_NAMESPACE="Omnireach",
        POWERTOOLS_TRACE_DISABLED="true",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    requests = measure_requests(args.touchpoints)
    batched = measure_requests(args.touchpoints, batch=100)
    cpu = measure_cpu(args.touchpoints)
    batches = measure_batches()
    cold = measure_cold_starts()
    segments = measure_segments(args.touchpoints)
    membership = measure_membership()
    inventory = measure_inventory()
    campaigns = measure_campaigns()
    local_campaign = measure_local_campaign(args.campaign_size) if args.campaign_size else None
    cost = cost_per_million(requests, cpu)
    batched_cost = cost_per_million(batched, cpu, api_cpu_ms_per_touchpoint=batches["api_cpu_ms_per_event"])
    live = segments["live_per_touchpoint"]
    segments_usd = (
        PRICE["dynamodb_wru_per_million"] * live["dynamodb_wru"]
        + PRICE["dynamodb_rru_per_million"] * live["dynamodb_rru"]
        + PRICE["eventbridge_events_per_million"] * live["eventbridge_events"]
        + PRICE["sqs_requests_per_million"] * live["sqs_requests"]
    )
    for table in (cost, batched_cost):
        table["segments_live"] = segments_usd
        table["total"] += segments_usd
    figures = {
        "touchpoints": args.touchpoints,
        "requests": requests,
        "requests_batched_100": batched,
        "batches": batches,
        "usd_per_million_touchpoints_batched_100": batched_cost,
        "cpu": cpu,
        "cold_start_ms": cold,
        "segments": segments,
        "membership": membership,
        "inventory": inventory,
        "campaigns": campaigns,
        "local_campaign": local_campaign,
        "usd_per_million_touchpoints": cost,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    mix = "30 % first visits, 55 % known customers browsing, 15 % orders"
    print(f"Omnireach bench: {args.touchpoints} Segment calls ({mix})")
    print("through API -> queue -> consumer (identity, profile, events) -> archive\n")
    print("AWS requests per touchpoint")
    for name, value in requests["calls_per_touchpoint"].items():
        print(f"  {name:34} {value:8.3f}")
    print(f"  {'DynamoDB write request units':34} {requests['dynamodb_wru_per_touchpoint']:8.3f}")
    for entity, units in requests["dynamodb_wru_by_entity_per_touchpoint"].items():
        print(f"    {entity:32} {units:8.3f}")
    minimum = requests["dynamodb_minimum_wru_per_touchpoint"]
    print(f"  {'  minimum (store once + profile once)':34} {minimum:8.3f}")
    print(f"  {'  actual / minimum':34} {requests['dynamodb_wru_over_minimum']:8.3f}")
    print(f"  {'DynamoDB read request units':34} {requests['dynamodb_rru_per_touchpoint']:8.3f}")
    print(f"  {'SQS requests (incl. event source)':34} {requests['sqs_requests_per_touchpoint']:8.3f}")
    print(f"  {'EventBridge events':34} {requests['eventbridge_events_per_touchpoint']:8.3f}")
    print(f"\nSegments ({segments['segments']} defined; {segments['profiles']} profiles)")
    for label, key in (
        ("kept live, per touchpoint", "live_per_touchpoint"),
        ("nightly recompute, per 10k profiles", "recompute_per_10k_profiles"),
        ("a new segment all join, per 10k", "new_segment_everyone_joins_per_10k_profiles"),
        ("audience read, per 1k members", "audience_per_1k_members"),
    ):
        figures_line = segments[key]
        print(
            f"  {label:38} WRU {figures_line['dynamodb_wru']:9.2f}  RRU {figures_line['dynamodb_rru']:9.2f}"
            f"  events {figures_line['eventbridge_events']:7.2f}  SQS {figures_line['sqs_requests']:7.2f}"
        )
    print(f"\nMembership ({membership['members']} members; request units per operation)")
    for label, key in (
        ("an order earning points", "per_earn"),
        ("a points redemption", "per_points_redemption"),
        ("a coupon issued", "per_coupon_issued"),
        ("a coupon redeemed at a till", "per_coupon_redemption"),
    ):
        line = membership[key]
        print(
            f"  {label:38} WRU {line['dynamodb_wru']:9.2f}  RRU {line['dynamodb_rru']:9.2f}"
            f"  events {line['eventbridge_events']:7.2f}"
        )
    print(
        f"\nInventory ({inventory['operations']} each; 2 channels with endpoints;"
        " request units per operation)"
    )
    for label, key in (
        ("a reservation, 1 SKU", "per_reservation"),
        ("a reservation, 3-line cart", "per_reservation_3_lines"),
        (f"a reservation, hot SKU in {inventory['hot_sku_buckets']} buckets", "per_reservation_hot_sku"),
        ("a commit (order placed)", "per_commit"),
        ("a release", "per_release"),
        ("a stock adjustment", "per_stock_adjustment"),
        ("an outbound push", "per_push"),
    ):
        line = inventory[key]
        print(
            f"  {label:38} WRU {line['dynamodb_wru']:9.2f}  RRU {line['dynamodb_rru']:9.2f}"
            f"  pushes asked {line['sync_requests_queued']:5.2f}  SQS {line['sqs_requests']:5.2f}"
        )
    hot = inventory["hot_sku_reservations_per_second"]
    print(
        f"  {'hot SKU reservations/s (per-item limit)':38} {hot['sustainable']:9.0f}"
        f"  ({hot['buckets']} buckets x 1000 WCU/s"
        f" / {hot['counter_writes_per_reservation']:.1f} counter writes;"
        f" one counter: {hot['one_counter']:.0f}/s)"
    )
    line = campaigns["per_message"]
    print(f"\nCampaigns ({campaigns['messages']} messages on moto; per dispatched message)")
    print(
        f"  {'a message decided and sent':38} WRU {line['dynamodb_wru']:9.2f}"
        f"  RRU {line['dynamodb_rru']:9.2f}"
        f"  handler CPU {line['handler_cpu_ms']:.2f} ms"
    )
    if local_campaign:
        print(
            f"  {'local stack, launch to every outcome':38} {local_campaign['dispatch_seconds']:9.1f} s"
            f"  for {local_campaign['size']} customers ({local_campaign['outcomes']})"
        )
    print("\nOur CPU per touchpoint (in-memory ports; emulator excluded)")
    print(f"  {'API function':34} {cpu['api_cpu_ms']:8.3f} ms   logs {cpu['api_log_bytes']:6.0f} B")
    consumer = f"  {'touchpoint consumer':34} {cpu['consumer_cpu_ms']:8.3f} ms"
    print(f"{consumer}   logs {cpu['consumer_log_bytes']:6.0f} B")
    print("\nCold-start import time (median of 3)")
    for name, ms in cold.items():
        print(f"  {name:34} {ms:8.1f} ms")
    print("\nIngest batches (/v1/batch, in-memory ports)")
    print(f"  {'API CPU per request (100 events)':34} {batches['api_cpu_ms_per_request']:8.3f} ms")
    print(f"  {'API CPU per event':34} {batches['api_cpu_ms_per_event']:8.3f} ms")
    sqs_per_touchpoint = batched["sqs_requests_per_touchpoint"]
    print(f"  {'SQS requests per touchpoint':34} {sqs_per_touchpoint:8.3f}   (batches of 100)")
    largest = f"{batches['max_events_accepted']} events, {batches['max_bytes_accepted']} B"
    print(f"  {'max accepted batch':34} {largest}")
    print(f"  {'over the limits':34} {batches['over_max_events']} / {batches['over_max_bytes']}")
    assumption = f"AWS calls assumed {ASSUMED_AWS_CALL_MS:g} ms each"
    print(f"\nUSD per million touchpoints (us-east-1 list prices; {assumption})")
    print(f"  {'':34} {'single calls':>12} {'batches of 100':>15}")
    for name, usd in cost.items():
        single = Decimal(usd).quantize(Decimal("0.0001"))
        batch = Decimal(batched_cost[name]).quantize(Decimal("0.0001"))
        print(f"  {name:34} {single:>12} {batch:>15}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
