"""Stock per SKU per location, reservations, sales and counts: one truth, never oversold.

Counters. A SKU at a location is held in 1..K *buckets* (K > 1 for a hot SKU in a flash sale),
each with `on_hand`, `reserved` and `available` (= on_hand - reserved, stored because a condition
cannot do arithmetic). Every change to a bucket is one conditional write that

- states its invariant: `available` (and `reserved`) never go below zero,
- carries the operation's id as a marker (`NOT contains(ops, id)`), so a retried operation
  applies once, and a crashed one can be told apart from one that never ran.

Operations. A reservation, commit or release is a record (`Reservation`) that names its steps
before any counter moves. The record is written first (pending), then each step is applied, then
the record is finalised, then the markers are cleared. Whoever finds a record left in a
transitional status (a crash) resumes it: a step whose marker is present has run, one without
it has not (markers are only cleared after the record is final). A lease on the record keeps
two workers from resuming the same operation at once. No transactions are needed, so the same
code runs on DynamoDB and on dynalite (the race tests).

A multi-line cart is all-or-nothing: lines are aggregated per SKU and location, applied in a fixed
order; if one is short, the applied ones are given back and the reservation fails as a whole.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.domain.errors import ConflictError, InvalidInputError, NotFoundError
from shared.domain.ports import Clock

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$"
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
LEASE = timedelta(seconds=60)  # longer than any one API call or queue record (30 s timeouts)
MAX_LINES = 50
MAX_BUCKETS = 64
DEFAULT_HOLD = timedelta(minutes=15)
MAX_HOLD = timedelta(days=7)
KEEP_CLOSED = timedelta(days=2)  # idempotency keys are honoured for at least 24 h


class InsufficientStockError(ConflictError):
    code = "insufficient_stock"


class StaleCountError(ConflictError):
    code = "stale_count"


class OperationInProgressError(ConflictError):
    code = "in_progress"


class IdempotencyMismatchError(InvalidInputError):
    code = "idempotency_mismatch"


class ReservationClosedError(ConflictError):
    code = "reservation_closed"


# ------------------------------------------------------------------ counters
@dataclass(frozen=True)
class Delta:
    on_hand: int = 0
    reserved: int = 0
    available: int = 0

    def inverse(self) -> Delta:
        return Delta(-self.on_hand, -self.reserved, -self.available)


class Outcome(StrEnum):
    APPLIED = "applied"
    ALREADY = "already"  # the marker is there: this operation ran before
    SHORT = "short"  # the condition refused: not enough available (or reserved)
    MISSING = "missing"  # no such bucket


class Bucket(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket: int
    on_hand: int = 0
    reserved: int = 0
    available: int = 0
    version: int = 0
    updated_at: datetime | None = None
    ops: frozenset[str] = frozenset()


class StockSettings(BaseModel):
    """Per SKU and location, rarely written: readers may cache it briefly."""

    model_config = ConfigDict(frozen=True)

    buckets: int = Field(default=1, ge=1, le=MAX_BUCKETS)
    safety_stock: int = Field(default=0, ge=0)
    incoming: int = Field(default=0, ge=0)
    last_count_at: datetime | None = None


class StockLevel(BaseModel):
    """What a SKU has at one location, summed over its buckets, expired holds counted as free."""

    sku: str
    location_id: str
    on_hand: int
    reserved: int
    available: int
    safety_stock: int
    incoming: int
    sellable: int  # available minus the location's safety stock, never below zero
    expired_holds: int
    buckets: int
    version: int
    changed_at: datetime | None


class Movement(BaseModel):
    """One line of the movement ledger: every change of on_hand, with its reason and source."""

    at: datetime
    op_id: str
    sku: str
    location_id: str
    on_hand: int
    available: int
    reason: str
    source: str
    reference: str | None = None
    shortfall: int = 0  # units sold or counted away that the counter did not have free


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


def _pick_order(buckets: int, chooser: random.Random) -> list[int]:
    """Buckets to try, starting at a random one so concurrent takers spread out."""
    start = chooser.randrange(buckets)
    return [(start + offset) % buckets for offset in range(buckets)]


# ------------------------------------------------------------------ reservations
class ReservationStatus(StrEnum):
    PENDING = "pending"
    HELD = "held"
    COMMITTING = "committing"
    COMMITTED = "committed"
    RELEASING = "releasing"
    RELEASED = "released"
    FAILED = "failed"


TRANSITIONAL = {ReservationStatus.PENDING, ReservationStatus.COMMITTING, ReservationStatus.RELEASING}
CLOSED = {ReservationStatus.COMMITTED, ReservationStatus.RELEASED, ReservationStatus.FAILED}


class CartLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(pattern=SKU_PATTERN)
    quantity: int = Field(ge=1, le=10_000)


class ReservationRequest(BaseModel):
    """`request_id` is the idempotency key: the same key and body answer the same reservation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str = Field(pattern=r"^[A-Za-z0-9:_.-]{1,128}$")
    channel_id: str = Field(pattern=ID_PATTERN)
    lines: list[CartLine] = Field(min_length=1, max_length=MAX_LINES)
    pickup_location_id: str | None = Field(default=None, pattern=ID_PATTERN)
    hold_seconds: int = Field(
        default=int(DEFAULT_HOLD.total_seconds()), ge=60, le=int(MAX_HOLD.total_seconds())
    )

    def fingerprint(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()[:32]


class Step(BaseModel):
    """One counter change of an operation: a SKU at a location, in a bucket once it is known."""

    sku: str
    quantity: int
    location_id: str | None = None  # None: any of `candidates`, the first with stock
    candidates: list[str] = Field(default_factory=list)
    bucket: int | None = None


class Reservation(BaseModel):
    reservation_id: str
    request_id: str
    fingerprint: str
    channel_id: str
    pickup_location_id: str | None = None
    status: ReservationStatus
    steps: list[Step]
    created_at: datetime
    expires_at: datetime
    lease_until: datetime
    version: int = 1
    order_id: str | None = None
    closed_at: datetime | None = None
    failure: dict[str, Any] | None = None

    @property
    def op_id(self) -> str:
        """The marker of the operation in progress (reserve, commit or release)."""
        suffix = {
            ReservationStatus.COMMITTING: ":c",
            ReservationStatus.COMMITTED: ":c",
            ReservationStatus.RELEASING: ":r",
            ReservationStatus.RELEASED: ":r",
        }.get(self.status, "")
        return f"{self.reservation_id}{suffix}"

    def view(self, now: datetime) -> dict[str, Any]:
        expired = self.status is ReservationStatus.HELD and self.expires_at <= now
        return {
            "reservation_id": self.reservation_id,
            "request_id": self.request_id,
            "channel_id": self.channel_id,
            "pickup_location_id": self.pickup_location_id,
            "status": "expired" if expired else self.status.value,
            "lines": [
                {"sku": step.sku, "quantity": step.quantity, "location_id": step.location_id}
                for step in self.steps
            ],
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "order_id": self.order_id,
            "failure": self.failure,
        }


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


def reservation_id_for(channel_id: str, request_id: str) -> str:
    return "r" + hashlib.sha256(f"{channel_id}\x1f{request_id}".encode()).hexdigest()[:24]


def aggregate(lines: Sequence[CartLine]) -> list[tuple[str, int]]:
    """Two lines of one SKU are one claim on its stock (bundles must not double-count)."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return sorted(totals.items())


# ------------------------------------------------------------------ the service
@dataclass
class Inventory:
    stock: StockStore
    reservations: ReservationStore
    directory: LocationDirectory
    clock: Clock
    listener: ChangeListener
    chooser: random.Random = field(default_factory=random.Random)

    # ---------------------------------------------------------- reading
    def level(self, sku: str, location_id: str) -> StockLevel | None:
        settings = self.stock.settings(sku, location_id)
        buckets = self.stock.buckets(sku, location_id)
        if settings is None and not buckets:
            return None
        settings = settings or StockSettings()
        now = self.clock.now()
        expired = self.reservations.expired_holds(sku, location_id, now)
        freed = sum(quantity for _, quantity, _ in expired)
        on_hand = sum(b.on_hand for b in buckets)
        reserved = sum(b.reserved for b in buckets) - freed
        available = sum(b.available for b in buckets) + freed
        moments = [b.updated_at for b in buckets if b.updated_at] + [at for _, _, at in expired]
        return StockLevel(
            sku=sku,
            location_id=location_id,
            on_hand=on_hand,
            reserved=reserved,
            available=available,
            safety_stock=settings.safety_stock,
            incoming=settings.incoming,
            sellable=max(0, available - settings.safety_stock),
            expired_holds=freed,
            buckets=settings.buckets,
            version=sum(b.version for b in buckets),
            changed_at=max(moments) if moments else None,
        )

    # ---------------------------------------------------------- counts and adjustments
    def configure(
        self,
        sku: str,
        location_id: str,
        *,
        safety_stock: int | None,
        incoming: int | None,
        buckets: int | None,
    ) -> StockSettings:
        if not self.directory.location_exists(location_id):
            raise NotFoundError(f"No location {location_id!r}: create it first (PUT /locations/{{id}})")
        current = self.stock.settings(sku, location_id, fresh=True) or StockSettings()
        if buckets is not None and buckets < current.buckets:
            raise InvalidInputError(
                "buckets: a SKU's buckets can be added, not removed", details={"current": current.buckets}
            )
        changed = current.model_copy(
            update={
                key: value
                for key, value in {
                    "safety_stock": safety_stock,
                    "incoming": incoming,
                    "buckets": buckets,
                }.items()
                if value is not None
            }
        )
        self.stock.create_buckets(sku, location_id, range(changed.buckets), now=self.clock.now())
        self.stock.save_settings(sku, location_id, changed)
        self.listener.stock_changed([(sku, location_id)])
        return changed

    def adjust(
        self,
        sku: str,
        location_id: str,
        quantity: int,
        *,
        op_id: str,
        reason: str,
        source: str,
        reference: str | None = None,
    ) -> Movement:
        """Relative change of on_hand (goods received, damage, a sale without a reservation, a
        return), applied once per `op_id`. A decrease the free stock cannot cover still happens
        down to what is free; the rest is reported as a shortfall, `available` never goes negative
        and on_hand never falls below what is reserved."""
        if not self.directory.location_exists(location_id):
            raise NotFoundError(f"No location {location_id!r}")
        key = f"stock:{op_id}"
        claimed = self.reservations.claim(
            key, {"sku": sku, "location_id": location_id, "quantity": quantity}, now=self.clock.now()
        )
        if claimed is not None:
            if (claimed.get("sku"), claimed.get("location_id"), claimed.get("quantity")) != (
                sku,
                location_id,
                quantity,
            ):
                raise IdempotencyMismatchError(
                    "This request_id was used for a different change", details={"request_id": op_id}
                )
            if claimed.get("result") is not None:
                return Movement.model_validate(claimed["result"])
        settings = self._ensure(sku, location_id)
        now = self.clock.now()
        taken = self._change_on_hand(sku, location_id, settings, quantity, op_id, now)
        moved = sum(delta.on_hand for _, delta in taken)
        movement = Movement(
            at=now,
            op_id=op_id,
            sku=sku,
            location_id=location_id,
            on_hand=moved,
            available=sum(delta.available for _, delta in taken),
            reason=reason,
            source=source,
            reference=reference,
            shortfall=moved - quantity if quantity < 0 else 0,
        )
        self.stock.record_movements([movement])
        self.reservations.finish_claim(key, movement.model_dump(mode="json"))
        for bucket, _ in taken:
            self.stock.clear(sku, location_id, bucket, [op_id])
        self.listener.stock_changed([(sku, location_id)])
        return movement

    def count(
        self,
        sku: str,
        location_id: str,
        on_hand: int,
        *,
        op_id: str,
        source: str,
        expected_on_hand: int | None = None,
        counted_at: datetime | None = None,
    ) -> Movement | None:
        """Absolute count, applied as the difference to the current on_hand. `expected_on_hand`
        makes it compare-and-set; with `counted_at`, a count older than the newest one applied is
        ignored (None), so a late message never rolls a newer one back."""
        if not self.directory.location_exists(location_id):
            raise NotFoundError(f"No location {location_id!r}")
        replay = self.reservations.claimed(f"stock:{op_id}")
        if replay is not None and replay.get("result") is not None:
            return Movement.model_validate(replay["result"])
        self._ensure(sku, location_id)
        if counted_at is not None and not self.stock.claim_count(sku, location_id, counted_at):
            return None
        current = sum(bucket.on_hand for bucket in self.stock.buckets(sku, location_id))
        if expected_on_hand is not None and expected_on_hand != current:
            raise StaleCountError(
                "on_hand changed since it was read",
                details={"expected": expected_on_hand, "current": current},
            )
        if on_hand == current:
            return None
        return self.adjust(sku, location_id, on_hand - current, op_id=op_id, reason="count", source=source)

    def _ensure(self, sku: str, location_id: str) -> StockSettings:
        settings = self.stock.settings(sku, location_id)
        if settings is None:
            settings = StockSettings()
            self.stock.create_buckets(sku, location_id, [0], now=self.clock.now())
            self.stock.save_settings(sku, location_id, settings)
        return settings

    def _change_on_hand(
        self, sku: str, location_id: str, settings: StockSettings, quantity: int, op_id: str, now: datetime
    ) -> list[tuple[int, Delta]]:
        if quantity >= 0:  # spread over the buckets, so a hot SKU's takers find stock in each
            share, extra = divmod(quantity, settings.buckets)
            first = self.chooser.randrange(settings.buckets)
            added = []
            for offset in range(settings.buckets):
                number = (first + offset) % settings.buckets
                part = share + (1 if offset < extra else 0)
                if part or offset == 0:
                    delta = Delta(on_hand=part, available=part)
                    outcome = self.stock.apply(sku, location_id, number, op_id, delta, now=now)
                    self._expect(outcome, sku, location_id)
                    added.append((number, delta))
            return added
        remaining = -quantity
        taken: list[tuple[int, Delta]] = []
        for _attempt in range(5):  # a bucket that moved between read and write is read again
            for bucket in self.stock.buckets(sku, location_id):
                if any(number == bucket.bucket for number, _ in taken):
                    continue
                if op_id in bucket.ops:  # a retry of an operation that reached this bucket before
                    return [(bucket.bucket, Delta())]
                if remaining == 0 or bucket.available == 0:
                    continue
                part = min(remaining, bucket.available)
                delta = Delta(on_hand=-part, available=-part)
                outcome = self.stock.apply(sku, location_id, bucket.bucket, op_id, delta, now=now)
                if outcome is Outcome.APPLIED:
                    taken.append((bucket.bucket, delta))
                    remaining -= part
            if remaining == 0:
                break
        return taken

    @staticmethod
    def _expect(outcome: Outcome, sku: str, location_id: str) -> None:
        if outcome is Outcome.MISSING:
            raise NotFoundError(f"No stock record for {sku} at {location_id}")

    # ---------------------------------------------------------- reservations
    def reserve(self, request: ReservationRequest) -> tuple[Reservation, bool]:
        """The held reservation, and whether this was a replay of an earlier request."""
        now = self.clock.now()
        if request.pickup_location_id is not None:
            if not self.directory.location_exists(request.pickup_location_id):
                raise NotFoundError(f"No pickup location {request.pickup_location_id!r}")
            candidates = [request.pickup_location_id]
        else:
            candidates = self.directory.channel_locations(request.channel_id)
            if not candidates:
                raise InvalidInputError(
                    f"Channel {request.channel_id!r} has no locations to reserve from",
                    details={"channel_id": request.channel_id},
                )
        reservation = Reservation(
            reservation_id=reservation_id_for(request.channel_id, request.request_id),
            request_id=request.request_id,
            fingerprint=request.fingerprint(),
            channel_id=request.channel_id,
            pickup_location_id=request.pickup_location_id,
            status=ReservationStatus.PENDING,
            steps=[
                Step(sku=sku, quantity=quantity, candidates=candidates)
                for sku, quantity in aggregate(request.lines)
            ],
            created_at=now,
            expires_at=now + timedelta(seconds=request.hold_seconds),
            lease_until=now + LEASE,
        )
        if not self.reservations.create(reservation):
            existing = self.reservations.get(reservation.reservation_id)
            if existing is None:
                raise OperationInProgressError("The reservation is being written; retry")
            if existing.fingerprint != reservation.fingerprint:
                raise IdempotencyMismatchError(
                    "This request_id was used with a different body",
                    details={"request_id": request.request_id},
                )
            settled = self._settled(existing)
            if settled.status is ReservationStatus.FAILED and (settled.failure or {}).get("sku"):
                raise InsufficientStockError("Not enough stock for this reservation", details=settled.failure)
            return settled, True
        return self._run(reservation), False

    def get(self, reservation_id: str) -> Reservation:
        reservation = self.reservations.get(reservation_id)
        if reservation is None:
            raise NotFoundError(f"No reservation {reservation_id!r}")
        return reservation

    def commit(self, reservation_id: str, *, order_id: str) -> Reservation:
        """The order is placed: the held units leave on_hand. If the order's stock was already taken
        (its OrderPlaced event came first) the hold is released instead: an order sells once."""
        reservation = self._settled(self.get(reservation_id))
        if reservation.status is ReservationStatus.COMMITTED:
            if reservation.order_id != order_id:
                raise ReservationClosedError(
                    "The reservation was committed for another order",
                    details={"order_id": reservation.order_id},
                )
            return reservation
        if reservation.status is not ReservationStatus.HELD:
            raise ReservationClosedError(
                f"The reservation is {reservation.status.value}", details={"status": reservation.status.value}
            )
        now = self.clock.now()
        if reservation.expires_at <= now:
            raise ReservationClosedError("The reservation expired", details={"status": "expired"})
        lines = [
            {"sku": s.sku, "quantity": s.quantity, "location_id": s.location_id} for s in reservation.steps
        ]
        sale = self.reservations.claim(
            f"order:{order_id}", {"reservation_id": reservation_id, "lines": lines}, now=now
        )
        if sale is not None and sale.get("reservation_id") != reservation_id:
            return self.release(reservation_id, reason="order_already_sold")
        return self._transition(reservation, ReservationStatus.COMMITTING, order_id=order_id)

    def release(self, reservation_id: str, *, reason: str = "released") -> Reservation:
        reservation = self._settled(self.get(reservation_id))
        if reservation.status in CLOSED:
            if reservation.status is ReservationStatus.COMMITTED:
                raise ReservationClosedError("The reservation was committed", details={"status": "committed"})
            return reservation
        return self._transition(reservation, ReservationStatus.RELEASING, failure={"reason": reason})

    def sweep(self, *, limit: int = 500) -> dict[str, int]:
        """Release holds whose time is up, and finish operations a crash left half done (each
        reservation is indexed under its hold's end from the moment it is created)."""
        counts = {"released": 0, "resumed": 0, "closed": 0, "busy": 0}
        now = self.clock.now()
        due = self.reservations.due(now, limit=limit)
        for handle, reservation_id in due:
            reservation = self.reservations.get(reservation_id)
            try:
                if reservation is None:
                    pass
                elif reservation.status in CLOSED:
                    counts["closed"] += 1
                else:
                    if reservation.status in TRANSITIONAL:
                        counts["resumed"] += 1
                    settled = self._settled(reservation)
                    if settled.status is ReservationStatus.HELD and settled.expires_at > now:
                        # ends later this minute: the entry stays for the next sweep
                        continue
                    if settled.status is ReservationStatus.HELD:
                        self.release(reservation_id, reason="expired")
                        counts["released"] += 1
            except OperationInProgressError:
                counts["busy"] += 1
                continue
            except InsufficientStockError:
                pass  # a resumed reservation that could not be held is closed as failed
            self.reservations.undue(handle, reservation_id)
        return counts

    def _transition(
        self,
        reservation: Reservation,
        status: ReservationStatus,
        *,
        order_id: str | None = None,
        failure: dict[str, Any] | None = None,
    ) -> Reservation:
        now = self.clock.now()
        moving = reservation.model_copy(
            update={
                "status": status,
                "version": reservation.version + 1,
                "lease_until": now + LEASE,
                "order_id": order_id or reservation.order_id,
                "failure": failure or reservation.failure,
            }
        )
        if not self.reservations.save(moving, expected_version=reservation.version):
            return self._settled(self.get(reservation.reservation_id))  # someone else moved it; follow
        return self._run(moving)

    def _settled(self, reservation: Reservation) -> Reservation:
        """A reservation in a final or held state; a transitional one is resumed (if its lease is up)."""
        if reservation.status not in TRANSITIONAL:
            return reservation
        now = self.clock.now()
        if reservation.lease_until > now:
            raise OperationInProgressError(
                "This reservation is being changed; retry shortly",
                details={"status": reservation.status.value, "retry_after_seconds": 1},
            )
        claimed = reservation.model_copy(
            update={"lease_until": now + LEASE, "version": reservation.version + 1}
        )
        if not self.reservations.save(claimed, expected_version=reservation.version):
            raise OperationInProgressError("Another worker resumed this reservation; retry shortly")
        return self._run(claimed)

    def _run(self, reservation: Reservation) -> Reservation:
        """Apply the operation's steps (each at most once), finalise the record, clear the markers."""
        now = self.clock.now()
        op_id = reservation.op_id
        if reservation.status is ReservationStatus.PENDING:
            steps, short = self._take(reservation, now)
            if short is not None:
                for step in steps:
                    if step.bucket is not None:
                        self.stock.undo(
                            step.sku, step.location_id or "", step.bucket, op_id, _hold(step), now=now
                        )
                final = reservation.model_copy(
                    update={
                        "status": ReservationStatus.FAILED,
                        "steps": steps,
                        "failure": short,
                        "closed_at": now,
                    }
                )
                self._finish(reservation, final, clear=[])
                raise InsufficientStockError("Not enough stock for this reservation", details=short)
            final = reservation.model_copy(update={"status": ReservationStatus.HELD, "steps": steps})
            self.reservations.add_holds(final)
            self._finish(reservation, final, clear=steps)
            return final
        committing = reservation.status is ReservationStatus.COMMITTING
        movements = []
        for step in reservation.steps:
            delta = (
                Delta(on_hand=-step.quantity, reserved=-step.quantity)
                if committing
                else _hold(step).inverse()
            )
            assert step.location_id is not None and step.bucket is not None
            self._expect(
                self.stock.apply(step.sku, step.location_id, step.bucket, op_id, delta, now=now),
                step.sku,
                step.location_id,
            )
            if committing:
                movements.append(
                    Movement(
                        at=now,
                        op_id=op_id,
                        sku=step.sku,
                        location_id=step.location_id,
                        on_hand=-step.quantity,
                        available=0,
                        reason="sale",
                        source=reservation.channel_id,
                        reference=reservation.order_id,
                    )
                )
        self.stock.record_movements(movements)
        final_status = ReservationStatus.COMMITTED if committing else ReservationStatus.RELEASED
        final = reservation.model_copy(update={"status": final_status, "closed_at": now})
        self.reservations.remove_holds(final)
        self._finish(reservation, final, clear=reservation.steps)
        return final

    def _take(self, reservation: Reservation, now: datetime) -> tuple[list[Step], dict[str, Any] | None]:
        """Hold each step at its first candidate location with stock; stop at the first short one."""
        op_id = reservation.op_id
        done: list[Step] = []
        for step in reservation.steps:
            placed = None
            for location_id in step.candidates:
                placed = self._take_at(step, location_id, op_id, now)
                if placed is not None:
                    break
            if placed is None:
                sellable = {
                    location_id: (level.sellable if level else 0)
                    for location_id in step.candidates
                    for level in [self.level(step.sku, location_id)]
                }
                return done, {"sku": step.sku, "quantity": step.quantity, "sellable": sellable}
            done.append(placed)
        return done, None

    def _take_at(self, step: Step, location_id: str, op_id: str, now: datetime) -> Step | None:
        settings = self.stock.settings(step.sku, location_id)
        if settings is None:
            return None
        for bucket in _pick_order(settings.buckets, self.chooser):
            keep_free = settings.safety_stock if bucket == 0 else 0
            outcome = self.stock.apply(
                step.sku, location_id, bucket, op_id, _hold(step), keep_free=keep_free, now=now
            )
            if outcome in (Outcome.APPLIED, Outcome.ALREADY):
                return step.model_copy(update={"location_id": location_id, "bucket": bucket})
        return None

    def _finish(self, before: Reservation, final: Reservation, *, clear: Sequence[Step]) -> None:
        final = final.model_copy(update={"version": before.version + 1})
        if not self.reservations.save(final, expected_version=before.version):
            raise OperationInProgressError("The reservation changed meanwhile; retry")
        for step in clear:
            if step.location_id is not None and step.bucket is not None:
                self.stock.clear(step.sku, step.location_id, step.bucket, [before.op_id])
        self.listener.stock_changed(
            sorted({(step.sku, step.location_id) for step in final.steps if step.location_id})
        )


def _hold(step: Step) -> Delta:
    return Delta(reserved=step.quantity, available=-step.quantity)


# ------------------------------------------------------------------ orders from the bus
class SaleLine(BaseModel):
    sku: str
    quantity: int


def sell_order(
    inventory: Inventory, *, order_id: str, lines: Sequence[SaleLine], location_id: str, source: str
) -> list[Movement]:
    """An order that took no reservation here (a till sale, a marketplace order): its stock leaves
    `location_id` once however often the event arrives, and not at all if a reservation sold it."""
    sale = inventory.reservations.claim(
        f"order:{order_id}",
        {"location_id": location_id, "lines": [line.model_dump() for line in _merged(lines)]},
        now=inventory.clock.now(),
    )
    if sale is not None and (sale.get("reservation_id") or sale.get("location_id") != location_id):
        return []  # a reservation sells this order, or another location did
    return [
        inventory.adjust(
            line.sku,
            location_id,
            -line.quantity,
            op_id=f"sale:{order_id}:{line.sku}",
            reason="sale",
            source=source,
            reference=order_id,
        )
        for line in _merged(lines)
    ]


def restock_refund(
    inventory: Inventory, *, order_id: str, refund_id: str, lines: Sequence[SaleLine], source: str
) -> list[Movement]:
    """Returned units go back where the order took them from, once per refund and SKU."""
    sale = inventory.reservations.claimed(f"order:{order_id}")
    if sale is None:
        return []
    origin = {
        line["sku"]: line.get("location_id") or sale.get("location_id")
        for line in sale.get("lines", [])
        if isinstance(line, dict) and "sku" in line
    }
    sold = {line["sku"]: int(line["quantity"]) for line in sale.get("lines", []) if isinstance(line, dict)}
    movements = []
    for line in _merged(lines):
        location_id = origin.get(line.sku)
        if not location_id:
            continue
        movements.append(
            inventory.adjust(
                line.sku,
                location_id,
                min(line.quantity, sold.get(line.sku, 0)),
                op_id=f"return:{refund_id}:{line.sku}",
                reason="returned",
                source=source,
                reference=order_id,
            )
        )
    return [movement for movement in movements if movement.on_hand]


def _merged(lines: Sequence[SaleLine]) -> list[SaleLine]:
    totals: dict[str, int] = {}
    for line in lines:
        if line.quantity > 0:
            totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return [SaleLine(sku=sku, quantity=quantity) for sku, quantity in sorted(totals.items())]


# ------------------------------------------------------------------ API bodies
class CountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on_hand: int = Field(ge=0, le=100_000_000)
    request_id: str = Field(pattern=r"^[A-Za-z0-9:_.-]{1,128}$")
    expected_on_hand: int | None = Field(default=None, ge=0)
    counted_at: datetime | None = None
    source: str = Field(default="admin", max_length=63)


class AdjustmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: int = Field(ge=-100_000_000, le=100_000_000)
    request_id: str = Field(pattern=r"^[A-Za-z0-9:_.-]{1,128}$")
    reason: Literal["received", "damaged", "lost", "found", "returned", "correction", "transfer"] = (
        "correction"
    )
    source: str = Field(default="admin", max_length=63)
    reference: str | None = Field(default=None, max_length=200)

    @field_validator("quantity")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("quantity must not be 0")
        return value


class StockSettingsChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    safety_stock: int | None = Field(default=None, ge=0, le=100_000_000)
    incoming: int | None = Field(default=None, ge=0, le=100_000_000)
    buckets: int | None = Field(default=None, ge=1, le=MAX_BUCKETS)


class CommitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(min_length=1, max_length=128)
