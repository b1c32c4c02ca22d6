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

About 600 lines on purpose: `Inventory` is one protocol (record, apply, finalise, clear, resume)
whose steps share private helpers; the records themselves are in `stock`, the ports in `ports`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.domain.commerce.ports import ChangeListener, LocationDirectory, ReservationStore, StockStore
from shared.domain.commerce.stock import (
    CLOSED,
    LEASE,
    TRANSITIONAL,
    Delta,
    IdempotencyMismatchError,
    InsufficientStockError,
    Movement,
    OperationInProgressError,
    Outcome,
    Reservation,
    ReservationClosedError,
    ReservationRequest,
    ReservationStatus,
    SaleLine,
    StaleCountError,
    Step,
    StockLevel,
    StockSettings,
    aggregate,
    reservation_id_for,
)
from shared.domain.kernel.errors import InvalidInputError, NotFoundError
from shared.domain.kernel.ports import Clock

# ------------------------------------------------------------------ counters


def _pick_order(buckets: int, chooser: random.Random) -> list[int]:
    """Buckets to try, starting at a random one so concurrent takers spread out."""
    start = chooser.randrange(buckets)
    return [(start + offset) % buckets for offset in range(buckets)]


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
