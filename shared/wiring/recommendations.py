"""Recommendations' composition root: the recommendations table, and the shelf they ask, which
is commerce's inventory (what is sellable where) and prices (what is on offer now)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal

from shared import wiring
from shared.adapters.dynamo.recommendations_table import DynamoRecommendations
from shared.domain.commerce.pricing import PriceEntry, effective_price
from shared.domain.commerce.sales_channels import publish
from shared.domain.customers.profiles import Profile
from shared.domain.recommendations.service import ProductFacts, Recommender, Shopper
from shared.settings import get_settings
from shared.wiring import built_once
from shared.wiring import commerce as commerce_wiring
from shared.wiring import segments as segments_wiring


@built_once
def get_recommendation_store() -> DynamoRecommendations:
    settings = get_settings()
    return DynamoRecommendations(
        settings.require("recommendations_table"), cache_seconds=settings.catalog_cache_seconds
    )


class CatalogShelf:
    """Implements Shelf over the catalog table. Price entries are kept per process for the
    catalog's cache time (prices change rarely; stock is read fresh on every call)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, PriceEntry | None]] = {}

    def _priced(self, skus: Sequence[str]) -> dict[str, PriceEntry]:
        now, keep = time.monotonic(), get_settings().catalog_cache_seconds
        missing = [sku for sku in skus if now - self._entries.get(sku, (-1e18, None))[0] >= keep]
        if missing:
            found = commerce_wiring.get_catalog().entries(missing)
            self._entries.update({sku: (now, found.get(sku)) for sku in missing})
        return {sku: entry for sku in skus if (entry := self._entries[sku][1]) is not None}

    def facts(self, skus: Sequence[str], channel_id: str | None) -> dict[str, ProductFacts]:
        catalog = commerce_wiring.get_catalog()
        entries = self._priced(skus)
        promotions = catalog.promotions() if entries else []
        now = wiring.get_clock().now()
        found = {}
        for sku, entry in entries.items():
            price = effective_price(entry, promotions, channel_id or "", now).price
            found[sku] = ProductFacts(price=price, base=entry.base, category=entry.category)
        return found

    def available(self, sku: str, *, channel_id: str | None, location_id: str | None) -> bool:
        catalog = commerce_wiring.get_catalog()
        inventory = commerce_wiring.get_stock_levels()

        def sellable(location: str) -> int:
            level = inventory.level(sku, location)
            return level.sellable if level is not None else 0

        if location_id is not None and sellable(location_id) <= 0:
            return False
        if channel_id is not None:
            channel = catalog.channel(channel_id)
            if channel is None:
                return False
            return publish(sum(sellable(location) for location in channel.locations), channel.rules) > 0
        if location_id is not None:
            return True
        return any(sellable(location.location_id) > 0 for location in catalog.locations())

    def base_prices(self) -> list[Decimal]:
        catalog = commerce_wiring.get_catalog()
        prices: list[Decimal] = []
        after: str | None = None
        while True:
            entries, after = catalog.price_entries(after=after, limit=500)
            prices += [entry.base for entry in entries]
            if after is None:
                return prices


@built_once
def get_shelf() -> CatalogShelf:
    return CatalogShelf()


def get_recommender() -> Recommender:
    return Recommender(store=get_recommendation_store(), shelf=get_shelf(), clock=wiring.get_clock())


def shopper(profile: Profile) -> Shopper:
    """The customer as the ranking weighs them: their classification, if segments computed one."""
    state = (
        segments_wiring.get_segment_store().state(profile.profile_id)
        if get_settings().customers_table
        else None
    )
    summary = getattr(state, "classification", None)
    return Shopper(
        profile_id=profile.profile_id,
        merged_from=tuple(profile.merged_from),
        price_sensitivity=str(summary.price_sensitivity.value) if summary is not None else None,
        tier=str(summary.tier.value) if summary is not None else None,
    )


class RecommendedSkus:
    """Implements engagement's RecommendedProducts: the ranked SKUs for message content."""

    def skus(self, profile: Profile, *, limit: int) -> list[str]:
        return [r.sku for r in get_recommender().for_shopper(shopper(profile), limit=limit)]
