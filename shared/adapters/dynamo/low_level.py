"""A table through the low-level DynamoDB client: the plumbing the catalog and engagement tables
share (marshalling, errors as domain errors, paged queries, a small per-process cache)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client as aws_client
from shared.domain.kernel.errors import DependencyUnavailableError

T = TypeVar("T")
_serializer, _deserializer = TypeSerializer(), TypeDeserializer()
BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25


def dump(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in item.items() if value is not None}


def load(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def condition_failed(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class LowLevelTable:
    name = "table"

    def __init__(
        self,
        table_name: str,
        *,
        client: Any = None,
        cache_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table_name
        self._client = client or aws_client("dynamodb")
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}

    # ------------------------------------------------------------ plumbing
    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(TableName=self._table, **kwargs)
        except ClientError as error:
            if condition_failed(error):
                raise
            raise DependencyUnavailableError(
                f"The {self.name} table did not answer",
                details={"cause": error.response.get("Error", {}).get("Code")},
            ) from error
        except BotoCoreError as error:
            raise DependencyUnavailableError(
                f"The {self.name} table did not answer", details={"cause": str(error)}
            ) from error

    def _get(self, pk: str, sk: str, *, consistent: bool = True) -> dict[str, Any] | None:
        found = self._call("get_item", Key=dump({"pk": pk, "sk": sk}), ConsistentRead=consistent).get("Item")
        return load(found) if found else None

    def _put(
        self,
        item: dict[str, Any],
        *,
        condition: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        kwargs: dict[str, Any] = {"Item": dump(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if values:
            kwargs["ExpressionAttributeValues"] = dump(values)
        try:
            self._call("put_item", **kwargs)
        except ClientError:
            return False
        return True

    def _delete(self, pk: str, sk: str) -> None:
        self._call("delete_item", Key=dump({"pk": pk, "sk": sk}))

    def _query(
        self,
        pk: str,
        *,
        start: str | None = None,
        end: str | None = None,
        after: dict[str, Any] | None = None,
        limit: int | None = None,
        forward: bool = True,
        consistent: bool = False,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        condition, values = "pk = :pk", {":pk": pk}
        if start is not None and end is not None:
            condition += " AND sk BETWEEN :start AND :end"
            values |= {":start": start, ":end": end}
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": dump(values),
            "ScanIndexForward": forward,
            "ConsistentRead": consistent,
        }
        if after:
            kwargs["ExclusiveStartKey"] = dump(after)
        if limit:
            kwargs["Limit"] = limit
        response = self._call("query", **kwargs)
        last = response.get("LastEvaluatedKey")
        return [load(item) for item in response.get("Items", [])], (load(last) if last else None)

    def _query_all(self, pk: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after = None
        while True:
            page, after = self._query(pk, after=after, **kwargs)
            items += page
            if after is None:
                return items

    def _batch_get(self, keys: list[dict[str, str]], *, consistent: bool = False) -> list[dict[str, Any]]:
        """The items that exist among `keys`, 100 a request, unprocessed keys asked again."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": [dump(key) for key in keys[start : start + BATCH_GET_LIMIT]],
                    "ConsistentRead": consistent,
                }
            }
            while pending:
                response = self._call_batch("batch_get_item", pending)
                found += [load(item) for item in response.get("Responses", {}).get(self._table, [])]
                pending = response.get("UnprocessedKeys") or {}
        return found

    def _batch_put(self, items: list[dict[str, Any]]) -> None:
        """Plain puts, 25 a request, unprocessed items sent again."""
        for start in range(0, len(items), BATCH_WRITE_LIMIT):
            pending: dict[str, Any] = {
                self._table: [
                    {"PutRequest": {"Item": dump(item)}} for item in items[start : start + BATCH_WRITE_LIMIT]
                ]
            }
            while pending:
                pending = self._call_batch("batch_write_item", pending).get("UnprocessedItems") or {}

    def _call_batch(self, operation: str, request: dict[str, Any]) -> Any:
        try:
            return getattr(self._client, operation)(RequestItems=request)
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailableError(f"The {self.name} table did not answer") from error

    def _cached(self, key: tuple[str, str], load: Callable[[], T]) -> T:
        now = self._monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]  # type: ignore[no-any-return]
        value = load()
        self._cache[key] = (now, value)
        return value

    def forget(self) -> None:
        self._cache.clear()

    # ------------------------------------------------------------ time indexes
    # Items due at a moment, in one partition per UTC day (`<prefix>#<day>`) sorted by minute:
    # a sweep reads the days from its cursor to today, each up to now, so it never skips an item
    # however long it did not run, and a day's partition takes far fewer writes per second than
    # DynamoDB allows one key.
    def start_cursor(self, cursor: str, moment: datetime) -> None:
        """Before the first item of an index is written: its sweep starts no later than that item's
        day (once per process; a cursor that exists is left where it is)."""
        if ("cursor", cursor) in self._cache:
            return
        self._put({"pk": "CURSOR", "sk": cursor, "day": day(moment)}, condition="attribute_not_exists(pk)")
        self._cache[("cursor", cursor)] = (float("inf"), True)

    def put_due(self, prefix: str, at: datetime, item_id: str, **attributes: Any) -> str:
        self.start_cursor(prefix, at)
        pk, sk = f"{prefix}#{day(at)}", f"{minute(at)}|{item_id}"
        self._put({"pk": pk, "sk": sk, **attributes})
        return f"{pk}\t{sk}"

    @staticmethod
    def due_handle(prefix: str, at: datetime, item_id: str) -> str:
        return f"{prefix}#{day(at)}\t{minute(at)}|{item_id}"

    def delete_due(self, handle: str) -> None:
        pk, _, sk = handle.partition("\t")
        self._delete(pk, sk)

    def next_due(self, prefix: str, after: datetime, until: datetime) -> datetime | None:
        """The minute the index's first item after `after` falls due, if one does by `until`
        (the local stack's clock walks to each such moment when it is moved forward)."""
        current, last = after.astimezone(UTC).date(), until.astimezone(UTC).date()
        while current <= last:
            start = f"{minute(after)}|~" if current == after.astimezone(UTC).date() else "0"
            items, _ = self._query(f"{prefix}#{current.isoformat()}", start=start, end="~", limit=1)
            if items:
                due = datetime.strptime(items[0]["sk"].split("|", 1)[0], "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
                return due if due <= until else None
            current += timedelta(days=1)
        return None

    def due_items(
        self, prefix: str, until: datetime, *, limit: int, advance: bool = True
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """(handle, item id, item) of items due by `until`, oldest day first. The cursor then moves
        to the oldest day returned, or to today when nothing is due."""
        cursor = self._get("CURSOR", prefix)
        today = until.astimezone(UTC).date()
        current = (
            datetime.fromisoformat(cursor["day"]).date()
            if cursor and cursor.get("day")
            else today - timedelta(days=1)
        )
        found: list[tuple[str, str, dict[str, Any]]] = []
        first_day: str | None = None
        while current <= today and len(found) < limit:
            pk = f"{prefix}#{current.isoformat()}"
            items, _ = self._query(pk, start="0", end=f"{minute(until)}|~", limit=limit - len(found))
            if items and first_day is None:
                first_day = current.isoformat()
            found += [(f"{pk}\t{item['sk']}", item["sk"].split("|", 1)[1], item) for item in items]
            current += timedelta(days=1)
        if advance:
            self._put({"pk": "CURSOR", "sk": prefix, "day": first_day or today.isoformat()})
        return found
