"""Counting what a run costs: every AWS request at botocore (boto3 and PynamoDB alike), DynamoDB
request units computed from item sizes (moto's ReturnConsumedCapacity is wrong), and the harness
that swaps in in-memory ports so only our own CPU is timed. The list prices are in `cost`."""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

CONSUMER_BATCH = 100  # template.yaml: TouchpointsFunction BatchSize
BACKEND_WRITE_KEY = "bk"  # the bench's server-side source (its orders are real)


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
GSI_KEYS: dict[str, tuple[str, ...]] = {
    "by_audience": ("audience", "member"),
    "by_waiting_step": ("waiting_in", "waiting_step"),
    "by_tally": ("pk", "tally"),
}


INDEX_ENTRY_OVERHEAD = 100

# SQS and EventBridge bill each 64 KB chunk of a payload as one request or event.
BILLED_CHUNK_BYTES = 64 * 1024
# SQS requests beyond one per call, for payloads larger than a chunk (a pseudo-call of its own,
# so the cost model prices it with the other SQS requests and waits for no round trip).
SQS_EXTRA_CHUNKS = "sqs:extra 64 KB chunks"


def billed_chunks(size: int) -> int:
    return max(1, math.ceil(size / BILLED_CHUNK_BYTES))


def event_size(entry: dict[str, Any]) -> int:
    """A PutEvents entry's size as EventBridge counts it (source, detail-type, detail, resources)."""
    return sum(len(str(entry.get(name, "")).encode()) for name in ("Source", "DetailType", "Detail")) + sum(
        len(str(resource).encode()) for resource in entry.get("Resources", [])
    )


def _sqs_payload(operation: str, params: dict[str, Any], response: dict[str, Any]) -> int:
    if operation == "SendMessage":
        return len(str(params.get("MessageBody", "")).encode())
    if operation == "SendMessageBatch":
        return sum(len(str(entry.get("MessageBody", "")).encode()) for entry in params.get("Entries", []))
    if operation == "ReceiveMessage":
        return sum(len(str(message.get("Body", "")).encode()) for message in response.get("Messages", []))
    return 0


def _write_units(item: dict[str, Any]) -> int:
    return math.ceil((item_size(item) or 1) / 1024)


def _read_units(item: dict[str, Any], *, consistent: bool) -> float:
    units = math.ceil((item_size(item) or 1) / 4096)
    return units if consistent else units / 2


class RequestMeter:
    """Counts every AWS API call made through botocore and the DynamoDB request units it uses,
    as DynamoDB bills them: writes per started KB of the item (twice inside a transaction), plus
    one index write per index entry the item creates; reads per started 4 KB of each item returned
    (half for eventually consistent reads)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.write_units = 0.0
        self.read_units = 0.0
        self.write_units_by_entity: Counter[str] = Counter()
        self.write_units_by_table: dict[str, float] = {}  # the tables' physical names
        self.read_units_by_table: dict[str, float] = {}
        self.events = 0
        self.messages = 0

    def _write(self, table: str, item: dict[str, Any], *, factor: int = 1) -> None:
        pk = str(item.get("pk", {}).get("S", ""))
        entity = pk.partition("#")[0] or "other"
        base = _write_units(item) * factor
        before = self.write_units
        self.write_units += base
        self.write_units_by_entity[entity] += base
        for index_keys in GSI_KEYS.values():
            if all(key in item for key in index_keys):
                entry = {name: item[name] for name in ("pk", "sk", *index_keys) if name in item}
                index_units = math.ceil((item_size(entry) + INDEX_ENTRY_OVERHEAD) / 1024)
                self.write_units += index_units
                self.write_units_by_entity[f"{entity} index"] += index_units
        self.write_units_by_table[table] = (
            self.write_units_by_table.get(table, 0.0) + self.write_units - before
        )

    def _read(self, table: str, units: float) -> None:
        self.read_units += units
        self.read_units_by_table[table] = self.read_units_by_table.get(table, 0.0) + units

    def record(self, service: str, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        self.calls[f"{service}:{operation}"] += 1
        if operation == "PutEvents":
            self.events += sum(billed_chunks(event_size(entry)) for entry in params.get("Entries", []))
        if service == "sqs":
            extra = billed_chunks(_sqs_payload(operation, params, response)) - 1
            if extra:
                self.calls[SQS_EXTRA_CHUNKS] += extra
        if operation == "SendMessageBatch":
            self.messages += len(params.get("Entries", []))
        if service != "dynamodb":
            return
        table = str(params.get("TableName", ""))
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            self._write(table, params.get("Item") or params.get("Key") or {})
        elif operation == "TransactWriteItems":
            for action in params.get("TransactItems", []):
                for body in action.values():
                    self._write(
                        body.get("TableName", ""), body.get("Item") or body.get("Key") or {}, factor=2
                    )
        elif operation == "BatchWriteItem":
            for name, requests in (params.get("RequestItems") or {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        self._write(name, request["PutRequest"]["Item"])
                    elif "DeleteRequest" in request:
                        self._write(name, request["DeleteRequest"]["Key"])
        elif operation == "GetItem":
            self._read(
                table, _read_units(response.get("Item") or {}, consistent=bool(params.get("ConsistentRead")))
            )
        elif operation == "BatchGetItem":
            for name, items in (response.get("Responses") or {}).items():
                consistent = bool(params["RequestItems"][name].get("ConsistentRead"))
                for item in items:
                    self._read(name, _read_units(item, consistent=consistent))
                missing = len(params["RequestItems"][name]["Keys"]) - len(items)
                self._read(name, missing * (1 if consistent else 0.5))  # a miss still costs a unit
        elif operation == "Query":
            items = response.get("Items") or []
            size = sum(item_size(item) for item in items) or 1
            units = math.ceil(size / 4096)
            self._read(table, units if params.get("ConsistentRead") else units / 2)

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


class OwnCpu:
    """Our CPU time in a block, less what was spent inside AWS calls (the emulator's, here)."""

    def __init__(self) -> None:
        self.ms = 0.0

    @contextlib.contextmanager
    def measuring(self) -> Iterator[OwnCpu]:
        from botocore.client import BaseClient

        inside = [0.0]
        original = BaseClient._make_api_call

        def timed(client: Any, operation: str, params: dict[str, Any]) -> Any:
            started = time.process_time()
            try:
                return original(client, operation, params)
            finally:
                inside[0] += time.process_time() - started

        BaseClient._make_api_call = timed
        started = time.process_time()
        try:
            yield self
        finally:
            self.ms = (time.process_time() - started - inside[0]) * 1000
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
def restored(environment: dict[str, str]) -> Iterator[None]:
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environment)


