"""Recommendations served: each customer's purchase history kept as orders arrive, the model rebuilt
nightly from every history, and a ranked list on request that asks the shelf (inventory and
prices) what is available where and what is on offer.

- **Purchase history**: one item per customer with their last `HISTORY_KEPT` orders (SKUs and
  when), written once per order id from `OrderPlaced`, whichever channel sold it. Buy-again and
  "just bought" read it, so they follow a new order at once (the cheap incremental part); the
  co-purchase neighbours follow nightly.
- **Fit** (千人千面): a price-driven customer's candidates on offer now weigh `OFFER_WEIGHT`; a
  service-oriented customer's services and premium products (base price at or above the
  catalogue's 75th percentile, computed nightly) weigh `SERVICE_WEIGHT`; premium and
  opinion-leader tiers' premium products weigh `PREMIUM_WEIGHT`. Weights multiply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.kernel.errors import ConcurrentUpdateError
from shared.domain.kernel.ports import Clock
from shared.domain.recommendations.scoring import (
    Model,
    Order,
    Recommendation,
    build_model,
    candidates,
    recommend,
)

HISTORY_KEPT = 50
POPULAR_KEPT = 100
MAX_LIMIT = 50
OFFER_WEIGHT = 1.5
SERVICE_WEIGHT = 1.5
PREMIUM_WEIGHT = 1.25
SERVICE_CATEGORY = "service"
PREMIUM_TIERS = frozenset({"premium", "opinion_leader"})


class Purchase(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    order_id: str = Field(alias="o")
    at: int = Field(alias="t")  # epoch seconds: the item is read on every request
    skus: list[str] = Field(alias="s")


class PurchaseHistory(BaseModel):
    profile_id: str
    purchases: list[Purchase] = Field(default_factory=list)
    version: int = 0  # 0: not stored yet

    def with_order(self, order_id: str, at: datetime, skus: Sequence[str]) -> PurchaseHistory | None:
        """This order added (the newest `HISTORY_KEPT` kept), or None when it is already here."""
        if any(p.order_id == order_id for p in self.purchases):
            return None
        added = Purchase(order_id=order_id, at=int(at.timestamp()), skus=sorted(set(skus))[:100])
        kept = sorted([*self.purchases, added], key=lambda p: (p.at, p.order_id))[-HISTORY_KEPT:]
        return self.model_copy(update={"purchases": kept})

    def orders(self) -> list[Order]:
        return [
            Order(
                profile_id=self.profile_id,
                order_id=p.order_id,
                at=datetime.fromtimestamp(p.at, UTC),
                skus=frozenset(p.skus),
            )
            for p in self.purchases
        ]


class ModelSummary(BaseModel):
    """The nightly model's head: its popular list and what it was built from."""

    built_at: datetime
    customers: int
    products: int
    orders: int
    pairs: int  # products with at least one neighbour
    popular: list[tuple[str, float]] = Field(default_factory=list)
    premium_from: Decimal | None = None  # base price from which a product counts as premium


class RecommendationStore(Protocol):
    def histories(self, profile_ids: Sequence[str]) -> dict[str, PurchaseHistory]: ...

    def save_history(self, history: PurchaseHistory) -> bool:
        """Conditional on `version`; False when another writer got there first."""
        ...

    def history_pages(self, *, after: str | None, limit: int) -> tuple[list[PurchaseHistory], str | None]: ...

    def forget_person(self, profile_id: str) -> None: ...

    def neighbours(self, skus: Sequence[str]) -> dict[str, list[tuple[str, float]]]: ...

    def summary(self) -> ModelSummary | None: ...

    def save_model(self, neighbours: dict[str, list[tuple[str, float]]], summary: ModelSummary) -> None:
        """Every product's neighbours, then the summary (items not rewritten expire)."""
        ...


@dataclass(frozen=True)
class ProductFacts:
    price: Decimal
    base: Decimal
    category: str | None = None

    @property
    def on_offer(self) -> bool:
        return self.price < self.base


