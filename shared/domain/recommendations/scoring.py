"""Item-to-item recommendations from orders, and how well they do.

- **Bought together** (Linden, Smith and York, 2003): for each pair of products, the customers who
  bought both, damped by how many bought each: cosine = c(ij) / sqrt(c(i) c(j)). Raw co-counts
  would make the best-seller everyone's answer; a pair needs `min_together` customers, so a rare
  pair does not win on one coincidence.
- **Buy again**: a product the customer bought at least twice is due when the days since its last
  purchase reach its median interval (a replenishment), scored by how due it is.
- **Ranking**: the customer's candidates are the neighbours of what they bought (scores summed)
  and their due products; products they bought lately are left out unless due again; products not
  available where they are asked for are never returned; popularity fills what is left.
- **Evaluation**: each customer's last order is held out, the model is built from everything
  else, and the hit rate at k is the share of customers whose held-out order has a product among
  their top k (the full catalogue ranked), against ranking by popularity alone.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal

Reason = Literal["bought_together", "buy_again", "popular"]
NEIGHBOURS_KEPT = 50


@dataclass(frozen=True)
class Order:
    profile_id: str
    order_id: str
    at: datetime
    skus: frozenset[str]


@dataclass(frozen=True)
class Recommendation:
    sku: str
    score: float
    reason: Reason


@dataclass
class Model:
    """Neighbours per product (cosine, best first) and each product's buyers."""

    neighbours: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    buyers: Counter[str] = field(default_factory=Counter)
    customers: int = 0
    top: list[tuple[str, float]] | None = None  # a stored model: its popular list, as saved

    @property
    def popular(self) -> list[tuple[str, float]]:
        """Products by share of customers who bought them (ties by SKU)."""
        if self.top is not None:
            return self.top
        if not self.customers:
            return []
        return sorted(
            ((sku, count / self.customers) for sku, count in self.buyers.items()), key=lambda p: (-p[1], p[0])
        )


def build_model(orders: Iterable[Order], *, min_together: int = 2, kept: int = NEIGHBOURS_KEPT) -> Model:
    bought: dict[str, set[str]] = defaultdict(set)
    for order in orders:
        bought[order.profile_id] |= order.skus
    buyers: Counter[str] = Counter(sku for skus in bought.values() for sku in skus)
    together: Counter[tuple[str, str]] = Counter()
    for skus in bought.values():
        ordered = sorted(skus)
        for index, first in enumerate(ordered):
            for second in ordered[index + 1 :]:
                together[(first, second)] += 1
    neighbours: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for (first, second), count in together.items():
        if count < min_together:
            continue
        score = count / math.sqrt(buyers[first] * buyers[second])
        neighbours[first].append((second, score))
        neighbours[second].append((first, score))
    return Model(
        neighbours={
            sku: sorted(found, key=lambda n: (-n[1], n[0]))[:kept] for sku, found in neighbours.items()
        },
        buyers=buyers,
        customers=len(bought),
    )


def due_again(history: Sequence[Order], *, now: datetime) -> dict[str, float]:
    """Products bought at least twice, with how due each is: days since the last purchase over the
    median interval between purchases (1.0: due today)."""
    moments: dict[str, list[datetime]] = defaultdict(list)
    for order in history:
        for sku in order.skus:
            moments[sku].append(order.at)
    due: dict[str, float] = {}
    for sku, times in moments.items():
        ordered = sorted(set(times))
        if len(ordered) < 2:
            continue
        gaps = [(later - earlier).total_seconds() / 86400 for earlier, later in pairwise(ordered)]
        interval = statistics.median(gaps)
        if interval > 0:
            due[sku] = ((now - ordered[-1]).total_seconds() / 86400) / interval
    return due