def replace_factories(**factories: Callable[[], Any]) -> Callable[[], None]:
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


def create_tables(tables: dict[str, str]) -> None:
    """Create `{logical id: name}` tables under the active mock, with the keys and indexes that
    template.yaml declares for them."""
    import boto3

    from infra.template import load_template

    resources = load_template()["Resources"]
    dynamodb = boto3.client("dynamodb")
    for logical_id, name in tables.items():
        properties = resources[logical_id]["Properties"]
        indexes = properties.get("GlobalSecondaryIndexes")
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=properties["AttributeDefinitions"],
            KeySchema=properties["KeySchema"],
            BillingMode="PAY_PER_REQUEST",
            **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
        )


@contextlib.contextmanager
def deployed_on_moto() -> Iterator[tuple[dict[str, Any], Any]]:
    """template.yaml deployed into moto with its functions' environment set, the `web` source
    (write key `wk`, a browser's) and `web-backend` (BACKEND_WRITE_KEY, server-side); yields the
    template and the deployed stack. The environment is put back after."""
    import boto3
    from moto import mock_aws

    from infra.emulator import deploy
    from infra.template import load_template
    from shared import wiring
    from shared.domain.ingest.credentials import secret_digest
    from shared.domain.ingest.touchpoints import Source, SourceTrust
    from shared.wiring import ingest as ingest_wiring

    template = load_template()
    with mock_aws(), restored(dict(os.environ)):
        stack = deploy(
            template,
            cloudformation=boto3.client("cloudformation"),
            sqs=boto3.client("sqs"),
            stack_name="omnireach-bench",
            parameters={"Stage": "bench", "AdminApiKeySha256": secret_digest("bench")},
        )
        os.environ.update(stack.shared_environment())
        wiring.reset()
        registry = ingest_wiring.get_source_registry()
        registry.create(Source(source_id="web", name="Web"), write_key="wk", signing_secrets=[])
        # the shop's backend: its orders are real (they earn points, move stock, attribute)
        backend = Source(source_id="web-backend", name="Web shop backend", trust=SourceTrust.SERVER)
        registry.create(backend, write_key=BACKEND_WRITE_KEY, signing_secrets=[])
        yield template, stack


def receive_up_to(sqs: Any, queue_url: str, count: int) -> list[dict[str, Any]]:
    """Up to `count` messages, ten per receive, as an event source gathers a batch (fewer when
    the queue runs dry)."""
    received: list[dict[str, Any]] = []
    while len(received) < count:
        got = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, count - len(received)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        if not got.get("Messages"):
            break
        received.extend(got["Messages"])
    return received