class Shelf(Protocol):
    """Commerce as recommendations see it."""

    def facts(self, skus: Sequence[str], channel_id: str | None) -> dict[str, ProductFacts]: ...

    def available(self, sku: str, *, channel_id: str | None, location_id: str | None) -> bool:
        """Sellable at the location, published on the channel, or (neither) sellable somewhere."""
        ...

    def base_prices(self) -> list[Decimal]: ...


@dataclass(frozen=True)
class Shopper:
    profile_id: str
    merged_from: tuple[str, ...] = ()
    price_sensitivity: str | None = None  # the classification's: price_driven, service_oriented, …
    tier: str | None = None


def fit_weight(shopper: Shopper, facts: ProductFacts | None, premium_from: Decimal | None) -> float:
    if facts is None:
        return 1.0
    premium = premium_from is not None and facts.base >= premium_from
    weight = 1.0
    if shopper.price_sensitivity == "price_driven" and facts.on_offer:
        weight *= OFFER_WEIGHT
    if shopper.price_sensitivity == "service_oriented" and (facts.category == SERVICE_CATEGORY or premium):
        weight *= SERVICE_WEIGHT
    if shopper.tier in PREMIUM_TIERS and premium:
        weight *= PREMIUM_WEIGHT
    return weight


def percentile(values: Sequence[Decimal], share: float) -> Decimal | None:
    """Nearest-rank percentile (0.75: the value three quarters of `values` are at or below)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(share * 100) * len(ordered) // 100))
    return ordered[rank - 1]


@dataclass
class Recommender:
    store: RecommendationStore
    shelf: Shelf
    clock: Clock

    def record_order(self, profile_id: str, order_id: str, at: datetime, skus: Sequence[str]) -> bool:
        """Idempotent per order id; retried on a concurrent writer. True when newly recorded."""
        if not skus:
            return False
        for _ in range(5):
            current = self.store.histories([profile_id]).get(profile_id) or PurchaseHistory(
                profile_id=profile_id
            )
            updated = current.with_order(order_id, at, skus)
            if updated is None:
                return False
            if self.store.save_history(updated):
                return True
        raise ConcurrentUpdateError(f"The purchase history of {profile_id} kept changing; retry")

    def history(self, shopper: Shopper) -> list[Order]:
        """The customer's orders, with those of the profiles merged into them."""
        found = self.store.histories([shopper.profile_id, *shopper.merged_from])
        orders = [o for history in found.values() for o in history.orders()]
        return sorted({o.order_id: o for o in orders}.values(), key=lambda o: (o.at, o.order_id))

    def for_shopper(
        self,
        shopper: Shopper,
        *,
        channel_id: str | None = None,
        location_id: str | None = None,
        limit: int = 5,
    ) -> list[Recommendation]:
        summary = self.store.summary()
        history = self.history(shopper)
        owned = sorted({sku for order in history for sku in order.skus})
        model = Model(neighbours=self.store.neighbours(owned), top=summary.popular if summary else [])
        facts = self.shelf.facts(candidates(model, history), channel_id)
        premium_from = summary.premium_from if summary else None
        return recommend(
            model,
            history,
            now=self.clock.now(),
            available=lambda sku: self.shelf.available(sku, channel_id=channel_id, location_id=location_id),
            limit=max(1, min(limit, MAX_LIMIT)),
            fit=lambda sku: fit_weight(shopper, facts.get(sku), premium_from),
        )

    def rebuild(self, *, page: int = 500, progress: Callable[[int], None] = lambda _n: None) -> ModelSummary:
        """Nightly: every customer's history read page by page, the model built and saved."""
        orders: list[Order] = []
        after: str | None = None
        read = 0
        while True:
            histories, after = self.store.history_pages(after=after, limit=page)
            for history in histories:
                orders += history.orders()
            read += len(histories)
            progress(read)
            if after is None:
                break
        model = build_model(orders)
        summary = ModelSummary(
            built_at=self.clock.now(),
            customers=model.customers,
            products=len(model.buyers),
            orders=len(orders),
            pairs=len(model.neighbours),
            popular=[(sku, round(share, 6)) for sku, share in model.popular[:POPULAR_KEPT]],
            premium_from=percentile(self.shelf.base_prices(), 0.75),
        )
        self.store.save_model(model.neighbours, summary)
        return summary