def recommend(
    model: Model,
    history: Sequence[Order],
    *,
    now: datetime,
    available: Callable[[str], bool],
    limit: int = 5,
    recent_days: int = 30,
    due_from: float = 0.8,
    fit: Callable[[str], float] = lambda _sku: 1.0,
) -> list[Recommendation]:
    """The customer's ranked products: never one `available` refuses, never one bought in the last
    `recent_days` unless due again (`due_from` of its cycle). `fit` weighs each candidate's score
    by how well it suits the customer (price sensitivity, value tier); 1.0 is neutral."""
    owned = {sku for order in history for sku in order.skus}
    recent = {sku for order in history if order.at >= now - timedelta(days=recent_days) for sku in order.skus}
    due = {sku: ratio for sku, ratio in due_again(history, now=now).items() if ratio >= due_from}
    scores: dict[str, tuple[float, Reason]] = {}
    for sku, ratio in due.items():
        scores[sku] = (1.0 + min(ratio, 3.0), "buy_again")  # due products first
    together: dict[str, float] = defaultdict(float)
    for sku in owned:
        for neighbour, score in model.neighbours.get(sku, []):
            if neighbour not in owned:
                together[neighbour] += score
    for sku, score in together.items():
        if sku not in scores:
            scores[sku] = (score, "bought_together")
    scores = {sku: (score * fit(sku), reason) for sku, (score, reason) in scores.items()}
    ranked = sorted(scores.items(), key=lambda item: (-item[1][0], item[0]))
    chosen: list[Recommendation] = []
    seen: set[str] = set()
    for sku, (score, reason) in ranked:
        if len(chosen) == limit:
            return chosen
        if (sku in recent and reason != "buy_again") or not available(sku):
            continue
        chosen.append(Recommendation(sku=sku, score=round(score, 6), reason=reason))
        seen.add(sku)
    fill = sorted(
        ((sku, share * fit(sku)) for sku, share in model.popular if sku not in owned),
        key=lambda p: (-p[1], p[0]),
    )
    for sku, share in fill:  # what is left: the popular products they do not own
        if len(chosen) == limit:
            break
        if sku in seen or not available(sku):
            continue
        chosen.append(Recommendation(sku=sku, score=round(share, 6), reason="popular"))
        seen.add(sku)
    return chosen


def candidates(model: Model, history: Sequence[Order], *, kept: int = 20) -> list[str]:
    """The products `recommend` may weigh for this customer, at most `kept` of the popular ones:
    what to look up (prices, offers) before ranking."""
    owned = {sku for order in history for sku in order.skus}
    found = set(owned)
    for sku in owned:
        found |= {neighbour for neighbour, _ in model.neighbours.get(sku, [])}
    return sorted(found | {sku for sku, _ in model.popular[:kept]})


@dataclass(frozen=True)
class Evaluation:
    customers: int
    hit_rate: float
    popularity_hit_rate: float
    coverage: float  # the share of the catalogue recommended to someone
    k: int


def evaluate(orders: Sequence[Order], *, k: int = 5, min_together: int = 2) -> Evaluation:
    """Leave-last-out: each customer with two orders or more has their last one held out."""
    by_customer: dict[str, list[Order]] = defaultdict(list)
    for order in orders:
        by_customer[order.profile_id].append(order)
    held: dict[str, Order] = {}
    kept: list[Order] = []
    for profile_id, own in by_customer.items():
        ordered = sorted(own, key=lambda o: (o.at, o.order_id))
        if len(ordered) >= 2:
            held[profile_id] = ordered[-1]
            kept += ordered[:-1]
        else:
            kept += ordered
    model = build_model(kept, min_together=min_together)
    catalogue = {sku for order in orders for sku in order.skus}
    hits = popular_hits = 0
    shown: set[str] = set()
    for profile_id, last in held.items():
        history = [o for o in by_customer[profile_id] if o is not last]
        found = recommend(model, history, now=last.at, available=lambda _sku: True, limit=k, recent_days=0)
        shown |= {r.sku for r in found}
        hits += bool({r.sku for r in found} & last.skus)
        owned = {sku for order in history for sku in order.skus}
        popular = [sku for sku, _ in model.popular if sku not in owned][:k]
        popular_hits += bool(set(popular) & last.skus)
    total = len(held)
    return Evaluation(
        customers=total,
        hit_rate=hits / total if total else 0.0,
        popularity_hit_rate=popular_hits / total if total else 0.0,
        coverage=len(shown) / len(catalogue) if catalogue else 0.0,
        k=k,
    )
