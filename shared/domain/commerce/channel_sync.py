"""Outbound sync: every channel hears the latest availability and price of each SKU, never an older
value after a newer one, and a scheduled reconciliation finds and repairs what drifted.

- A change enqueues (channel, SKU) pairs, not values. The worker reads the truth when it runs, so
  however many changes queued up during an outage, the first push after it carries the current
  value, and the rest find nothing new to send (coalescing: latest value wins).
- One push per (channel, SKU) at a time: the worker takes a short lease on the pair's sync record
  before reading the truth, so two workers cannot send two readings out of order. Each push carries
  a per-pair `sequence` as well, for endpoints that want to check order themselves.
- Reconciliation compares the truth, the last value sent and (when the channel can be read) what the
  channel shows. A pair whose truth changed after the last push is *in flight* (its push is queued)
  unless the change is older than the grace period; a pair whose channel shows something other than
  what was last sent has drifted. Drift is repaired by a forced push and reported.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel

from shared.domain.commerce.inventory import Inventory
from shared.domain.commerce.pricing import PriceBookStore, effective_price, last_boundary
from shared.domain.commerce.sales_channels import ChannelRegistry, SalesChannel, publish
from shared.domain.kernel.errors import DependencyUnavailableError, NotFoundError
from shared.domain.kernel.ports import Clock

SYNC_LEASE = timedelta(seconds=30)  # longer than one push's timeout (5 s) with room to record it
DRIFT_GRACE = timedelta(minutes=5)  # a change younger than this is still in the queue, not drift


class ChannelView(BaseModel):
    """What a channel should show for a SKU right now."""

    channel_id: str
    sku: str
    available: int
    price: Decimal | None = None
    currency: str | None = None
    changed_at: datetime | None = None

    def matches(self, available: int | None, price: Decimal | None) -> bool:
        return available == self.available and _same_price(price, self.price)


def _same_price(left: Decimal | None, right: Decimal | None) -> bool:
    if left is None or right is None:
        return left is right
    return Decimal(left).quantize(Decimal("0.01")) == Decimal(right).quantize(Decimal("0.01"))


class SyncState(BaseModel):
    channel_id: str
    sku: str
    available: int | None = None
    price: Decimal | None = None
    sequence: int = 0
    sent_at: datetime | None = None
    lease_until: datetime | None = None


class SyncStore(Protocol):
    def lease(self, channel_id: str, sku: str, *, now: datetime, until: datetime) -> SyncState | None:
        """Take the pair's lease (None while someone else holds it)."""
        ...

    def sent(self, state: SyncState) -> None:
        """Record what was sent and free the lease."""
        ...

    def free(self, channel_id: str, sku: str) -> None: ...

    def states(
        self, channel_id: str, *, after: str | None, limit: int
    ) -> tuple[list[SyncState], str | None]: ...

    def save_report(self, report: dict[str, Any]) -> None: ...

    def reports(self, *, limit: int) -> list[dict[str, Any]]: ...


class EndpointError(Exception):
    """The channel did not take the push (down, throttling, refused)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ChannelEndpoints(Protocol):
    def push(
        self, channel: SalesChannel, message_id: str, payload: dict[str, Any], *, now: datetime
    ) -> None: ...

    def read(self, channel: SalesChannel, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        """What the channel shows: sku → {"available": int, "price": str}."""
        ...


class SyncRequests(Protocol):
    def request(self, pairs: Sequence[tuple[str, str]], *, force: bool = False) -> None: ...


class PushBusyError(DependencyUnavailableError):
    """Another worker is pushing this pair; this request comes back after it."""

    code = "push_busy"


@dataclass
class SyncFanOut:
    """The inventory's ChangeListener: a change asks for a push to each channel it concerns."""

    registry: ChannelRegistry
    requests: SyncRequests

    def stock_changed(self, keys: Sequence[tuple[str, str]]) -> None:
        """Inventory's ChangeListener: the channels these locations feed hear about these SKUs."""
        pairs = sorted(
            {
                (channel.channel_id, sku)
                for sku, location_id in keys
                for channel in self.registry.channels()
                if channel.endpoint_url and location_id in channel.locations
            }
        )
        if pairs:
            self.requests.request(pairs)

    def price_changed(self, skus: Sequence[str]) -> None:
        pairs = sorted(
            {
                (channel.channel_id, sku)
                for sku in skus
                for channel in self.registry.channels()
                if channel.endpoint_url
            }
        )
        if pairs:
            self.requests.request(pairs)


