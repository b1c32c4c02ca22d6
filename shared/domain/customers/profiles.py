"""The unified customer profile: one item per person, folded from their touchpoints.

Every field is folded so that the result does not depend on the order touchpoints arrive in:
traits are latest-`occurred_at`-wins per trait (ties by touchpoint id), counters are sums, first
and last times are min and max, the engagement hour is a histogram. Processing a shuffled,
duplicated stream gives the same profile as processing it once in time order.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.ingest.payloads import mapping
from shared.domain.ingest.touchpoints import ConsentStatus, Touchpoint, TouchpointType
from shared.domain.kernel.identifiers import Identifier, IdentifierType

MAX_TRAITS = 100
MAX_TRAIT_BYTES = 1024
RECENT_ORDERS_KEPT = 50
BEHAVIOUR_KEYS_KEPT = 40  # most recent behaviour keys (event, event|sku) and skus bought
# Events that make a loyal customer an advocate (reviews and referrals).
ADVOCACY_EVENTS = frozenset(
    {"Product Reviewed", "Review Submitted", "Referral Sent", "Friend Referred", "Referral Completed"}
)  # order ids remembered to count an order once (orders/create + orders/paid)
APPLIED_MEMORY = timedelta(minutes=15)  # ≫ one invocation: see `Profile.applied`

# Touchpoints that are data syncs rather than the person engaging.
_NOT_ENGAGEMENT = {
    TouchpointType.IDENTIFY,
    TouchpointType.ALIAS,
    TouchpointType.GROUP,
    TouchpointType.CUSTOMER,
    TouchpointType.INVENTORY,
}
# More restrictive first: on a merge the more restrictive status wins.
_RESTRICTIVENESS = [ConsentStatus.REVOKED, ConsentStatus.DENIED, ConsentStatus.GRANTED]


class TraitValue(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: Any
    at: datetime
    by: str  # the touchpoint that set it: breaks ties between equal timestamps


class ConsentState(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: ConsentStatus
    at: datetime
    source_id: str
    reason: str
    conflict: bool = False  # two merged profiles disagreed; the more restrictive status was kept


class Profile(BaseModel):
    """State of one person. `version` is the optimistic-lock counter of the stored item."""

    profile_id: str
    version: int = 0
    created_at: datetime | None = None  # first seen: min occurred_at of everything folded in
    last_seen_at: datetime | None = None
    identifiers: list[Identifier] = Field(default_factory=list)
    traits: dict[str, TraitValue] = Field(default_factory=dict)
    consent: dict[str, ConsentState] = Field(default_factory=dict)  # "<channel>:<purpose>"
    orders: int = 0
    revenue: Decimal = Decimal(0)
    currency: str | None = None
    refunds: int = 0
    refunded: Decimal = Decimal(0)
    discounted_orders: int = 0
    first_purchase_at: datetime | None = None
    last_purchase_at: datetime | None = None
    purchases_by_channel: dict[str, int] = Field(default_factory=dict)
    touches_by_channel: dict[str, int] = Field(default_factory=dict)
    touches_by_device: dict[str, int] = Field(default_factory=dict)
    last_seen_by_channel: dict[str, datetime] = Field(default_factory=dict)
    touches_by_hour: list[int] = Field(default_factory=lambda: [0] * 24)  # UTC hours
    recent_orders: dict[str, tuple[datetime, str]] = Field(default_factory=dict)  # → (at, touchpoint)
    # Behaviour for segment windows, as epoch seconds (compact: every byte is billed on each write).
    last_did: dict[str, int] = Field(default_factory=dict)  # "Product Viewed", "Product Viewed|sku-1"
    last_bought: dict[str, int] = Field(default_factory=dict)  # sku → last purchase
    purchases_by_month: list[int] = Field(default_factory=lambda: [0] * 12)  # Jan..Dec, any year
    advocacy: int = 0  # reviews and referrals
    last_cart_at: datetime | None = None
    # Touchpoint ids folded in during the last APPLIED_MEMORY, with when. The effect and this
    # dedupe mark are one conditional write of this item, so a crash between it and archiving
    # the touchpoint never counts the touchpoint twice. Older duplicates are caught by the archive.
    applied: dict[str, tuple[datetime, str | None]] = Field(default_factory=dict)  # → (when, previous)
    # The newest touchpoint folded in: the head of the profile's history, a chain through the
    # archive (each archived touchpoint names the one folded before it). Listing, export and
    # erasure walk it; it costs no write of its own.
    last_touchpoint: str | None = None
    merged_into: str | None = None
    merged_from: list[str] = Field(default_factory=list)
    separated_from: list[str] = Field(default_factory=list)  # unmerged: never merged again

    # -------------------------------------------------------------------------- derived views

    @property
    def exists(self) -> bool:
        return self.created_at is not None

    def identifier_values(self, identifier_type: IdentifierType) -> list[str]:
        return [i.value for i in self.identifiers if i.type == identifier_type]

    @property
    def average_order_value(self) -> Decimal | None:
        return (self.revenue / self.orders).quantize(Decimal("0.01")) if self.orders else None

    @property
    def purchase_interval_days(self) -> float | None:
        """Mean days between purchases: the customer's own purchase cycle."""
        if self.orders < 2 or self.first_purchase_at is None or self.last_purchase_at is None:
            return None
        span = self.last_purchase_at - self.first_purchase_at
        return round(span.total_seconds() / 86400 / (self.orders - 1), 2)

    @property
    def preferred_channel(self) -> str | None:
        return _argmax(self.touches_by_channel)

    @property
    def best_hour_utc(self) -> int | None:
        if not any(self.touches_by_hour):
            return None
        return max(range(24), key=lambda hour: (self.touches_by_hour[hour], -hour))

    def trait(self, name: str) -> Any:
        found = self.traits.get(name)
        return None if found is None else found.value

    def view(self) -> dict[str, Any]:
        """The public representation (API, export, events)."""
        return {
            "profile_id": self.profile_id,
            "created_at": _iso(self.created_at),
            "last_seen_at": _iso(self.last_seen_at),
            "identifiers": [{"type": i.type.value, "value": i.value} for i in self.identifiers],
            "traits": {name: trait.value for name, trait in sorted(self.traits.items())},
            "birthday": self.trait("birthday"),
            "timezone": self.trait("timezone"),
            "locale": self.trait("locale"),
            "home_store": self.trait("home_store"),
            "consent": {key: state.model_dump(mode="json") for key, state in sorted(self.consent.items())},
            "orders": self.orders,
            "revenue": str(self.revenue),
            "currency": self.currency,
            "average_order_value": _str_or_none(self.average_order_value),
            "refunds": self.refunds,
            "refunded": str(self.refunded),
            "discounted_orders": self.discounted_orders,
            "first_purchase_at": _iso(self.first_purchase_at),
            "last_purchase_at": _iso(self.last_purchase_at),
            "purchase_interval_days": self.purchase_interval_days,
            "purchases_by_channel": dict(sorted(self.purchases_by_channel.items())),
            "touches_by_channel": dict(sorted(self.touches_by_channel.items())),
            "touches_by_device": dict(sorted(self.touches_by_device.items())),
            "last_seen_by_channel": {k: _iso(v) for k, v in sorted(self.last_seen_by_channel.items())},
            "preferred_channel": self.preferred_channel,
            "best_hour_utc": self.best_hour_utc,
            "merged_from": sorted(self.merged_from),
            "separated_from": sorted(self.separated_from),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _str_or_none(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _argmax(counts: dict[str, int]) -> str | None:
    if not counts:
        return None
    return min(counts, key=lambda key: (-counts[key], key))


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _newer(candidate: TraitValue, current: TraitValue | None) -> bool:
    return current is None or (candidate.at, candidate.by) > (current.at, current.by)


def _fits(value: Any) -> bool:
    try:
        return len(json.dumps(value, default=str, ensure_ascii=False).encode()) <= MAX_TRAIT_BYTES
    except (TypeError, ValueError):
        return False


def touchpoint_traits(touchpoint: Touchpoint) -> dict[str, Any]:
    """The traits a touchpoint asserts: its traits plus the device's timezone and locale."""
    traits = dict(touchpoint.traits)
    for name in ("timezone", "locale"):
        value = touchpoint.context.get(name)
        if isinstance(value, str) and value and name not in traits:
            traits[name] = value
    return traits


def consent_key(channel: str, purpose: str) -> str:
    return f"{channel}:{purpose}"


def device_kind(touchpoint: Touchpoint) -> str:
    kind = mapping(touchpoint.context.get("device")).get("type")
    return str(kind).lower()[:40] if isinstance(kind, str) and kind else "unknown"


# ------------------------------------------------------------------------------ folding


def add_identifiers(profile: Profile, identifiers: list[Identifier]) -> None:
    for identifier in identifiers:
        if identifier not in profile.identifiers:
            profile.identifiers.append(identifier)
    profile.identifiers.sort(key=lambda i: (i.type.value, i.value))


def apply_touchpoint(profile: Profile, touchpoint: Touchpoint, *, applied_at: datetime) -> set[str]:
    """Fold one touchpoint into `profile` (in place). Returns the names of changed fields.
    A touchpoint already folded in (see `applied`) changes nothing."""
    if touchpoint.touchpoint_id in profile.applied:
        return set()
    changed: set[str] = set()
    at = touchpoint.occurred_at
    profile.applied[touchpoint.touchpoint_id] = (applied_at, profile.last_touchpoint)
    profile.last_touchpoint = touchpoint.touchpoint_id
    if profile.created_at is None or at < profile.created_at:
        profile.created_at = at
        changed.add("created_at")
    if profile.last_seen_at is None or at > profile.last_seen_at:
        profile.last_seen_at = at
        changed.add("last_seen_at")
    changed |= _fold_traits(profile, touchpoint)
    changed |= _fold_consent(profile, touchpoint)
    if touchpoint.type not in _NOT_ENGAGEMENT:
        channel = touchpoint.channel.value
        profile.touches_by_channel[channel] = profile.touches_by_channel.get(channel, 0) + 1
        device = device_kind(touchpoint)
        profile.touches_by_device[device] = profile.touches_by_device.get(device, 0) + 1
        profile.touches_by_hour[at.hour] += 1
        profile.last_seen_by_channel[channel] = _latest(profile.last_seen_by_channel.get(channel), at) or at
        changed |= {"touches_by_channel", "touches_by_device", "last_seen_by_channel", "best_hour_utc"}
    changed |= _fold_behaviour(profile, touchpoint)
    if touchpoint.type is TouchpointType.ORDER:
        changed |= _fold_order(profile, touchpoint)
    elif touchpoint.type is TouchpointType.REFUND:
        profile.refunds += 1
        amount = touchpoint.order.total if touchpoint.order and touchpoint.order.total else Decimal(0)
        profile.refunded += abs(amount)
        changed |= {"refunds", "refunded"}
    return changed


def behaviour_keys(touchpoint: Touchpoint) -> list[str]:
    """What a touchpoint did, as segment rules name it: the event (a page or screen as
    `page:<name>`), and with `|<sku>` when it concerns one product."""
    if touchpoint.type in _NOT_ENGAGEMENT or not touchpoint.event:
        return []
    name = touchpoint.event[:100]
    if touchpoint.type in (TouchpointType.PAGE, TouchpointType.SCREEN):
        name = f"{touchpoint.type.value}:{name}"
    sku = touchpoint.properties.get("sku") or touchpoint.properties.get("product_id")
    keys = [name]
    if isinstance(sku, str | int) and not isinstance(sku, bool) and str(sku):
        keys.append(f"{name}|{str(sku)[:100]}")
    return keys


def _remember(memory: dict[str, int], key: str, at: int) -> None:
    memory[key] = max(memory.get(key, at), at)
    if len(memory) > BEHAVIOUR_KEYS_KEPT:
        del memory[min(memory, key=lambda k: (memory[k], k))]


def _fold_behaviour(profile: Profile, touchpoint: Touchpoint) -> set[str]:
    at = int(touchpoint.occurred_at.timestamp())
    changed: set[str] = set()
    for key in behaviour_keys(touchpoint):
        _remember(profile.last_did, key, at)
        changed.add("behaviour")
    if touchpoint.event in ADVOCACY_EVENTS:
        profile.advocacy += 1
        changed.add("advocacy")
    if touchpoint.type is TouchpointType.CART:
        profile.last_cart_at = _latest(profile.last_cart_at, touchpoint.occurred_at)
        changed.add("last_cart_at")
    return changed


def order_key(touchpoint: Touchpoint) -> str:
    order = touchpoint.order
    return (
        order.order_id if order is not None and order.order_id else f"touchpoint:{touchpoint.touchpoint_id}"
    )


def _fold_order(profile: Profile, touchpoint: Touchpoint) -> set[str]:
    key = order_key(touchpoint)
    at = touchpoint.occurred_at
    if key in profile.recent_orders:  # the same order from another topic (created, then paid)
        return set()
    profile.recent_orders[key] = (at, touchpoint.touchpoint_id)
    if len(profile.recent_orders) > RECENT_ORDERS_KEPT:
        oldest = min(profile.recent_orders, key=lambda k: (profile.recent_orders[k], k))
        del profile.recent_orders[oldest]
    order = touchpoint.order
    profile.orders += 1
    profile.revenue += order.total if order is not None and order.total is not None else Decimal(0)
    if order is not None and order.currency:
        profile.currency = order.currency
    if order is not None and order.discount:
        profile.discounted_orders += 1
    profile.first_purchase_at = _earliest(profile.first_purchase_at, at)
    profile.last_purchase_at = _latest(profile.last_purchase_at, at)
    channel = touchpoint.channel.value
    profile.purchases_by_channel[channel] = profile.purchases_by_channel.get(channel, 0) + 1
    profile.purchases_by_month[at.month - 1] += 1
    for line in order.lines if order is not None else []:
        if line.sku:
            _remember(profile.last_bought, line.sku[:100], int(at.timestamp()))
    return {
        "purchases_by_month",
        "last_bought",
        "orders",
        "revenue",
        "average_order_value",
        "first_purchase_at",
        "last_purchase_at",
        "purchase_interval_days",
        "purchases_by_channel",
    }


def _fold_traits(profile: Profile, touchpoint: Touchpoint) -> set[str]:
    changed: set[str] = set()
    for name, value in touchpoint_traits(touchpoint).items():
        if not isinstance(name, str) or not name or len(name) > 100 or not _fits(value):
            continue
        if name not in profile.traits and len(profile.traits) >= MAX_TRAITS:
            continue
        candidate = TraitValue(value=value, at=touchpoint.occurred_at, by=touchpoint.touchpoint_id)
        current = profile.traits.get(name)
        if _newer(candidate, current):
            profile.traits[name] = candidate
            if current is None or current.value != value:
                changed.add(f"traits.{name}")
    return changed


def _fold_consent(profile: Profile, touchpoint: Touchpoint) -> set[str]:
    changed: set[str] = set()
    for signal in touchpoint.consent:
        key = consent_key(signal.channel.value, signal.purpose)
        candidate = ConsentState(
            status=signal.status,
            at=touchpoint.occurred_at,
            source_id=touchpoint.source_id,
            reason=signal.reason,
        )
        current = profile.consent.get(key)
        if current is None or (candidate.at, candidate.status.value) > (current.at, current.status.value):
            profile.consent[key] = candidate
            if current is None or current.status is not candidate.status:
                changed.add(f"consent.{key}")
    return changed


def forget_old_applied(profile: Profile, *, now: datetime) -> None:
    horizon = now - APPLIED_MEMORY
    profile.applied = {tid: mark for tid, mark in profile.applied.items() if mark[0] > horizon}


def fold_profiles(survivor: Profile, loser: Profile) -> None:
    """Fold `loser` into `survivor` (in place) on a merge. Commutative for counters and times;
    traits keep the newest; consent keeps the more restrictive status when the two disagree."""
    add_identifiers(survivor, loser.identifiers)
    survivor.created_at = _earliest(survivor.created_at, loser.created_at)
    survivor.last_seen_at = _latest(survivor.last_seen_at, loser.last_seen_at)
    for name, trait in loser.traits.items():
        if _newer(trait, survivor.traits.get(name)) and (
            name in survivor.traits or len(survivor.traits) < MAX_TRAITS
        ):
            survivor.traits[name] = trait
    for key, state in loser.consent.items():
        survivor.consent[key] = _restrictive(survivor.consent.get(key), state)
    survivor.orders += loser.orders
    survivor.revenue += loser.revenue
    survivor.currency = survivor.currency or loser.currency
    survivor.refunds += loser.refunds
    survivor.refunded += loser.refunded
    survivor.discounted_orders += loser.discounted_orders
    survivor.first_purchase_at = _earliest(survivor.first_purchase_at, loser.first_purchase_at)
    survivor.last_purchase_at = _latest(survivor.last_purchase_at, loser.last_purchase_at)
    for target, source in (
        (survivor.purchases_by_channel, loser.purchases_by_channel),
        (survivor.touches_by_channel, loser.touches_by_channel),
        (survivor.touches_by_device, loser.touches_by_device),
    ):
        for key, count in source.items():
            target[key] = target.get(key, 0) + count
    for channel, at in loser.last_seen_by_channel.items():
        survivor.last_seen_by_channel[channel] = _latest(survivor.last_seen_by_channel.get(channel), at) or at
    survivor.touches_by_hour = [
        a + b for a, b in zip(survivor.touches_by_hour, loser.touches_by_hour, strict=True)
    ]
    survivor.purchases_by_month = [
        a + b for a, b in zip(survivor.purchases_by_month, loser.purchases_by_month, strict=True)
    ]
    for memory, other in ((survivor.last_did, loser.last_did), (survivor.last_bought, loser.last_bought)):
        for key, moment in other.items():
            _remember(memory, key, moment)
    survivor.advocacy += loser.advocacy
    survivor.last_cart_at = _latest(survivor.last_cart_at, loser.last_cart_at)
    for key, seen in loser.recent_orders.items():
        survivor.recent_orders[key] = min(survivor.recent_orders.get(key, seen), seen)
    survivor.applied.update({tid: mark for tid, mark in loser.applied.items() if tid not in survivor.applied})
    survivor.merged_from = sorted({*survivor.merged_from, loser.profile_id, *loser.merged_from})
    survivor.separated_from = sorted({*survivor.separated_from, *loser.separated_from})


def _restrictive(current: ConsentState | None, other: ConsentState) -> ConsentState:
    if current is None:
        return other
    if current.status is other.status:
        return current if (current.at, current.source_id) >= (other.at, other.source_id) else other
    winner = min((current, other), key=lambda state: _RESTRICTIVENESS.index(state.status))
    return winner.model_copy(update={"conflict": True})


def oldest_first(profiles: list[Profile]) -> list[Profile]:
    """Survivor first: the oldest profile; a profile never stored yet counts as newest."""
    far_future = datetime.max.replace(tzinfo=None)
    return sorted(
        profiles,
        key=lambda p: (p.created_at.replace(tzinfo=None) if p.created_at else far_future, p.profile_id),
    )
