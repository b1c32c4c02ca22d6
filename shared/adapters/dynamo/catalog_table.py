"""The catalog table (inventory and pricing context).

| entity         | pk                     | sk                    | notes                              |
|----------------|------------------------|-----------------------|------------------------------------|
| stock settings | STOCK#<sku>#<location> | SETTINGS              | buckets, safety, incoming, counted |
| stock bucket   | STOCK#<sku>#<location> | B#<nn>                | on_hand, reserved, available,      |
|                |                        |                       | version, ops (operation markers)   |
| movement       | MOVES#<sku>#<location> | <at>#<op_id>          | the ledger: body = Movement        |
| reservation    | RES#<id>               | RES                   | body = Reservation; version        |
| hold           | HOLDS#<sku>#<location> | <expires_at>#<res id> | quantity (read-time expiry)        |
| due            | DUE#<day>              | <minute>|<res id>     | the sweeper's index of hold ends   |
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
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from shared.adapters.dynamo.low_level import LowLevelTable, dump, epoch, iso, load
from shared.adapters.sealed_secrets import SecretSealer
from shared.domain.commerce.channel_sync import SyncState
from shared.domain.commerce.pricing import PriceEntry, Promotion
from shared.domain.commerce.sales_channels import Location, SalesChannel
from shared.domain.commerce.stock import (
    KEEP_CLOSED,
    Bucket,
    Delta,
    Movement,
    Outcome,
    Reservation,
    StockSettings,
)

CLAIM_DAYS = {"order": 400, "stock": 7}  # refunds look up orders for a year; retries need >= 24 h


def _stock_pk(sku: str, location_id: str) -> str:
    return f"STOCK#{sku}#{location_id}"


def _bucket_sk(bucket: int) -> str:
    return f"B#{bucket:02d}"


class DynamoCatalog(LowLevelTable):
    """Implements StockStore, ReservationStore, ChannelRegistry, PriceBookStore and SyncStore."""

    name = "catalog"

    def __init__(self, table_name: str, *, sealer: SecretSealer | None = None, **options: Any) -> None:
        super().__init__(table_name, **options)
        self._sealer = sealer or SecretSealer(None)

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
                Key=dump({"pk": _stock_pk(sku, location_id), "sk": "SETTINGS"}),
                UpdateExpression="SET last_count_at = :at",
                # Invariant: counts only move forward in time.
                ConditionExpression="attribute_not_exists(last_count_at) OR last_count_at < :at",
                ExpressionAttributeValues=dump({":at": iso(counted_at)}),
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
                    "updated_at": iso(now),
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
            ":at": iso(now),
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
                Key=dump(key),
                UpdateExpression=(
                    "SET on_hand = on_hand + :oh, reserved = reserved + :rs, available = available + :av, "
                    "version = version + :one, updated_at = :at ADD ops :ops"
                ),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeValues=dump(values),
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
                Key=dump({"pk": _stock_pk(sku, location_id), "sk": _bucket_sk(bucket)}),
                UpdateExpression=(
                    "SET on_hand = on_hand - :oh, reserved = reserved - :rs, available = available - :av, "
                    "version = version + :one, updated_at = :at DELETE ops :ops"
                ),
                ConditionExpression="contains(ops, :op)",  # only what this operation did is taken back
                ExpressionAttributeValues=dump(
                    {
                        ":oh": delta.on_hand,
                        ":rs": delta.reserved,
                        ":av": delta.available,
                        ":one": 1,
                        ":at": iso(now),
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
            Key=dump({"pk": _stock_pk(sku, location_id), "sk": _bucket_sk(bucket)}),
            UpdateExpression="DELETE ops :ops",
            ExpressionAttributeValues=dump({":ops": set(op_ids)}),
        )

    def record_movements(self, movements: Sequence[Movement]) -> None:
        for movement in movements:
            self._put(
                {
                    "pk": f"MOVES#{movement.sku}#{movement.location_id}",
                    "sk": f"{iso(movement.at)}#{movement.op_id}",
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
            self.put_due(
                "DUE",
                reservation.expires_at,
                reservation.reservation_id,
                expires_at=epoch(reservation.expires_at + KEEP_CLOSED),
            )
        return created

    def _reservation_item(self, reservation: Reservation) -> dict[str, Any]:
        ends = (reservation.closed_at or reservation.expires_at) + KEEP_CLOSED
        return {
            "pk": f"RES#{reservation.reservation_id}",
            "sk": "RES",
            "version": reservation.version,
            "body": reservation.model_dump_json(exclude={"version"}),
            "expires_at": epoch(max(ends, reservation.expires_at + KEEP_CLOSED)),
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
                    "sk": f"{iso(reservation.expires_at)}#{reservation.reservation_id}",
                    "quantity": step.quantity,
                    "expires_at": epoch(reservation.expires_at + KEEP_CLOSED),
                }
            )

    def remove_holds(self, reservation: Reservation) -> None:
        for step in reservation.steps:
            if step.location_id:
                self._delete(
                    f"HOLDS#{step.sku}#{step.location_id}",
                    f"{iso(reservation.expires_at)}#{reservation.reservation_id}",
                )
        self.delete_due(self.due_handle("DUE", reservation.expires_at, reservation.reservation_id))

    def expired_holds(self, sku: str, location_id: str, now: datetime) -> list[tuple[str, int, datetime]]:
        items = self._query_all(f"HOLDS#{sku}#{location_id}", start="0", end=iso(now))
        holds = []
        for item in items:
            at, _, reservation_id = item["sk"].partition("#")
            holds.append((reservation_id, int(item["quantity"]), datetime.fromisoformat(at)))
        return holds

    def due(self, until: datetime, *, limit: int) -> list[tuple[str, str]]:
        return [(handle, item_id) for handle, item_id, _ in self.due_items("DUE", until, limit=limit)]

    def undue(self, handle: str, reservation_id: str) -> None:
        self.delete_due(handle)

    def claim(self, key: str, detail: dict[str, Any], *, now: datetime) -> dict[str, Any] | None:
        days = CLAIM_DAYS.get(key.partition(":")[0], 7)
        item = {
            "pk": f"CLAIM#{key}",
            "sk": "CLAIM",
            "body": json.dumps(detail),
            "expires_at": epoch(now + timedelta(days=days)),
        }
        if self._put(item, condition="attribute_not_exists(pk)"):  # the first to claim does the work
            return None
        return self.claimed(key) or {}

    def finish_claim(self, key: str, result: dict[str, Any]) -> None:
        self._call(
            "update_item",
            Key=dump({"pk": f"CLAIM#{key}", "sk": "CLAIM"}),
            UpdateExpression="SET #result = :result",
            ExpressionAttributeNames={"#result": "result"},
            ExpressionAttributeValues=dump({":result": json.dumps(result, default=str)}),
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
        """The signing secret is stored sealed; the channel-sync function opens it to sign."""
        sealed = channel.model_copy(update={"signing_secret": self._sealer.seal(channel.signing_secret)})
        self._put({"pk": "CHANNEL", "sk": channel.channel_id, "body": sealed.model_dump_json()})
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
        found = self._batch_get([{"pk": "PRICE", "sk": sku} for sku in dict.fromkeys(skus)])
        return {
            entry.sku: entry for entry in (PriceEntry.model_validate_json(item["body"]) for item in found)
        }

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
                {"pk": "CURSOR", "sk": name, "at": iso(at)}, condition="attribute_not_exists(pk)"
            )
        return self._put(
            {"pk": "CURSOR", "sk": name, "at": iso(at)},
            condition="#at = :previous",
            names={"#at": "at"},
            values={":previous": iso(previous)},
        )

    # ------------------------------------------------------------ sync state
    def lease(self, channel_id: str, sku: str, *, now: datetime, until: datetime) -> SyncState | None:
        try:
            response = self._call(
                "update_item",
                Key=dump({"pk": f"SYNC#{channel_id}", "sk": sku}),
                UpdateExpression="SET lease_until = :until",
                # Invariant: one push of a SKU to a channel at a time.
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
                ExpressionAttributeValues=dump({":until": iso(until), ":now": iso(now)}),
                ReturnValues="ALL_NEW",
            )
        except ClientError:
            return None
        return self._sync_state(load(response["Attributes"]), channel_id)

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

    def last_pushes(self, channel_ids: Sequence[str], sku: str) -> dict[str, SyncState]:
        """What was last pushed of `sku` to each channel (one batch read), for the console."""
        keys = [{"pk": f"SYNC#{channel_id}", "sk": sku} for channel_id in dict.fromkeys(channel_ids)]
        return {
            item["pk"].removeprefix("SYNC#"): self._sync_state(item, item["pk"].removeprefix("SYNC#"))
            for item in self._batch_get(keys)
        }

    def sent(self, state: SyncState) -> None:
        self._put(
            {
                "pk": f"SYNC#{state.channel_id}",
                "sk": state.sku,
                "available": state.available,
                "price": None if state.price is None else str(state.price),
                "sequence": state.sequence,
                "sent_at": iso(state.sent_at) if state.sent_at else None,
            }
        )

    def free(self, channel_id: str, sku: str) -> None:
        self._call(
            "update_item",
            Key=dump({"pk": f"SYNC#{channel_id}", "sk": sku}),
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
                "expires_at": epoch(datetime.fromisoformat(report["run_at"]) + timedelta(days=30)),
            }
        )

    def reports(self, *, limit: int) -> list[dict[str, Any]]:
        items, _ = self._query("RECON", limit=limit, forward=False)
        return [json.loads(item["body"]) for item in items]
