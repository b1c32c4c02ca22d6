"""The catalog table (inventory and pricing context).

| entity         | pk                     | sk                    | notes                              |
|----------------|------------------------|-----------------------|------------------------------------|
| stock settings | STOCK#<sku>#<location> | SETTINGS              | buckets, safety, incoming, counted |
| stock bucket   | STOCK#<sku>#<location> | B#<nn>                | on_hand, reserved, available,      |
|                |                        |                       | version, ops (operation markers)   |
| movement       | MOVES#<sku>#<location> | <at>#<op_id>          | the ledger: body = Movement        |
| reservation    | RES#<id>               | RES                   | body = Reservation; version        |
| hold           | HOLDS#<sku>#<location> | <expires_at>#<res id> | quantity (read-time expiry)        |
| due            | DUE#<minute>           | <res id>              | the sweeper's index of hold ends   |
| claim          | CLAIM#<key>            | CLAIM                 | an operation's idempotency record  |
| location       | LOCATION               | <id>                  | body = Location                    |
| channel        | CHANNEL                | <id>                  | body = SalesChannel (and secret)   |
| price          | PRICE                  | <sku>                 | body = PriceEntry (listable)       |
| promotion      | PROMOTION              | <id>                  | body = Promotion                   |
| sync state     | SYNC#<channel>         | <sku>                 | last sent, sequence, lease         |
| cursor         | CURSOR                 | SWEEP / PROMOTIONS    | where a schedule got to            |
| report         | RECON                  | <run_at>              | a reconciliation report            |

Counters are written with the low-level client: each change is one UpdateItem whose condition
states the invariant (`available >= need`, `reserved >= need`) and the operation marker
(`NOT contains(ops, :op)`); expressions are spelled out here rather than built, so the request
units in `make bench` can be read straight off this file. Everything short-lived has `expires_at`
(TTL) and the code checks it itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client as aws_client
from shared.domain.channel_sync import SyncState
from shared.domain.errors import DependencyUnavailableError
from shared.domain.inventory import (
    KEEP_CLOSED,
    Bucket,
    Delta,
    Movement,
    Outcome,
    Reservation,
    StockSettings,
)
from shared.domain.pricing import PriceEntry, Promotion
from shared.domain.sales_channels import Location, SalesChannel

T = TypeVar("T")
_serializer, _deserializer = TypeSerializer(), TypeDeserializer()
CLAIM_DAYS = {"order": 400, "stock": 7}  # refunds look up orders for a year; retries need >= 24 h
BATCH_GET_LIMIT = 100


def _dump(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in item.items() if value is not None}


def _load(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def _stock_pk(sku: str, location_id: str) -> str:
    return f"STOCK#{sku}#{location_id}"


def _bucket_sk(bucket: int) -> str:
    return f"B#{bucket:02d}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _condition_failed(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class DynamoCatalog:
    """Implements StockStore, ReservationStore, ChannelRegistry, PriceBookStore and SyncStore."""

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
            if _condition_failed(error):
                raise
            raise DependencyUnavailableError(
                "The catalog table did not answer",
                details={"cause": error.response.get("Error", {}).get("Code")},
            ) from error
        except BotoCoreError as error:
            raise DependencyUnavailableError(
                "The catalog table did not answer", details={"cause": str(error)}
            ) from error

    def _get(self, pk: str, sk: str, *, consistent: bool = True) -> dict[str, Any] | None:
        found = self._call("get_item", Key=_dump({"pk": pk, "sk": sk}), ConsistentRead=consistent).get("Item")
        return _load(found) if found else None

    def _put(
        self,
        item: dict[str, Any],
        *,
        condition: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        kwargs: dict[str, Any] = {"Item": _dump(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if values:
            kwargs["ExpressionAttributeValues"] = _dump(values)
        try:
            self._call("put_item", **kwargs)
        except ClientError:
            return False
        return True

    def _delete(self, pk: str, sk: str) -> None:
        self._call("delete_item", Key=_dump({"pk": pk, "sk": sk}))

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
            "ExpressionAttributeValues": _dump(values),
            "ScanIndexForward": forward,
            "ConsistentRead": consistent,
        }
        if after:
            kwargs["ExclusiveStartKey"] = _dump(after)
        if limit:
            kwargs["Limit"] = limit
        response = self._call("query", **kwargs)
        last = response.get("LastEvaluatedKey")
        return [_load(item) for item in response.get("Items", [])], (_load(last) if last else None)

    def _query_all(self, pk: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after = None
        while True:
            page, after = self._query(pk, after=after, **kwargs)
            items += page
            if after is None:
                return items

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

    # ------------------------------------------------------------ stock
    def settings(self, sku: str, location_id: str, *, fresh: bool = False) -> StockSettings | None:
        def load() -> StockSettings | None:
            item = self._get(_stock_pk(sku, location_id), "SETTINGS")
            return StockSettings.model_validate_json(item["body"]) if item else None

        if fresh:
            self._cache.pop(("settings", f"{sku}#{location_id}"), None)
        return self._cached(("settings", f"{sku}#{location_id}"), load)

    def save_settings(self, sku: str, location_id: str, settings: StockSettings) -> None:
        self._put({"pk": _stock_pk(sku, location_id), "sk": "SETTINGS", "body": settings.model_dump_json()})
        self._cache[("settings", f"{sku}#{location_id}")] = (self._monotonic(), settings)

    def claim_count(self, sku: str, location_id: str, counted_at: datetime) -> bool:
        try:
            self._call(
                "update_item",
                Key=_dump({"pk": _stock_pk(sku, location_id), "sk": "SETTINGS"}),
                UpdateExpression="SET last_count_at = :at",
                # Invariant: counts only move forward in time.
                ConditionExpression="attribute_not_exists(last_count_at) OR last_count_at < :at",
                ExpressionAttributeValues=_dump({":at": _iso(counted_at)}),
            )
        except ClientError:
            return False
        return True

    def buckets(self, sku: str, location_id: str) -> list[Bucket]:
        items = self._query_all(_stock_pk(sku, location_id), start="B#", end="B#~", consistent=True)
        return [
            Bucket(
                bucket=int(item["sk"][2:]),
                on_hand=int(item["on_hand"]),
                reserved=int(item["reserved"]),
                available=int(item["available"]),
                version=int(item["version"]),
                updated_at=datetime.fromisoformat(item["updated_at"]) if item.get("updated_at") else None,
                ops=frozenset(item.get("ops") or ()),
            )
            for item in items
        ]

    def create_buckets(self, sku: str, location_id: str, numbers: Sequence[int], *, now: datetime) -> None:
        for number in numbers:
            self._put(
                {
                    "pk": _stock_pk(sku, location_id),
                    "sk": _bucket_sk(number),
                    "on_hand": 0,
                    "reserved": 0,
                    "available": 0,
                    "version": 0,
                    "updated_at": _iso(now),
                },
                condition="attribute_not_exists(pk)",  # never reset a bucket that exists
            )

    def apply(
        self,
        sku: str,
        location_id: str,
        bucket: int,
        op_id: str,
        delta: Delta,
        *,
        keep_free: int = 0,
        expected_version: int | None = None,
        now: datetime,
    ) -> Outcome:
        need_available = max(0, -delta.available) + keep_free
        need_reserved = max(0, -delta.reserved)
        conditions = ["attribute_exists(pk)", "NOT contains(ops, :op)"]
        values: dict[str, Any] = {
            ":oh": delta.on_hand,
            ":rs": delta.reserved,
            ":av": delta.available,
            ":one": 1,
            ":at": _iso(now),
            ":op": op_id,
            ":ops": {op_id},
        }
        if need_available:
            conditions.append("available >= :need_av")
            values[":need_av"] = need_available
        if need_reserved:
            conditions.append("reserved >= :need_rs")
            values[":need_rs"] = need_reserved
        if expected_version is not None:
            conditions.append("version = :v")
            values[":v"] = expected_version
        key = {"pk": _stock_pk(sku, location_id), "sk": _bucket_sk(bucket)}
        try:
            self._call(
                "update_item",
                Key=_dump(key),
                UpdateExpression=(
                    "SET on_hand = on_hand + :oh, reserved = reserved + :rs, available = available + :av, "
                    "version = version + :one, updated_at = :at ADD ops :ops"
                ),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeValues=_dump(values),
            )
        except ClientError:
            item = self._get(key["pk"], key["sk"])
            if item is None:
                return Outcome.MISSING
            if op_id in (item.get("ops") or ()):
                return Outcome.ALREADY
            return Outcome.SHORT
        return Outcome.APPLIED

    def undo(
        self, sku: str, location_id: str, bucket: int, op_id: str, delta: Delta, *, now: datetime
    ) -> bool:
        try:
            self._call(
                "update_item",
                Key=_dump({"pk": _stock_pk(sku, location_id), "sk": _bucket_sk(bucket)}),
                UpdateExpression=(
                    "SET on_hand = on_hand - :oh, reserved = reserved - :rs, available = available - :av, "
                    "version = version + :one, updated_at = :at DELETE ops :ops"
                ),
                ConditionExpression="contains(ops, :op)",  # only what this operation did is taken back
                ExpressionAttributeValues=_dump(
                    {
                        ":oh": delta.on_hand,
                        ":rs": delta.reserved,
                        ":av": delta.available,
                        ":one": 1,
                        ":at": _iso(now),
                        ":op": op_id,
                        ":ops": {op_id},
                    }
                ),
            )
        except ClientError:
            return False
        return True

    def clear(self, sku: str, location_id: str, bucket: int, op_ids: Sequence[str]) -> None:
        self._call(
            "update_item",
            Key=_dump({"pk": _stock_pk(sku, location_id), "sk": _bucket_sk(bucket)}),
            UpdateExpression="DELETE ops :ops",
            ExpressionAttributeValues=_dump({":ops": set(op_ids)}),
        )

    def record_movements(self, movements: Sequence[Movement]) -> None:
        for movement in movements:
            self._put(
                {
                    "pk": f"MOVES#{movement.sku}#{movement.location_id}",
                    "sk": f"{_iso(movement.at)}#{movement.op_id}",
                    "body": movement.model_dump_json(exclude_defaults=True),
                }
            )

    def movements(
        self, sku: str, location_id: str, *, before: str | None, limit: int
    ) -> tuple[list[Movement], str | None]:
        after = {"pk": f"MOVES#{sku}#{location_id}", "sk": before} if before else None
        items, last = self._query(f"MOVES#{sku}#{location_id}", after=after, limit=limit, forward=False)
        return [Movement.model_validate_json(item["body"]) for item in items], (last or {}).get("sk")

    # ------------------------------------------------------------ reservations
    def create(self, reservation: Reservation) -> bool:
        created = self._put(
            self._reservation_item(reservation),
            condition="attribute_not_exists(pk)",  # one per request id
        )
        if created:
            self._put(
                {
                    "pk": f"DUE#{_minute(reservation.expires_at)}",
                    "sk": reservation.reservation_id,
                    "expires_at": _epoch(reservation.expires_at + KEEP_CLOSED),
                }
            )
        return created

    def _reservation_item(self, reservation: Reservation) -> dict[str, Any]:
        ends = (reservation.closed_at or reservation.expires_at) + KEEP_CLOSED
        return {
            "pk": f"RES#{reservation.reservation_id}",
            "sk": "RES",
            "version": reservation.version,
            "body": reservation.model_dump_json(exclude={"version"}),
            "expires_at": _epoch(max(ends, reservation.expires_at + KEEP_CLOSED)),
        }

    def get(self, reservation_id: str) -> Reservation | None:
        item = self._get(f"RES#{reservation_id}", "RES")
        if item is None:
            return None
        return Reservation.model_validate({**json.loads(item["body"]), "version": int(item["version"])})

    def save(self, reservation: Reservation, *, expected_version: int) -> bool:
        return self._put(
            self._reservation_item(reservation),
            condition="version = :expected",  # nobody moved the reservation since it was read
            values={":expected": expected_version},
        )

    def add_holds(self, reservation: Reservation) -> None:
        for step in reservation.steps:
            self._put(
                {
                    "pk": f"HOLDS#{step.sku}#{step.location_id}",
                    "sk": f"{_iso(reservation.expires_at)}#{reservation.reservation_id}",
                    "quantity": step.quantity,
                    "expires_at": _epoch(reservation.expires_at + KEEP_CLOSED),
                }
            )

    def remove_holds(self, reservation: Reservation) -> None:
        for step in reservation.steps:
            if step.location_id:
                self._delete(
                    f"HOLDS#{step.sku}#{step.location_id}",
                    f"{_iso(reservation.expires_at)}#{reservation.reservation_id}",
                )
        self._delete(f"DUE#{_minute(reservation.expires_at)}", reservation.reservation_id)

    def expired_holds(self, sku: str, location_id: str, now: datetime) -> list[tuple[str, int, datetime]]:
        items = self._query_all(f"HOLDS#{sku}#{location_id}", start="0", end=_iso(now))
        holds = []
        for item in items:
            at, _, reservation_id = item["sk"].partition("#")
            holds.append((reservation_id, int(item["quantity"]), datetime.fromisoformat(at)))
        return holds

    def due(self, until: datetime, *, limit: int) -> list[tuple[str, str]]:
        cursor = self._get("CURSOR", "SWEEP")
        start = (
            datetime.fromisoformat(cursor["minute"] + ":00+00:00") if cursor else until - timedelta(hours=1)
        )
        start = max(start, until - timedelta(days=8))
        found: list[tuple[str, str]] = []
        moment = start
        while moment <= until and len(found) < limit:
            minute = _minute(moment)
            items, _ = self._query(f"DUE#{minute}", limit=limit - len(found))
            found += [(minute, item["sk"]) for item in items]
            moment += timedelta(minutes=1)
        return found

    def undue(self, minute: str, reservation_id: str) -> None:
        self._delete(f"DUE#{minute}", reservation_id)

    def advance_sweep(self, minute: str) -> None:
        self._put({"pk": "CURSOR", "sk": "SWEEP", "minute": minute})

    def claim(self, key: str, detail: dict[str, Any], *, now: datetime) -> dict[str, Any] | None:
        days = CLAIM_DAYS.get(key.partition(":")[0], 7)
        item = {
            "pk": f"CLAIM#{key}",
            "sk": "CLAIM",
            "body": json.dumps(detail),
            "expires_at": _epoch(now + timedelta(days=days)),
        }
        if self._put(item, condition="attribute_not_exists(pk)"):  # the first to claim does the work
            return None
        return self.claimed(key) or {}

    def finish_claim(self, key: str, result: dict[str, Any]) -> None:
        self._call(
            "update_item",
            Key=_dump({"pk": f"CLAIM#{key}", "sk": "CLAIM"}),
            UpdateExpression="SET #result = :result",
            ExpressionAttributeNames={"#result": "result"},
            ExpressionAttributeValues=_dump({":result": json.dumps(result, default=str)}),
        )

    def claimed(self, key: str) -> dict[str, Any] | None:
        item = self._get(f"CLAIM#{key}", "CLAIM")
        if item is None:
            return None
        detail: dict[str, Any] = json.loads(item["body"])
        if item.get("result"):
            detail["result"] = json.loads(item["result"])
        return detail

    # ------------------------------------------------------------ channels and locations
    def channels(self) -> list[SalesChannel]:
        return self._cached(
            ("channels", ""),
            lambda: [
                SalesChannel.model_validate_json(i["body"])
                for i in self._query_all("CHANNEL", consistent=True)
            ],
        )

    def channel(self, channel_id: str) -> SalesChannel | None:
        return next((channel for channel in self.channels() if channel.channel_id == channel_id), None)

    def save_channel(self, channel: SalesChannel) -> None:
        self._put({"pk": "CHANNEL", "sk": channel.channel_id, "body": channel.model_dump_json()})
        self._cache.pop(("channels", ""), None)

    def locations(self) -> list[Location]:
        return self._cached(
            ("locations", ""),
            lambda: [
                Location.model_validate_json(i["body"]) for i in self._query_all("LOCATION", consistent=True)
            ],
        )

    def location(self, location_id: str) -> Location | None:
        found = next((location for location in self.locations() if location.location_id == location_id), None)
        if found is None and ("locations", "") in self._cache:  # a location made moments ago elsewhere
            self._cache.pop(("locations", ""), None)
            found = next(
                (location for location in self.locations() if location.location_id == location_id), None
            )
        return found

    def save_location(self, location: Location) -> None:
        self._put({"pk": "LOCATION", "sk": location.location_id, "body": location.model_dump_json()})
        self._cache.pop(("locations", ""), None)

    # ------------------------------------------------------------ prices
    def entry(self, sku: str) -> PriceEntry | None:
        item = self._get("PRICE", sku, consistent=False)
        return PriceEntry.model_validate_json(item["body"]) if item else None

    def entries(self, skus: Sequence[str]) -> dict[str, PriceEntry]:
        found: dict[str, PriceEntry] = {}
        keys = [_dump({"pk": "PRICE", "sk": sku}) for sku in dict.fromkeys(skus)]
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            pending: dict[str, Any] = {self._table: {"Keys": keys[start : start + BATCH_GET_LIMIT]}}
            while pending:
                try:
                    response = self._client.batch_get_item(RequestItems=pending)
                except (ClientError, BotoCoreError) as error:
                    raise DependencyUnavailableError("The catalog table did not answer") from error
                for item in response.get("Responses", {}).get(self._table, []):
                    entry = PriceEntry.model_validate_json(_load(item)["body"])
                    found[entry.sku] = entry
                pending = response.get("UnprocessedKeys") or {}
        return found

    def save_entry(self, entry: PriceEntry) -> None:
        self._put({"pk": "PRICE", "sk": entry.sku, "body": entry.model_dump_json()})

    def price_entries(self, *, after: str | None, limit: int) -> tuple[list[PriceEntry], str | None]:
        start = {"pk": "PRICE", "sk": after} if after else None
        items, last = self._query("PRICE", after=start, limit=limit)
        return [PriceEntry.model_validate_json(item["body"]) for item in items], (last or {}).get("sk")

    def promotions(self) -> list[Promotion]:
        return self._cached(
            ("promotions", ""),
            lambda: [
                Promotion.model_validate_json(i["body"])
                for i in self._query_all("PROMOTION", consistent=True)
            ],
        )

    def save_promotion(self, promotion: Promotion) -> None:
        self._put({"pk": "PROMOTION", "sk": promotion.promotion_id, "body": promotion.model_dump_json()})
        self._cache.pop(("promotions", ""), None)

    def delete_promotion(self, promotion_id: str) -> bool:
        existed = self._get("PROMOTION", promotion_id) is not None
        self._delete("PROMOTION", promotion_id)
        self._cache.pop(("promotions", ""), None)
        return existed

    def cursor(self, name: str) -> datetime | None:
        item = self._get("CURSOR", name)
        return datetime.fromisoformat(item["at"]) if item else None

    def move_cursor(self, name: str, at: datetime, *, previous: datetime | None) -> bool:
        """Advance a schedule's cursor; False if another run moved it first (it did the work)."""
        if previous is None:
            return self._put(
                {"pk": "CURSOR", "sk": name, "at": _iso(at)}, condition="attribute_not_exists(pk)"
            )
        return self._put(
            {"pk": "CURSOR", "sk": name, "at": _iso(at)},
            condition="#at = :previous",
            names={"#at": "at"},
            values={":previous": _iso(previous)},
        )

    # ------------------------------------------------------------ sync state
    def lease(self, channel_id: str, sku: str, *, now: datetime, until: datetime) -> SyncState | None:
        try:
            response = self._call(
                "update_item",
                Key=_dump({"pk": f"SYNC#{channel_id}", "sk": sku}),
                UpdateExpression="SET lease_until = :until",
                # Invariant: one push of a SKU to a channel at a time.
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
                ExpressionAttributeValues=_dump({":until": _iso(until), ":now": _iso(now)}),
                ReturnValues="ALL_NEW",
            )
        except ClientError:
            return None
        return self._sync_state(_load(response["Attributes"]), channel_id)

    @staticmethod
    def _sync_state(item: dict[str, Any], channel_id: str) -> SyncState:
        return SyncState(
            channel_id=channel_id,
            sku=item["sk"],
            available=int(item["available"]) if item.get("available") is not None else None,
            price=Decimal(item["price"]) if item.get("price") is not None else None,
            sequence=int(item.get("sequence", 0)),
            sent_at=datetime.fromisoformat(item["sent_at"]) if item.get("sent_at") else None,
            lease_until=datetime.fromisoformat(item["lease_until"]) if item.get("lease_until") else None,
        )

    def sent(self, state: SyncState) -> None:
        self._put(
            {
                "pk": f"SYNC#{state.channel_id}",
                "sk": state.sku,
                "available": state.available,
                "price": None if state.price is None else str(state.price),
                "sequence": state.sequence,
                "sent_at": _iso(state.sent_at) if state.sent_at else None,
            }
        )

    def free(self, channel_id: str, sku: str) -> None:
        self._call(
            "update_item",
            Key=_dump({"pk": f"SYNC#{channel_id}", "sk": sku}),
            UpdateExpression="REMOVE lease_until",
        )

    def states(self, channel_id: str, *, after: str | None, limit: int) -> tuple[list[SyncState], str | None]:
        start = {"pk": f"SYNC#{channel_id}", "sk": after} if after else None
        items, last = self._query(f"SYNC#{channel_id}", after=start, limit=limit, consistent=True)
        return [self._sync_state(item, channel_id) for item in items], (last or {}).get("sk")

    def save_report(self, report: dict[str, Any]) -> None:
        self._put(
            {
                "pk": "RECON",
                "sk": report["run_at"],
                "body": json.dumps(report, default=str),
                "expires_at": _epoch(datetime.fromisoformat(report["run_at"]) + timedelta(days=30)),
            }
        )

    def reports(self, *, limit: int) -> list[dict[str, Any]]:
        items, _ = self._query("RECON", limit=limit, forward=False)
        return [json.loads(item["body"]) for item in items]
