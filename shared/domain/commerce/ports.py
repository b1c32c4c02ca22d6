"""What inventory needs from the outside world: stock counters, reservation records, the
directory of locations per channel, and a listener told of every change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from shared.domain.commerce.stock import Bucket, Delta, Movement, Outcome, Reservation, StockSettings


class StockStore(Protocol):
    def settings(self, sku: str, location_id: str, *, fresh: bool = False) -> StockSettings | None: ...

    def save_settings(self, sku: str, location_id: str, settings: StockSettings) -> None: ...

    def claim_count(self, sku: str, location_id: str, counted_at: datetime) -> bool:
        """Record `counted_at` as the newest count unless a newer one is recorded (False)."""
        ...

    def buckets(self, sku: str, location_id: str) -> list[Bucket]:
        """Every bucket, strongly consistent."""
        ...

    def create_buckets(
        self, sku: str, location_id: str, numbers: Sequence[int], *, now: datetime
    ) -> None: ...

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
        """Add `delta` if `available + delta.available >= keep_free`, `reserved + delta.reserved >= 0`,
        the version is as expected (when given) and `op_id` is not marked; mark it."""
        ...

    def undo(
        self, sku: str, location_id: str, bucket: int, op_id: str, delta: Delta, *, now: datetime
    ) -> bool:
        """Take `delta` back if (and only if) `op_id` is marked, and unmark it."""
        ...

    def clear(self, sku: str, location_id: str, bucket: int, op_ids: Sequence[str]) -> None: ...

    def record_movements(self, movements: Sequence[Movement]) -> None: ...

    def movements(
        self, sku: str, location_id: str, *, before: str | None, limit: int
    ) -> tuple[list[Movement], str | None]: ...


class ChangeListener(Protocol):
    def stock_changed(self, keys: Sequence[tuple[str, str]]) -> None:
        """(sku, location_id) pairs whose availability changed: published numbers follow."""
        ...


class ReservationStore(Protocol):
    def create(self, reservation: Reservation) -> bool:
        """Write a new record; False when one with this id exists."""
        ...

    def get(self, reservation_id: str) -> Reservation | None: ...

    def save(self, reservation: Reservation, *, expected_version: int) -> bool:
        """Replace the record if its version is still `expected_version` (False otherwise)."""
        ...

    def add_holds(self, reservation: Reservation) -> None:
        """Index the held lines by SKU and location (read-time expiry) and by expiry minute (sweeper)."""
        ...

    def remove_holds(self, reservation: Reservation) -> None: ...

    def expired_holds(self, sku: str, location_id: str, now: datetime) -> list[tuple[str, int, datetime]]:
        """(reservation id, quantity, expires_at) of holds here that expired and are not released."""
        ...

    def due(self, until: datetime, *, limit: int) -> list[tuple[str, str]]:
        """(handle, reservation id) of reservations due by `until` (their hold's end), oldest first.
        An entry stays due until `undue` removes it: a sweep never skips one."""
        ...

    def undue(self, handle: str, reservation_id: str) -> None: ...

    def claim(self, key: str, detail: dict[str, Any], *, now: datetime) -> dict[str, Any] | None:
        """Record that operation `key` starts (None), or answer the record it already has."""
        ...

    def finish_claim(self, key: str, result: dict[str, Any]) -> None: ...

    def claimed(self, key: str) -> dict[str, Any] | None: ...


class LocationDirectory(Protocol):
    def channel_locations(self, channel_id: str) -> list[str]:
        """The locations feeding a sales channel, in the order reservations should try them."""
        ...

    def location_exists(self, location_id: str) -> bool: ...

    def location_known_as(self, source_id: str, external_id: str) -> str | None:
        """Our location a source calls `external_id` (a channel reporting its own levels)."""
        ...
