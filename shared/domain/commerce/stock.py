"""Stock and reservations as data: buckets, levels, movements, reservation records and their
steps, the requests the API takes, and the errors. The rules that move them are in
`shared.domain.commerce.inventory`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.domain.kernel.errors import ConflictError, InvalidInputError

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


def reservation_id_for(channel_id: str, request_id: str) -> str:
    return "r" + hashlib.sha256(f"{channel_id}\x1f{request_id}".encode()).hexdigest()[:24]


def aggregate(lines: Sequence[CartLine]) -> list[tuple[str, int]]:
    """Two lines of one SKU are one claim on its stock (bundles must not double-count)."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return sorted(totals.items())


class SaleLine(BaseModel):
    sku: str
    quantity: int


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