@dataclass
class ChannelSync:
    registry: ChannelRegistry
    inventory: Inventory
    prices: PriceBookStore
    store: SyncStore
    endpoints: ChannelEndpoints
    requests: SyncRequests
    clock: Clock

    # ---------------------------------------------------------- the truth
    def view(self, channel: SalesChannel, sku: str) -> ChannelView:
        now = self.clock.now()
        pool = 0
        moments: list[datetime] = []
        for location_id in channel.locations:
            level = self.inventory.level(sku, location_id)
            if level is not None:
                pool += level.sellable
                if level.changed_at:
                    moments.append(level.changed_at)
        entry = self.prices.entry(sku)
        price = currency = None
        if entry is not None:
            promotions = self.prices.promotions()
            effective = effective_price(entry, promotions, channel.channel_id, now)
            price, currency = effective.price, effective.currency
            moments += [m for m in (entry.updated_at, last_boundary(promotions, entry, now)) if m is not None]
        return ChannelView(
            channel_id=channel.channel_id,
            sku=sku,
            available=publish(pool, channel.rules),
            price=price,
            currency=currency,
            changed_at=max(moments) if moments else None,
        )

    def _channel(self, channel_id: str) -> SalesChannel:
        channel = self.registry.channel(channel_id)
        if channel is None:
            raise NotFoundError(f"No channel {channel_id!r}")
        return channel

    # ---------------------------------------------------------- the push
    def push(self, channel_id: str, sku: str, *, force: bool = False) -> str:
        channel = self._channel(channel_id)
        if not channel.endpoint_url:
            return "no_endpoint"
        now = self.clock.now()
        state = self.store.lease(channel_id, sku, now=now, until=now + SYNC_LEASE)
        if state is None:
            raise PushBusyError("Another push of this SKU to this channel is running")
        try:
            view = self.view(channel, sku)  # read after the lease: nobody pushes a newer value first
            if not force and state.sent_at is not None and view.matches(state.available, state.price):
                self.store.free(channel_id, sku)
                return "unchanged"
            sequence = state.sequence + 1
            payload = {
                "type": "inventory.updated",
                "timestamp": now.isoformat(),
                "data": {
                    "channel_id": channel_id,
                    "sku": sku,
                    "available": view.available,
                    "price": None if view.price is None else str(view.price),
                    "currency": view.currency,
                    "sequence": sequence,
                },
            }
            self.endpoints.push(channel, f"{channel_id}:{sku}:{sequence}", payload, now=now)
        except BaseException:
            self.store.free(channel_id, sku)
            raise
        self.store.sent(
            state.model_copy(
                update={
                    "available": view.available,
                    "price": view.price,
                    "sequence": sequence,
                    "sent_at": now,
                    "lease_until": None,
                }
            )
        )
        return "pushed"

    # ---------------------------------------------------------- reconciliation
    def reconcile(self, *, page: int = 100) -> dict[str, Any]:
        now = self.clock.now()
        report: dict[str, Any] = {
            "run_at": now.isoformat(),
            "checked": 0,
            "in_sync": 0,
            "in_flight": 0,
            "drifted": 0,
            "unreadable_channels": [],
            "drift": [],
        }
        for channel in self.registry.channels():
            if not channel.endpoint_url:
                continue
            after: str | None = None
            while True:
                states, after = self.store.states(channel.channel_id, after=after, limit=page)
                if states:
                    self._reconcile_page(channel, states, now, report)
                if after is None:
                    break
        self.store.save_report(report)
        return report

    def _reconcile_page(
        self, channel: SalesChannel, states: list[SyncState], now: datetime, report: dict[str, Any]
    ) -> None:
        shown: dict[str, dict[str, Any]] | None = None
        if channel.read_url:
            try:
                shown = self.endpoints.read(channel, [state.sku for state in states])
            except EndpointError as error:
                if channel.channel_id not in report["unreadable_channels"]:
                    report["unreadable_channels"].append(channel.channel_id)
                report.setdefault("errors", []).append(
                    {"channel_id": channel.channel_id, "error": str(error)}
                )
        repairs: list[tuple[str, str]] = []
        for state in states:
            report["checked"] += 1
            if state.lease_until is not None and state.lease_until > now:
                report["in_flight"] += 1  # a push is being made right now
                continue
            view = self.view(channel, state.sku)
            reason = None
            if not view.matches(state.available, state.price):
                if view.changed_at is not None and now - view.changed_at < DRIFT_GRACE:
                    report["in_flight"] += 1
                    continue
                reason = "not_pushed"
            elif shown is not None:
                seen = shown.get(state.sku)
                if seen is None:
                    reason = "missing_on_channel"
                elif not view.matches(_int(seen.get("available")), _decimal(seen.get("price"))):
                    reason = "channel_differs"
            if reason is None:
                report["in_sync"] += 1
                continue
            report["drifted"] += 1
            seen_there = shown.get(state.sku) if shown else None
            report["drift"].append(
                {
                    "channel_id": channel.channel_id,
                    "sku": state.sku,
                    "reason": reason,
                    "truth": {"available": view.available, "price": _text(view.price)},
                    "last_sent": {"available": state.available, "price": _text(state.price)},
                    "channel": seen_there,
                }
            )
            repairs.append((channel.channel_id, state.sku))
        if repairs:
            self.requests.request(repairs, force=True)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def sync_message(channel_id: str, sku: str, *, force: bool) -> str:
    return json.dumps({"channel_id": channel_id, "sku": sku, "force": force}, separators=(",", ":"))
