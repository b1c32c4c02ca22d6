"""Customer value and lifecycle: RFMCL scores, lifecycle stage, value tier, price sensitivity.

- **R, F, M** are quintile scores 1-5 among buyers (0 for someone who never bought): R on the
  time of the last purchase (recent is 5), F on the number of orders, M on revenue. The nightly
  recompute computes the cut points over the population (nearest rank at 20/40/60/80 %); live
  updates score against the latest cut points.
- **C** is the customer's own purchase cycle (mean days between purchases), **L** the length of
  the relationship (days since first seen); the next purchase is predicted at last + C.
- **Stage**, first rule that holds: potential (known, never bought) · lapsed (no purchase for
  `lapsed_days`) · at_risk (overdue by more than `at_risk_factor` times their own cycle) · new (first
  purchase within `new_days`) · advocate (loyal and has reviewed or referred) · loyal (at least
  `loyal_min_orders` orders) · active.
- **Value tier**: the 15/35/50 rule by value rank (opinion leaders / intent / to be nurtured), or
  five types (opinion leader, premium, small/medium among buyers; intent and potential among
  the rest).
- **Price sensitivity** from average order value and discount usage (defaults from the brief:
  ≥ 400 service-oriented, ≤ 200 price-driven).

Everything that changes by itself as time passes also says when (`next_change_at`), so a timer
re-evaluates the customer then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.customers.profiles import Profile


class Stage(StrEnum):
    POTENTIAL = "potential"
    NEW = "new"
    ACTIVE = "active"
    LOYAL = "loyal"
    ADVOCATE = "advocate"
    AT_RISK = "at_risk"
    LAPSED = "lapsed"


class Tier(StrEnum):
    OPINION_LEADER = "opinion_leader"
    INTENT = "intent"
    TO_BE_NURTURED = "to_be_nurtured"
    PREMIUM = "premium"
    SMALL_MEDIUM = "small_medium"
    POTENTIAL = "potential"


class PriceSensitivity(StrEnum):
    SERVICE_ORIENTED = "service_oriented"
    BALANCED = "balanced"
    PRICE_DRIVEN = "price_driven"
    UNKNOWN = "unknown"


class LifecycleRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    new_days: int = Field(default=30, ge=1, le=365)
    lapsed_days: int = Field(default=90, ge=1, le=3650)
    at_risk_factor: float = Field(default=1.5, gt=1, le=10)
    loyal_min_orders: int = Field(default=3, ge=2, le=1000)
    advocate_min_advocacy: int = Field(default=1, ge=1, le=1000)


class TierRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    scheme: Literal["15/35/50", "five_types"] = "15/35/50"
    leader_share: float = Field(default=0.15, gt=0, lt=1)  # 15/35/50: top share by value
    intent_share: float = Field(default=0.35, gt=0, lt=1)  # the next share
    opinion_leader_share: float = Field(default=0.05, gt=0, lt=1)  # five types, among buyers
    premium_share: float = Field(default=0.15, gt=0, lt=1)
    intent_cart_days: int = Field(default=30, ge=1, le=365)  # five types: a recent cart, never bought


class PriceRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    service_min_aov: Decimal = Decimal(400)
    price_max_aov: Decimal = Decimal(200)
    discount_share: float = Field(default=0.5, gt=0, le=1)  # of orders with a discount


class ClassificationRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lifecycle: LifecycleRules = LifecycleRules()
    tiers: TierRules = TierRules()
    price: PriceRules = PriceRules()


class CutPoints(BaseModel):
    """Computed nightly over the population. Thresholds ascend; see `quintile_thresholds`."""

    model_config = ConfigDict(frozen=True)

    computed_at: datetime | None = None
    profiles: int = 0
    buyers: int = 0
    recency: list[float] = Field(default_factory=list)  # epoch seconds of the last purchase
    frequency: list[float] = Field(default_factory=list)
    monetary: list[float] = Field(default_factory=list)
    value_leader: float | None = None  # revenue at the top `leader_share` of all profiles
    value_intent: float | None = None  # ... of the top leader_share + intent_share
    buyer_value_leader: float | None = None  # five types: among buyers
    buyer_value_premium: float | None = None


class Scores(BaseModel):
    model_config = ConfigDict(frozen=True)

    r: int = 0
    f: int = 0
    m: int = 0
    c: float | None = None  # days between purchases
    l: int = 0  # noqa: E741 - the brief's name: relationship length in days
    predicted_next_purchase: datetime | None = None


class Classification(BaseModel):
    model_config = ConfigDict(frozen=True)

    scores: Scores = Scores()
    stage: Stage = Stage.POTENTIAL
    tier: Tier = Tier.TO_BE_NURTURED
    price_sensitivity: PriceSensitivity = PriceSensitivity.UNKNOWN
    next_change_at: datetime | None = None  # when time alone may change the stage or tier


def rank_threshold(values: Sequence[float], share_above: float) -> float | None:
    """The smallest value of the top `share_above` of `values` (by rank): values at or above it
    are that share, ties aside."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.floor((1 - share_above) * len(ordered)))]


def quintile_thresholds(values: Sequence[float]) -> list[float]:
    """Nearest-rank 20/40/60/80 % points: a value strictly above k of them scores k + 1."""
    if not values:
        return []
    ordered = sorted(values)
    return [ordered[max(1, math.ceil(k / 5 * len(ordered))) - 1] for k in range(1, 5)]


