"""Recommendations without AWS: co-purchase scores computed by hand, popularity damping, buy
again, the exclusions, and the leave-last-out hit rate against popularity."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.recommendations.scoring import Order, build_model, due_again, evaluate, recommend
from shared.domain.recommendations.service import (
    HISTORY_KEPT,
    ModelSummary,
    ProductFacts,
    PurchaseHistory,
    Recommender,
    Shopper,
    fit_weight,
)

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def order(who: str, *skus: str, day: int = 0, number: int = 0) -> Order:
    return Order(
        profile_id=who, order_id=f"{who}-{day}-{number}", at=T0 + timedelta(days=day), skus=frozenset(skus)
    )


# Five customers. TEA is the best-seller (all five); KETTLE goes with CUP (three of the four who
# bought either), and with TEA only because everyone buys TEA.
ORDERS = [
    order("a", "TEA", "KETTLE", "CUP"),
    order("b", "TEA", "KETTLE", "CUP"),
    order("c", "TEA", "KETTLE"),
    order("d", "TEA", "CUP", "CUP"),
    order("e", "TEA", "CUP", "FILTER"),
]


def test_cosine_scores_as_computed_by_hand() -> None:
    model = build_model(ORDERS)
    # buyers: TEA 5, CUP 4, KETTLE 3, FILTER 1. Together: KETTLE+CUP 2, KETTLE+TEA 3, CUP+TEA 4.
    scores = dict(model.neighbours["KETTLE"])
    assert math.isclose(scores["CUP"], 2 / math.sqrt(3 * 4))  # 0.577
    assert math.isclose(scores["TEA"], 3 / math.sqrt(3 * 5))  # 0.775
    assert math.isclose(dict(model.neighbours["CUP"])["TEA"], 4 / math.sqrt(4 * 5))  # 0.894
    assert "FILTER" not in model.neighbours  # one customer bought it with anything: below min_together
    assert [sku for sku, _ in model.popular] == ["TEA", "CUP", "KETTLE", "FILTER"]


def test_popularity_damping_lets_a_complement_beat_the_best_seller() -> None:
    """Raw co-counts would give everyone who bought a kettle the best-seller; cosine favours what
    goes with kettles in particular once the best-seller is bought by nearly everyone."""
    many = [order(f"t{n}", "TEA") for n in range(30)]
    model = build_model([*ORDERS, *many])
    scores = dict(model.neighbours["KETTLE"])
    assert scores["CUP"] > scores["TEA"]  # 0.577 vs 3/sqrt(3*35) = 0.293


def test_a_customer_gets_what_goes_with_what_they_bought_not_what_they_own() -> None:
    model = build_model(ORDERS)
    history = [order("f", "KETTLE", day=-60)]
    found = recommend(model, history, now=T0, available=lambda _sku: True, limit=3)
    assert [(r.sku, r.reason) for r in found] == [
        ("TEA", "bought_together"),
        ("CUP", "bought_together"),
        ("FILTER", "popular"),
    ]


def test_just_bought_is_left_out_unless_due_again() -> None:
    model = build_model(ORDERS)
    history = [order("g", "TEA", day=-40), order("g", "TEA", day=-20), order("g", "KETTLE", day=-2)]
    assert due_again(history, now=T0) == {"TEA": 1.0}  # 20 days since, every 20 days
    found = recommend(model, history, now=T0, available=lambda _sku: True, limit=3)
    assert found[0].sku == "TEA" and found[0].reason == "buy_again"
    assert "KETTLE" not in [r.sku for r in found]  # bought two days ago
    early = recommend(model, history, now=T0 - timedelta(days=10), available=lambda _sku: True, limit=3)
    assert "TEA" not in [r.sku for r in early]  # half-way through its cycle, bought lately


@settings(max_examples=80, deadline=None)
@given(
    baskets=st.lists(
        st.tuples(
            st.integers(0, 12), st.sets(st.sampled_from([f"S{n}" for n in range(10)]), min_size=1, max_size=4)
        ),
        min_size=1,
        max_size=40,
    ),
    out_of_stock=st.sets(st.sampled_from([f"S{n}" for n in range(10)])),
    who=st.integers(0, 12),
    limit=st.integers(1, 10),
)
def test_a_recommendation_is_never_out_of_stock_at_the_location(baskets, out_of_stock, who, limit) -> None:
    orders = [order(f"c{c}", *skus, day=index) for index, (c, skus) in enumerate(baskets)]
    model = build_model(orders, min_together=1)
    history = [o for o in orders if o.profile_id == f"c{who}"]
    found = recommend(
        model,
        history,
        now=T0 + timedelta(days=60),
        available=lambda sku: sku not in out_of_stock,
        limit=limit,
    )
    assert not {r.sku for r in found} & out_of_stock
    assert len(found) <= limit and len({r.sku for r in found}) == len(found)
    assert [r.score for r in found if r.reason != "popular"] == sorted(
        (r.score for r in found if r.reason != "popular"), reverse=True
    )


def test_leave_last_out_beats_popularity_on_a_history_with_complements() -> None:
    """Synthetic shoppers with tastes: each buys within one of three families, whose products are
    bought together; the best-seller crosses families. Bought-together finds the family."""
    rnd = random.Random(3)
    families = [["A1", "A2", "A3", "A4"], ["B1", "B2", "B3", "B4"], ["C1", "C2", "C3", "C4"]]
    orders = []
    for n in range(300):
        family = families[n % 3]
        for visit in range(3):
            basket = set(rnd.sample(family, 2)) | ({"BEST"} if rnd.random() < 0.5 else set())
            orders.append(order(f"p{n}", *basket, day=visit * 10))
    result = evaluate(orders, k=3)
    assert result.customers == 300
    assert result.hit_rate > result.popularity_hit_rate + 0.2, result
    assert result.coverage == 1.0


# ------------------------------------------------------------------ served: history, fit, the shelf
class MemoryStore:
    """RecommendationStore in memory (conditional on version, like the table)."""

    def __init__(self) -> None:
        self.saved: dict[str, PurchaseHistory] = {}
        self.model: tuple[dict[str, list[tuple[str, float]]], ModelSummary] | None = None
        self.conflicts = 0

    def histories(self, profile_ids):
        return {p: self.saved[p] for p in profile_ids if p in self.saved}

    def save_history(self, history):
        current = self.saved.get(history.profile_id)
        if self.conflicts:
            self.conflicts -= 1
            return False
        if (current.version if current else 0) != history.version:
            return False
        self.saved[history.profile_id] = history.model_copy(update={"version": history.version + 1})
        return True

    def history_pages(self, *, after, limit):
        ids = sorted(self.saved)
        start = int(after or 0)
        page = ids[start : start + limit]
        return [self.saved[p] for p in page], (str(start + limit) if start + limit < len(ids) else None)

    def forget_person(self, profile_id):
        self.saved.pop(profile_id, None)

    def neighbours(self, skus):
        found = self.model[0] if self.model else {}
        return {sku: found[sku] for sku in skus if sku in found}

    def summary(self):
        return self.model[1] if self.model else None

    def save_model(self, neighbours, summary):
        self.model = (neighbours, summary)


class Shelf:
    def __init__(self, facts=None, out=(), prices=()) -> None:
        self._facts, self.out, self.prices = facts or {}, set(out), list(prices)
        self.asked: list[tuple[str, str | None, str | None]] = []

    def facts(self, skus, channel_id):
        return {sku: self._facts[sku] for sku in skus if sku in self._facts}

    def available(self, sku, *, channel_id, location_id):
        self.asked.append((sku, channel_id, location_id))
        return sku not in self.out

    def base_prices(self):
        return self.prices


class Clock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


def served(store=None, shelf=None, now=T0 + timedelta(days=40)) -> Recommender:
    return Recommender(store=store or MemoryStore(), shelf=shelf or Shelf(), clock=Clock(now))


def test_an_order_joins_the_history_once_and_a_concurrent_writer_is_read_again() -> None:
    store = MemoryStore()
    recommender = served(store)
    assert recommender.record_order("p", "o-1", T0, ["TEA", "CUP", "TEA"]) is True
    assert recommender.record_order("p", "o-1", T0, ["TEA", "CUP"]) is False  # redelivered
    store.conflicts = 2
    assert recommender.record_order("p", "o-2", T0 + timedelta(days=1), ["KETTLE"]) is True
    history = store.saved["p"]
    assert [(p.order_id, p.skus) for p in history.purchases] == [("o-1", ["CUP", "TEA"]), ("o-2", ["KETTLE"])]
    assert history.version == 2
    assert recommender.record_order("p", "o-3", T0, []) is False  # nothing with a SKU


def test_the_history_keeps_the_newest_fifty_orders() -> None:
    history = PurchaseHistory(profile_id="p")
    for n in range(HISTORY_KEPT + 5):
        history = history.with_order(f"o-{n:03d}", T0 + timedelta(days=n), [f"S{n}"])  # type: ignore[assignment]
    assert len(history.purchases) == HISTORY_KEPT
    assert history.purchases[0].order_id == "o-005"


def test_the_nightly_rebuild_serves_what_the_scoring_computed_by_hand() -> None:
    store = MemoryStore()
    recommender = served(store, Shelf(prices=[Decimal(p) for p in ("10", "20", "30", "40")]))
    for o in ORDERS:
        recommender.record_order(o.profile_id, o.order_id, o.at, sorted(o.skus))
    summary = recommender.rebuild(page=2)
    assert (summary.customers, summary.products, summary.orders) == (5, 4, 5)
    assert summary.popular[0] == ("TEA", 1.0)
    assert summary.premium_from == Decimal("30")  # the nearest-rank 75th percentile of 10, 20, 30, 40
    assert dict(store.model[0]["KETTLE"])["CUP"] == pytest.approx(2 / math.sqrt(3 * 4), abs=1e-6)
    # A new customer who bought a KETTLE: TEA (3 of KETTLE's 3 buyers, of TEA's 5) and CUP (2 of
    # 3, of 4) go with it; FILTER (no pair of two customers) comes by popularity.
    recommender.record_order("new", "n-1", T0 + timedelta(days=39), ["KETTLE"])
    found = recommender.for_shopper(Shopper(profile_id="new"), limit=3)
    assert [(r.sku, r.reason, r.score) for r in found] == [
        ("TEA", "bought_together", round(3 / math.sqrt(3 * 5), 6)),
        ("CUP", "bought_together", round(2 / math.sqrt(3 * 4), 6)),
        ("FILTER", "popular", 0.2),  # 1 of the 5 customers the model was built from
    ]


def test_a_merged_profile_s_orders_count_for_the_survivor() -> None:
    store = MemoryStore()
    recommender = served(store)
    recommender.record_order("old", "o-1", T0, ["KETTLE"])
    recommender.record_order("new", "o-2", T0 + timedelta(days=1), ["TEA"])
    history = recommender.history(Shopper(profile_id="new", merged_from=("old",)))
    assert [o.order_id for o in history] == ["o-1", "o-2"]


@pytest.mark.parametrize(
    ("sensitivity", "tier", "facts", "weight"),
    [
        ("price_driven", None, ProductFacts(price=Decimal(8), base=Decimal(10)), 1.5),  # on offer
        ("price_driven", None, ProductFacts(price=Decimal(10), base=Decimal(10)), 1.0),
        ("service_oriented", None, ProductFacts(price=Decimal(5), base=Decimal(5), category="service"), 1.5),
        ("service_oriented", None, ProductFacts(price=Decimal(50), base=Decimal(50)), 1.5),  # premium
        ("service_oriented", "premium", ProductFacts(price=Decimal(50), base=Decimal(50)), 1.5 * 1.25),
        ("balanced", "opinion_leader", ProductFacts(price=Decimal(40), base=Decimal(50)), 1.25),
        ("balanced", "small_medium", ProductFacts(price=Decimal(40), base=Decimal(50)), 1.0),
        ("price_driven", "premium", None, 1.0),  # no price known: neutral
    ],
)
def test_fit_weights_as_documented(sensitivity, tier, facts, weight) -> None:
    shopper = Shopper(profile_id="p", price_sensitivity=sensitivity, tier=tier)
    assert fit_weight(shopper, facts, Decimal(50)) == pytest.approx(weight)


def test_a_price_driven_customer_sees_the_offer_first_and_a_premium_one_the_premium_product() -> None:
    """Two complements of KETTLE, scored alike by co-purchase: LID is on offer, GLASS is premium."""
    store = MemoryStore()
    store.model = (
        {"KETTLE": [("GLASS", 0.5), ("LID", 0.5)]},
        ModelSummary(built_at=T0, customers=1, products=3, orders=1, pairs=1, premium_from=Decimal(100)),
    )
    shelf = Shelf(
        facts={
            "GLASS": ProductFacts(price=Decimal(120), base=Decimal(120)),
            "LID": ProductFacts(price=Decimal(9), base=Decimal(12)),
        }
    )
    recommender = served(store, shelf)
    for who in ("thrifty", "lavish"):
        recommender.record_order(who, f"{who}-1", T0, ["KETTLE"])
    thrifty = recommender.for_shopper(
        Shopper(profile_id="thrifty", price_sensitivity="price_driven"), limit=2
    )
    lavish = recommender.for_shopper(Shopper(profile_id="lavish", tier="premium"), limit=2)
    assert [(r.sku, r.score) for r in thrifty] == [("LID", 0.75), ("GLASS", 0.5)]
    assert [(r.sku, r.score) for r in lavish] == [("GLASS", 0.625), ("LID", 0.5)]


def test_the_shelf_is_asked_where_the_caller_asked() -> None:
    store = MemoryStore()
    store.model = (
        {"KETTLE": [("CUP", 0.9), ("LID", 0.4)]},
        ModelSummary(built_at=T0, customers=1, products=3, orders=1, pairs=1),
    )
    shelf = Shelf(out={"CUP"})
    recommender = served(store, shelf)
    recommender.record_order("p", "o-1", T0, ["KETTLE"])
    found = recommender.for_shopper(Shopper(profile_id="p"), channel_id="tmall", location_id=None, limit=1)
    assert [r.sku for r in found] == ["LID"]
    assert shelf.asked == [("CUP", "tmall", None), ("LID", "tmall", None)]
