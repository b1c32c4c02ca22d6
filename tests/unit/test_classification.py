"""Known answers for RFMCL, lifecycle stages, value tiers and price sensitivity on a fixed
population."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.domain.customers.profiles import Profile
from shared.domain.segments.classification import (
    ClassificationRules,
    CutPoints,
    LifecycleRules,
    PriceSensitivity,
    Stage,
    Tier,
    TierRules,
    classify,
    compute_cut_points,
    facts,
    quintile,
    quintile_thresholds,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def buyer(
    n: int, *, orders: int, revenue: int, last_days_ago: float, first_days_ago: float, **extra
) -> Profile:
    return Profile(
        profile_id=f"p{n}",
        created_at=NOW - timedelta(days=first_days_ago + 10),
        orders=orders,
        revenue=Decimal(revenue),
        first_purchase_at=NOW - timedelta(days=first_days_ago),
        last_purchase_at=NOW - timedelta(days=last_days_ago),
        **extra,
    )


# Ten buyers (revenue 100..1000, orders 1..10, last purchase 1..10 days ago) and ten who never bought.
BUYERS = [buyer(n, orders=n, revenue=100 * n, last_days_ago=11 - n, first_days_ago=200) for n in range(1, 11)]
NEVER = [Profile(profile_id=f"q{n}", created_at=NOW - timedelta(days=5)) for n in range(10)]
POPULATION = BUYERS + NEVER


def cuts(rules: TierRules | None = None) -> CutPoints:
    return compute_cut_points(
        [f for p in POPULATION if (f := facts(p))],
        [float(p.revenue) for p in POPULATION],
        rules=rules or TierRules(),
        computed_at=NOW,
    )


def test_quintiles_by_nearest_rank() -> None:
    assert quintile_thresholds([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]) == [20, 40, 60, 80]
    assert [quintile(v, [20, 40, 60, 80]) for v in (10, 20, 21, 60, 80, 81, 100)] == [1, 1, 2, 3, 4, 5, 5]


def test_rfm_scores_on_the_fixed_population() -> None:
    scored = {
        p.profile_id: classify(p, cuts=cuts(), rules=ClassificationRules(), now=NOW).scores for p in BUYERS
    }
    # buyer n: n orders, 100 n revenue, last purchase 11 - n days ago: all three rise with n.
    rfm = [(scored[f"p{n}"].r, scored[f"p{n}"].f, scored[f"p{n}"].m) for n in range(1, 11)]
    assert rfm == [(q, q, q) for q in (1, 1, 2, 2, 3, 3, 4, 4, 5, 5)]
    never = classify(NEVER[0], cuts=cuts(), rules=ClassificationRules(), now=NOW).scores
    assert (never.r, never.f, never.m, never.c, never.l) == (0, 0, 0, None, 5)


def test_purchase_cycle_relationship_length_and_predicted_next_purchase() -> None:
    profile = buyer(1, orders=5, revenue=500, last_days_ago=10, first_days_ago=90)  # 4 gaps over 80 days
    scores = classify(profile, cuts=cuts(), rules=ClassificationRules(), now=NOW).scores
    assert scores.c == 20.0
    assert scores.l == 100
    assert scores.predicted_next_purchase == NOW + timedelta(days=10)


@pytest.mark.parametrize(
    ("profile", "stage"),
    [
        (Profile(profile_id="x", created_at=NOW), Stage.POTENTIAL),
        (buyer(1, orders=1, revenue=50, last_days_ago=5, first_days_ago=5), Stage.NEW),
        (buyer(1, orders=1, revenue=50, last_days_ago=40, first_days_ago=40), Stage.ACTIVE),
        (buyer(1, orders=3, revenue=50, last_days_ago=10, first_days_ago=70), Stage.LOYAL),  # cycle 30 days
        (buyer(1, orders=3, revenue=50, last_days_ago=10, first_days_ago=70, advocacy=1), Stage.ADVOCATE),
        (buyer(1, orders=3, revenue=50, last_days_ago=46, first_days_ago=106), Stage.AT_RISK),  # > 1.5 x 30
        (buyer(1, orders=3, revenue=50, last_days_ago=90, first_days_ago=150), Stage.LAPSED),
    ],
    ids=["potential", "new", "active", "loyal", "advocate", "at_risk", "lapsed"],
)
def test_lifecycle_stages(profile: Profile, stage: Stage) -> None:
    assert classify(profile, cuts=cuts(), rules=ClassificationRules(), now=NOW).stage is stage


def test_stage_rules_are_configurable_and_say_when_time_changes_the_stage() -> None:
    profile = buyer(1, orders=1, revenue=50, last_days_ago=5, first_days_ago=5)
    rules = ClassificationRules(lifecycle=LifecycleRules(new_days=3, lapsed_days=60))
    result = classify(profile, cuts=cuts(), rules=rules, now=NOW)
    assert result.stage is Stage.ACTIVE
    assert result.next_change_at == NOW + timedelta(days=55)  # lapses 60 days after the last purchase
    assert classify(profile, cuts=cuts(), rules=rules, now=NOW + timedelta(days=55)).stage is Stage.LAPSED


def test_value_tiers_15_35_50_by_value_rank() -> None:
    tiers = [classify(p, cuts=cuts(), rules=ClassificationRules(), now=NOW).tier for p in POPULATION]
    # 20 profiles: the top 15 % by revenue (3) lead, the next 35 % (7) show intent, the rest are nurtured.
    assert tiers.count(Tier.OPINION_LEADER) == 3
    assert tiers.count(Tier.INTENT) == 7
    assert tiers.count(Tier.TO_BE_NURTURED) == 10
    assert (tiers[9], tiers[0], tiers[10]) == (Tier.OPINION_LEADER, Tier.INTENT, Tier.TO_BE_NURTURED)


def test_value_tiers_five_types() -> None:
    rules = ClassificationRules(
        tiers=TierRules(scheme="five_types", opinion_leader_share=0.1, premium_share=0.2)
    )
    five = cuts(rules.tiers)
    tiers = [classify(p, cuts=five, rules=rules, now=NOW).tier for p in BUYERS]
    assert tiers == [Tier.SMALL_MEDIUM] * 7 + [Tier.PREMIUM] * 2 + [Tier.OPINION_LEADER]
    carted = Profile(profile_id="c", created_at=NOW, last_cart_at=NOW - timedelta(days=2))
    result = classify(carted, cuts=five, rules=rules, now=NOW)
    assert (result.tier, result.next_change_at) == (Tier.INTENT, NOW + timedelta(days=28))
    assert classify(NEVER[0], cuts=five, rules=rules, now=NOW).tier is Tier.POTENTIAL


@pytest.mark.parametrize(
    ("orders", "revenue", "discounted", "expected"),
    [
        (2, 900, 0, PriceSensitivity.SERVICE_ORIENTED),  # AOV 450
        (2, 900, 1, PriceSensitivity.PRICE_DRIVEN),  # half the orders discounted
        (2, 300, 0, PriceSensitivity.PRICE_DRIVEN),  # AOV 150
        (2, 600, 0, PriceSensitivity.BALANCED),  # AOV 300
        (0, 0, 0, PriceSensitivity.UNKNOWN),
    ],
)
def test_price_sensitivity(orders: int, revenue: int, discounted: int, expected: PriceSensitivity) -> None:
    profile = Profile(profile_id="x", orders=orders, revenue=Decimal(revenue), discounted_orders=discounted)
    assert classify(profile, cuts=cuts(), rules=ClassificationRules(), now=NOW).price_sensitivity is expected


def test_classification_rules_come_from_one_setting(monkeypatch) -> None:
    from shared import wiring
    from shared.domain.kernel.errors import ConfigurationError
    from shared.wiring import segments as segments_wiring

    monkeypatch.setenv(
        "CLASSIFICATION_RULES", '{"lifecycle": {"lapsed_days": 60}, "tiers": {"scheme": "five_types"}}'
    )
    wiring.reset()
    rules = segments_wiring.get_classification_rules()
    assert (rules.lifecycle.lapsed_days, rules.lifecycle.new_days, rules.tiers.scheme) == (
        60,
        30,
        "five_types",
    )
    monkeypatch.setenv("CLASSIFICATION_RULES", '{"lifecycle": {"lapsed_days": 0}}')
    wiring.reset()
    with pytest.raises(ConfigurationError, match="CLASSIFICATION_RULES"):
        segments_wiring.get_classification_rules()
