"""The demo shop's synthetic purchase history: what `make bench` measures recommendations on.

A tea shop of eight families (green, oolong, pu'er, black, white, herbal, matcha, flower), each
with a tea that runs out (bought again every few weeks) and four things that go with it (cups,
pots, trays, whisks…), plus two best-sellers every family buys (a gift box, a sampler). Each
customer has a taste (one family; a fifth of them a second one), a purchase cycle of 20-45 days,
and two to six orders: their tea most times, an accessory or two from their family, now and then
a best-seller or something from anywhere. The seed is fixed: the same history every run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

FAMILIES = ("GREEN", "OOLONG", "PUER", "BLACK", "WHITE", "HERBAL", "MATCHA", "FLOWER")
ACCESSORIES = ("CUP", "POT", "TRAY", "TIN")
BEST_SELLERS = ("GIFT-BOX", "SAMPLER")
START = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoOrder:
    customer: str
    order_id: str
    at: datetime
    skus: tuple[str, ...]


def catalogue() -> list[str]:
    return (
        [f"{family}-TEA" for family in FAMILIES]
        + [f"{family}-{kind}" for family in FAMILIES for kind in ACCESSORIES]
        + list(BEST_SELLERS)
    )


def history(customers: int = 600, *, seed: int = 20) -> list[DemoOrder]:
    chooser = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(FAMILIES))]  # some families are more popular
    everything = catalogue()
    orders: list[DemoOrder] = []
    for index in range(customers):
        customer = f"demo-{index:05d}"
        tastes = chooser.choices(FAMILIES, weights=weights, k=1)
        if chooser.random() < 0.2:
            tastes += chooser.choices(FAMILIES, weights=weights, k=1)
        cycle = chooser.uniform(20, 45)
        at = START + timedelta(days=chooser.uniform(0, 30))
        for number in range(chooser.randint(2, 6)):
            family = chooser.choice(tastes)
            basket = set()
            if chooser.random() < 0.7:
                basket.add(f"{family}-TEA")
            basket |= {f"{family}-{kind}" for kind in chooser.sample(ACCESSORIES, chooser.randint(1, 2))}
            if chooser.random() < 0.3:
                basket.add(chooser.choice(BEST_SELLERS))
            if chooser.random() < 0.1:
                basket.add(chooser.choice(everything))
            orders.append(DemoOrder(customer, f"{customer}-{number}", at, tuple(sorted(basket))))
            at += timedelta(days=cycle * chooser.uniform(0.8, 1.2))
    return orders
