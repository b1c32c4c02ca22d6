"""The segment rule language: validation with paths, each condition, and when time changes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.domain.customers.profiles import ConsentState, Profile, TraitValue
from shared.domain.ingest.touchpoints import ConsentStatus
from shared.domain.kernel.errors import InvalidInputError
from shared.domain.segments.classification import Classification, Stage
from shared.domain.segments.rules import Subject, evaluate, parse_rule

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def subject(stage: Stage = Stage.ACTIVE, **fields) -> Subject:
    return Subject(
        Profile(profile_id="p", created_at=NOW - timedelta(days=400), **fields), Classification(stage=stage)
    )


def check(rule: dict, who: Subject, now: datetime = NOW):
    return evaluate(parse_rule(rule), who, now)


@pytest.mark.parametrize(
    ("rule", "path", "message"),
    [
        ({"al": []}, "$", "exactly one of"),
        ({"all": []}, "all", "non-empty"),
        ({"all": [{"field": "shoe_size", "op": "eq", "value": 1}]}, "all.0.field", "unknown field"),
        ({"field": "orders", "op": "between", "value": 1}, "op", "Input should be"),
        ({"field": "orders", "op": "in", "value": 1}, "value", "needs a list"),
        ({"not": {"did": {"event": "", "within_days": 7}}}, "not.did.event", "at least 1 character"),
        ({"did": {"event": "Viewed", "within_days": 0}}, "did.within_days", "greater than or equal to 1"),
        ({"bought": {"channels": ["pos"], "within_days": 3}}, "bought", "can't be combined"),
        ({"bought": {"channels": ["shop"]}}, "bought.channels.0", "Input should be"),
        ({"birthday": "yesterday"}, "birthday", "one of"),
        ({"bought_in_months": [0, 13]}, "bought_in_months", "months 1 to 12"),
        ([], "$", "an object"),
    ],
)
def test_invalid_rules_are_refused_with_the_path(rule, path, message) -> None:
    with pytest.raises(InvalidInputError) as refused:
        parse_rule(rule)
    problems = refused.value.details
    assert any(p["path"] == path and message in p["message"] for p in problems), problems


def test_viewed_a_product_in_the_last_7_days_and_did_not_buy_it() -> None:
    rule = {
        "all": [
            {"did": {"event": "Product Viewed", "sku": "TEA-01", "within_days": 7}},
            {"not": {"bought": {"sku": "TEA-01", "within_days": 7}}},
        ]
    }
    viewed = int((NOW - timedelta(days=2)).timestamp())
    verdict = check(rule, subject(last_did={"Product Viewed|TEA-01": viewed}))
    assert verdict.matched and verdict.changes_at == NOW + timedelta(days=5)
    assert not check(
        rule, subject(last_did={"Product Viewed|TEA-01": viewed}), NOW + timedelta(days=5)
    ).matched
    bought = subject(last_did={"Product Viewed|TEA-01": viewed}, last_bought={"TEA-01": viewed + 60})
    assert not check(rule, bought).matched


def test_bought_in_store_but_never_online_and_spring_shoppers() -> None:
    store_only = {
        "all": [{"bought": {"channels": ["pos"]}}, {"not": {"bought": {"channels": ["web", "app"]}}}]
    }
    assert check(store_only, subject(purchases_by_channel={"pos": 2})).matched
    assert not check(store_only, subject(purchases_by_channel={"pos": 2, "web": 1})).matched
    spring = {"bought_in_months": [3, 4, 5]}
    assert check(spring, subject(purchases_by_month=[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])).matched
    assert not check(spring, subject(purchases_by_month=[1] + [0] * 11)).matched


def test_birthday_this_month_in_the_customers_timezone() -> None:
    late = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # already December 1st in Shanghai
    in_shanghai = {
        "birthday": TraitValue(value="1990-12-01", at=NOW, by="t"),
        "timezone": TraitValue(value="Asia/Shanghai", at=NOW, by="t"),
    }
    verdict = check({"birthday": "this_month"}, subject(traits=in_shanghai), late)
    assert verdict.matched
    assert verdict.changes_at == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # January 1st, Shanghai
    assert check({"birthday": "today"}, subject(traits=in_shanghai), late).matched
    assert not check({"birthday": "this_month"}, subject(), late).matched


def test_fields_scores_stage_consent_and_day_counts() -> None:
    who = subject(
        stage=Stage.LOYAL,
        orders=4,
        revenue=Decimal("880"),
        traits={"plan": TraitValue(value="gold", at=NOW, by="t")},
        consent={
            "email:marketing": ConsentState(status=ConsentStatus.GRANTED, at=NOW, source_id="s", reason="r")
        },
        last_purchase_at=NOW - timedelta(days=80, hours=1),
    )
    assert check({"field": "average_order_value", "op": "gte", "value": 200}, who).matched
    assert check({"field": "traits.plan", "op": "in", "value": ["gold", "vip"]}, who).matched
    assert check({"field": "stage", "op": "eq", "value": "loyal"}, who).matched
    assert check({"consent": {"channel": "email"}}, who).matched
    assert not check({"consent": {"channel": "sms"}}, who).matched
    lapsing = check({"field": "days_since_last_purchase", "op": "gt", "value": 90}, who)
    assert not lapsing.matched
    assert lapsing.changes_at == NOW - timedelta(days=80, hours=1) + timedelta(days=90)
    assert check(
        {"field": "days_since_last_purchase", "op": "gt", "value": 90},
        who,
        lapsing.changes_at + timedelta(seconds=1),
    ).matched
    assert check({"field": "identifiers.email", "op": "not_exists"}, who).matched