def quintile(value: float, thresholds: Sequence[float]) -> int:
    return 1 + sum(1 for threshold in thresholds if value > threshold) if thresholds else 3


def facts(profile: Profile) -> tuple[float, float, float] | None:
    """(recency, frequency, monetary) of a buyer, or None."""
    if profile.orders <= 0 or profile.last_purchase_at is None:
        return None
    return profile.last_purchase_at.timestamp(), float(profile.orders), float(profile.revenue)


def compute_cut_points(
    buyers: Sequence[tuple[float, float, float]],
    revenues: Sequence[float],
    *,
    rules: TierRules,
    computed_at: datetime,
) -> CutPoints:
    """From every buyer's (recency, frequency, monetary) and every profile's revenue."""
    buyer_revenue = [m for _r, _f, m in buyers]
    return CutPoints(
        computed_at=computed_at,
        profiles=len(revenues),
        buyers=len(buyers),
        recency=quintile_thresholds([r for r, _f, _m in buyers]),
        frequency=quintile_thresholds([f for _r, f, _m in buyers]),
        monetary=quintile_thresholds(buyer_revenue),
        value_leader=rank_threshold(revenues, rules.leader_share),
        value_intent=rank_threshold(revenues, rules.leader_share + rules.intent_share),
        buyer_value_leader=rank_threshold(buyer_revenue, rules.opinion_leader_share),
        buyer_value_premium=rank_threshold(buyer_revenue, rules.opinion_leader_share + rules.premium_share),
    )


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400


def classify(
    profile: Profile, *, cuts: CutPoints, rules: ClassificationRules, now: datetime
) -> Classification:
    changes: list[datetime] = []
    scores = _scores(profile, cuts, now)
    stage = _stage(profile, rules.lifecycle, now, changes)
    tier = _tier(profile, cuts, rules.tiers, now, changes)
    future = [moment for moment in changes if moment > now]
    return Classification(
        scores=scores,
        stage=stage,
        tier=tier,
        price_sensitivity=_price_sensitivity(profile, rules.price),
        next_change_at=min(future) if future else None,
    )


def _scores(profile: Profile, cuts: CutPoints, now: datetime) -> Scores:
    relationship = int(_days(now - profile.created_at)) if profile.created_at else 0
    cycle = profile.purchase_interval_days
    predicted = (
        profile.last_purchase_at + timedelta(days=cycle)
        if cycle is not None and profile.last_purchase_at
        else None
    )
    buyer = facts(profile)
    if buyer is None:
        return Scores(c=cycle, l=max(relationship, 0), predicted_next_purchase=predicted)
    recency, frequency, monetary = buyer
    return Scores(
        r=quintile(recency, cuts.recency),
        f=quintile(frequency, cuts.frequency),
        m=quintile(monetary, cuts.monetary),
        c=cycle,
        l=max(relationship, 0),
        predicted_next_purchase=predicted,
    )


def _stage(profile: Profile, rules: LifecycleRules, now: datetime, changes: list[datetime]) -> Stage:
    last, first = profile.last_purchase_at, profile.first_purchase_at
    if profile.orders <= 0 or last is None or first is None:
        return Stage.POTENTIAL
    lapsed_at = last + timedelta(days=rules.lapsed_days)
    changes.append(lapsed_at)
    if now >= lapsed_at:
        return Stage.LAPSED
    cycle = profile.purchase_interval_days
    if cycle is not None:
        at_risk_at = last + timedelta(days=rules.at_risk_factor * cycle)
        changes.append(at_risk_at)
        if now > at_risk_at:
            return Stage.AT_RISK
    new_until = first + timedelta(days=rules.new_days)
    changes.append(new_until)
    if now < new_until:
        return Stage.NEW
    if profile.orders >= rules.loyal_min_orders:
        return Stage.ADVOCATE if profile.advocacy >= rules.advocate_min_advocacy else Stage.LOYAL
    return Stage.ACTIVE


def _tier(
    profile: Profile, cuts: CutPoints, rules: TierRules, now: datetime, changes: list[datetime]
) -> Tier:
    revenue = float(profile.revenue)
    if rules.scheme == "15/35/50":
        if revenue > 0 and cuts.value_leader is not None and revenue >= cuts.value_leader:
            return Tier.OPINION_LEADER
        if revenue > 0 and cuts.value_intent is not None and revenue >= cuts.value_intent:
            return Tier.INTENT
        return Tier.TO_BE_NURTURED
    if profile.orders <= 0:
        if profile.last_cart_at is not None:
            intent_until = profile.last_cart_at + timedelta(days=rules.intent_cart_days)
            changes.append(intent_until)
            if now < intent_until:
                return Tier.INTENT
        return Tier.POTENTIAL
    if cuts.buyer_value_leader is not None and revenue >= cuts.buyer_value_leader:
        return Tier.OPINION_LEADER
    if cuts.buyer_value_premium is not None and revenue >= cuts.buyer_value_premium:
        return Tier.PREMIUM
    return Tier.SMALL_MEDIUM


def _price_sensitivity(profile: Profile, rules: PriceRules) -> PriceSensitivity:
    aov = profile.average_order_value
    if aov is None:
        return PriceSensitivity.UNKNOWN
    discounted = profile.discounted_orders / profile.orders >= rules.discount_share
    if aov >= rules.service_min_aov and not discounted:
        return PriceSensitivity.SERVICE_ORIENTED
    if aov <= rules.price_max_aov or discounted:
        return PriceSensitivity.PRICE_DRIVEN
    return PriceSensitivity.BALANCED
