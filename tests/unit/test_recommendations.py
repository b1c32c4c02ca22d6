"""Recommendations without AWS: co-purchase scores computed by hand, popularity damping, buy
again, the exclusions, and the leave-last-out hit rate against popularity."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.recommendations.scoring import Order, build_model, due_again, evaluate, recommend

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
