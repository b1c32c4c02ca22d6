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

`install()` replaces the two methods on moto's `DynamoHandler`, once per process.
"""

from __future__ import annotations

import base64
import calendar
import json
import re
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult
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


def install() -> None:
    DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign,assignment]
    DynamoHandler.serialized = serialized  # type: ignore[method-assign,assignment]
