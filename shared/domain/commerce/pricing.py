"""One price book: a base price per SKU, a channel override only where one is set, promotions with
a start and an end. The effective price is computed when it is read, from the clock, so a
promotion takes effect on time on every channel without any job having run; the schedule that
watches promotion boundaries only pushes the new prices out to channels."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.commerce.stock import ID_PATTERN, SKU_PATTERN

CENT = Decimal("0.01")
Money = Decimal


class PriceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(pattern=SKU_PATTERN)
    base: Money = Field(ge=0, le=10_000_000, decimal_places=2)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    category: str | None = Field(default=None, max_length=100)
    overrides: dict[str, Money] = Field(default_factory=dict, description="channel id → price")
    updated_at: datetime | None = None

    @model_validator(mode="after")
    def _overrides_valid(self) -> PriceEntry:
        for channel_id, price in self.overrides.items():
            if not re.fullmatch(ID_PATTERN, channel_id) or price < 0:
                raise ValueError(f"overrides: {channel_id!r} must name a channel and a price >= 0")
        return self


class PriceChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: Money = Field(ge=0, le=10_000_000, decimal_places=2)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    category: str | None = Field(default=None, max_length=100)
    overrides: dict[str, Money] = Field(default_factory=dict, max_length=100)

    @model_validator(mode="after")
    def _overrides_valid(self) -> PriceChange:
        for channel_id, price in self.overrides.items():
            if not re.fullmatch(ID_PATTERN, channel_id):
                raise ValueError(f"overrides: {channel_id!r} is not a channel id")
            if price < 0 or price > 10_000_000 or price != price.quantize(CENT):
                raise ValueError("overrides: prices are between 0 and 10,000,000 with at most 2 decimals")
        return self


class Promotion(BaseModel):
    """Percent or amount off, for the SKUs and/or categories named (none named: every SKU), on the
    channels named (none named: every channel), from `starts_at` until `ends_at` (exclusive)."""

    model_config = ConfigDict(extra="forbid")

    promotion_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["percent", "amount"]
    value: Decimal = Field(gt=0, le=10_000_000)
    skus: list[str] = Field(default_factory=list, max_length=1000)
    categories: list[str] = Field(default_factory=list, max_length=100)
    channels: list[str] = Field(default_factory=list, max_length=100)
    starts_at: datetime
    ends_at: datetime | None = None

    @model_validator(mode="after")
    def _sane(self) -> Promotion:
        if self.kind == "percent" and self.value > 100:
            raise ValueError("value: a percent off is at most 100")
        if self.starts_at.tzinfo is None or (self.ends_at is not None and self.ends_at.tzinfo is None):
            raise ValueError("starts_at and ends_at need a timezone offset")
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def active(self, at: datetime) -> bool:
        return self.starts_at <= at and (self.ends_at is None or at < self.ends_at)

    def applies(self, entry: PriceEntry, channel_id: str) -> bool:
        if self.channels and channel_id not in self.channels:
            return False
        return self.covers(entry)

    def covers(self, entry: PriceEntry) -> bool:
        if not self.skus and not self.categories:
            return True
        return entry.sku in self.skus or (entry.category is not None and entry.category in self.categories)

    def price(self, base: Money) -> Money:
        off = base * self.value / 100 if self.kind == "percent" else self.value
        return max(Decimal(0), (base - off).quantize(CENT, rounding=ROUND_HALF_UP))


class EffectivePrice(BaseModel):
    sku: str
    channel_id: str
    price: Money
    currency: str
    base: Money
    source: Literal["base", "override", "promotion"]
    promotion_id: str | None = None


def effective_price(
    entry: PriceEntry, promotions: Sequence[Promotion], channel_id: str, at: datetime
) -> EffectivePrice:
    """An explicit channel override wins; otherwise the lowest price any active promotion gives
    (ties: the lowest promotion id), otherwise the base price."""
    if channel_id in entry.overrides:
        return EffectivePrice(
            sku=entry.sku,
            channel_id=channel_id,
            price=entry.overrides[channel_id].quantize(CENT),
            currency=entry.currency,
            base=entry.base,
            source="override",
        )
    best: tuple[Money, str] | None = None
    for promotion in promotions:
        if promotion.active(at) and promotion.applies(entry, channel_id):
            candidate = (promotion.price(entry.base), promotion.promotion_id)
            if best is None or candidate < best:
                best = candidate
    if best is not None and best[0] < entry.base:
        return EffectivePrice(
            sku=entry.sku,
            channel_id=channel_id,
            price=best[0],
            currency=entry.currency,
            base=entry.base,
            source="promotion",
            promotion_id=best[1],
        )
    return EffectivePrice(
        sku=entry.sku,
        channel_id=channel_id,
        price=entry.base.quantize(CENT),
        currency=entry.currency,
        base=entry.base,
        source="base",
    )


def boundaries_between(promotions: Sequence[Promotion], after: datetime, until: datetime) -> list[Promotion]:
    """Promotions that started or ended in (after, until]: their prices must be pushed now."""
    return [
        promotion
        for promotion in promotions
        if after < promotion.starts_at <= until
        or (promotion.ends_at is not None and after < promotion.ends_at <= until)
    ]


def covered_skus(store: PriceBookStore, promotions: Sequence[Promotion], *, page: int = 500) -> list[str]:
    """Every SKU in the book one of `promotions` prices (a page at a time)."""
    skus: set[str] = {sku for promotion in promotions for sku in promotion.skus}
    if all(promotion.skus and not promotion.categories for promotion in promotions):
        return sorted(skus)
    after: str | None = None
    while True:
        entries, after = store.price_entries(after=after, limit=page)
        skus |= {entry.sku for entry in entries if any(p.covers(entry) for p in promotions)}
        if after is None:
            return sorted(skus)


def last_boundary(promotions: Sequence[Promotion], entry: PriceEntry, at: datetime) -> datetime | None:
    """When the SKU's promotional price last changed by the clock alone (for drift grace)."""
    moments = [
        moment
        for promotion in promotions
        if promotion.covers(entry)
        for moment in (promotion.starts_at, promotion.ends_at)
        if moment is not None and moment <= at
    ]
    return max(moments) if moments else None


class PriceBookStore(Protocol):
    def entry(self, sku: str) -> PriceEntry | None: ...

    def entries(self, skus: Sequence[str]) -> dict[str, PriceEntry]: ...

    def save_entry(self, entry: PriceEntry) -> None: ...

    def price_entries(self, *, after: str | None, limit: int) -> tuple[list[PriceEntry], str | None]: ...

    def promotions(self) -> list[Promotion]:
        """Every promotion not ended long ago (the book is small: promotions, not prices)."""
        ...

    def save_promotion(self, promotion: Promotion) -> None: ...

    def delete_promotion(self, promotion_id: str) -> bool: ...
