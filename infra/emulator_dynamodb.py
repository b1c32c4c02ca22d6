"""DynamoDB items in and out of the emulator as the JSON they already are.

Upstream (moto 5), the DynamoDB handler reads each request by walking the operation's input
shape member by member, and writes each answer by walking the output shape, looking every
member up under several spellings; an attribute value has ten possible members, so an item
costs about twenty lookups per attribute, nested maps included. Reading a customer profile
(a few kilobytes, nested maps) took about 7 ms, two thirds of it in the answer's serializer.

For the item operations, DynamoDB's wire format is plain JSON with nothing to convert except
binary values (base64 on the wire, bytes inside the emulator) and timestamps: requests are read
with `json.loads` unless they hold a binary value (then upstream's parser reads them), and
answers are written with `json.dumps`, bytes as base64 and datetimes as epoch seconds, as the
JSON protocol's serializer writes them; a member that is None is left out, as upstream does.
Errors, and every other operation, take upstream's path.

A query of a table's own key (not an index) reads the items of its partition. Upstream lists
every item of the table, sorts them all and keeps those with the partition key: each query cost
O(table log table), so a campaign's per-message reads (suppressions, the ledger) slowed as its
own rows accumulated. The partition's items are what upstream keeps; it sorts them by the range
key next. A query of an index still looks at every item, but without sorting the whole table
first (upstream sorts what matches by the index's keys, so the order it answers is the same).

`install()` replaces two methods on moto's `DynamoHandler` and two on its `Table`, once per
process.
"""

from __future__ import annotations

import base64
import calendar
import json
import re
import threading
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
_BINARY = re.compile(rb'"BS?"\s*:')

upstream_parse_parameters = DynamoHandler.parse_parameters
upstream_serialized = DynamoHandler.serialized
upstream_query = Table.query
upstream_all_items = Table.all_items
_querying = threading.local()  # the table and partition a query in this thread reads


def _wire_value(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        seconds = calendar.timegm(value.utctimetuple())
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds
    raise TypeError(f"{type(value).__name__} is not a DynamoDB wire value")


def parse_parameters(self: DynamoHandler, request: Any) -> None:
    body = request.data
    if self._get_action() in ITEM_OPERATIONS and body and not _BINARY.search(body):
        self.params = json.loads(body)
        return
    upstream_parse_parameters(self, request)


def serialized(self: DynamoHandler, action_result: Any) -> Any:
    result = action_result.result
    plain = type(action_result) in (ActionResult, DynamoResult)  # not a paginated or custom one
    if not plain or self._get_action() not in ITEM_OPERATIONS or not isinstance(result, dict):
        return upstream_serialized(self, action_result)
    body = json.dumps(
        {key: value for key, value in result.items() if value is not None},
        default=_wire_value,
        separators=(",", ":"),
    )
    headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
    return 200, headers, body


def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    items: list[Any]
    if index_name or hash_key is None:
        # An index query compares every item (the index has no partitions of its own here), but
        # need not sort them first: upstream sorts what matches by the index's keys.
        items = [item for partition in self.items.values() for item in _partition_items(self, partition)]
    else:
        partition = self.items.get(hash_key)  # .get: the defaultdict must not grow a partition
        items = [] if partition is None else _partition_items(self, partition)
    _querying.partition = (self, items)
    try:
        return upstream_query(self, hash_key, *args, **kwargs)
    finally:
        _querying.partition = None


def _partition_items(table: Table, partition: Any) -> list[Any]:
    return list(partition.values()) if table.range_key_attr else [partition]


def all_items(self: Table) -> Any:
    partition = getattr(_querying, "partition", None)
    if partition is not None and partition[0] is self:
        return list(partition[1])
    return upstream_all_items(self)


def install() -> None:
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign,assignment]
    DynamoHandler.serialized = serialized  # type: ignore[method-assign,assignment]
