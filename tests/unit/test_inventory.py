"""Inventory rules without AWS: channel publication, prices and promotions, reservations and their
invariants (property-tested), backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.commerce.inventory import Inventory, restock_refund, sell_order
from shared.domain.commerce.pricing import PriceEntry, Promotion, boundaries_between, effective_price
from shared.domain.commerce.sales_channels import ChannelRules, publish
from shared.domain.commerce.stock import (
    InsufficientStockError,
    ReservationClosedError,
    ReservationRequest,
    ReservationStatus,
    SaleLine,
)
from shared.domain.kernel.errors import NotFoundError
from shared.triggers import backoff_seconds
from tests.fakes import FakeClock, InMemoryStock, StaticDirectory

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class Changes:
    def __init__(self) -> None:
        self.keys: list[tuple[str, str]] = []

    def stock_changed(self, keys):
        self.keys.extend(keys)


def make(clock: FakeClock | None = None) -> Inventory:
    return Inventory(
        stock=InMemoryStock(),
        reservations=InMemoryStock(),
        directory=StaticDirectory({"web": ["wh", "store"], "pos": ["store"]}),
        clock=clock or FakeClock(T0),
        listener=Changes(),
        chooser=random.Random(1),
    )


def shared_store(inventory: Inventory) -> Inventory:
    inventory.reservations = inventory.stock  # one table holds both, as in DynamoDB
    return inventory


# ------------------------------------------------------------------ channel rules
@pytest.mark.parametrize(
    ("pool", "rules", "published"),
    [
        (95, ChannelRules(), 95),  # web: everything
        (95, ChannelRules(percent=40), 38),  # 40% rounds down
        (1, ChannelRules(percent=90), 0),  # 90% of 1 is 0, never 1
        (95, ChannelRules(cap=10), 10),
        (7, ChannelRules(cap=10), 7),
        (10, ChannelRules(safety_stock=4), 6),
        (3, ChannelRules(safety_stock=4), 0),  # never negative
        (3, ChannelRules(zero_below=4), 0),  # "end when": 0 below 4
        (4, ChannelRules(zero_below=4), 4),
        (20, ChannelRules(safety_stock=5, zero_below=10, percent=50, cap=6), 6),
        (14, ChannelRules(safety_stock=5, zero_below=10, percent=50, cap=6), 0),  # 9 left < 10
        (0, ChannelRules(), 0),
    ],
)
def test_channel_rules_publish_exact_numbers(pool, rules, published):
    assert publish(pool, rules) == published


# ------------------------------------------------------------------ prices
SPRING = Promotion(
    promotion_id="spring",
    name="Spring",
    kind="percent",
    value=Decimal(20),
    categories=["dresses"],
    starts_at=T0.replace(hour=10),
    ends_at=T0.replace(hour=22),
)
DRESS = PriceEntry(
    sku="DRESS-1", base=Decimal("199.90"), category="dresses", overrides={"outlet": Decimal(150)}
)


@pytest.mark.parametrize(
    ("at", "prices"),
    [
        (T0.replace(hour=9, minute=59, second=59), {"web": "199.90", "app": "199.90", "tmall": "199.90"}),
        (T0.replace(hour=10), {"web": "159.92", "app": "159.92", "tmall": "159.92"}),
        (T0.replace(hour=21, minute=59), {"web": "159.92", "app": "159.92", "tmall": "159.92"}),
        (T0.replace(hour=22), {"web": "199.90", "app": "199.90", "tmall": "199.90"}),  # the end is exclusive
    ],
)
def test_a_promotion_gives_every_channel_the_same_price_from_its_first_second(at, prices):
    seen = {channel: str(effective_price(DRESS, [SPRING], channel, at).price) for channel in prices}
    assert seen == prices
    assert effective_price(DRESS, [SPRING], "outlet", at).price == Decimal(150)  # an override stays


def test_the_lowest_promotion_wins_and_amounts_never_go_below_zero():
    amount = SPRING.model_copy(update={"promotion_id": "big", "kind": "amount", "value": Decimal(500)})
    app_only = SPRING.model_copy(update={"promotion_id": "app", "value": Decimal(50), "channels": ["app"]})
    at = T0.replace(hour=12)
    assert effective_price(DRESS, [SPRING, app_only], "app", at).promotion_id == "app"
    assert effective_price(DRESS, [SPRING, app_only], "web", at).promotion_id == "spring"
    assert effective_price(DRESS, [amount], "web", at).price == Decimal("0.00")
    other = DRESS.model_copy(update={"sku": "HAT-1", "category": "hats"})
    assert effective_price(other, [SPRING], "web", at).source == "base"


def test_promotion_boundaries_are_found_once_per_window():
    assert boundaries_between([SPRING], T0.replace(hour=9, minute=59), T0.replace(hour=10)) == [SPRING]
    assert boundaries_between([SPRING], T0.replace(hour=10), T0.replace(hour=10, minute=1)) == []
    assert boundaries_between([SPRING], T0.replace(hour=21, minute=59), T0.replace(hour=22)) == [SPRING]


# ------------------------------------------------------------------ reservations
def request(
    request_id: str, *lines: tuple[str, int], channel: str = "web", pickup: str | None = None, hold: int = 900
):
    return ReservationRequest(
        request_id=request_id,
        channel_id=channel,
        lines=[{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        pickup_location_id=pickup,
        hold_seconds=hold,
    )


def test_lines_come_from_the_first_location_with_stock_and_pickup_only_from_the_store():
    inventory = shared_store(make())
    inventory.adjust("A", "wh", 1, op_id="a", reason="received", source="t")
    inventory.adjust("A", "store", 5, op_id="b", reason="received", source="t")
    held, _ = inventory.reserve(request("r1", ("A", 2)))
    assert held.steps[0].location_id == "store"  # the warehouse had only 1
    with pytest.raises(InsufficientStockError) as refused:
        inventory.reserve(request("r2", ("A", 4), pickup="store"))
    assert refused.value.details["sellable"] == {"store": 3}
    assert inventory.level("A", "wh").available == 1


def test_commit_sells_once_and_an_order_event_for_a_committed_order_sells_nothing():
    inventory = shared_store(make())
    inventory.adjust("A", "wh", 5, op_id="a", reason="received", source="t")
    held, _ = inventory.reserve(request("r1", ("A", 2)))
    committed = inventory.commit(held.reservation_id, order_id="O-1")
    assert committed.status is ReservationStatus.COMMITTED
    assert inventory.commit(held.reservation_id, order_id="O-1").status is ReservationStatus.COMMITTED
    with pytest.raises(ReservationClosedError):
        inventory.commit(held.reservation_id, order_id="O-2")
    assert (
        sell_order(
            inventory, order_id="O-1", lines=[SaleLine(sku="A", quantity=2)], location_id="wh", source="web"
        )
        == []
    )
    level = inventory.level("A", "wh")
    assert (level.on_hand, level.reserved, level.available) == (3, 0, 3)
    restock_refund(
        inventory, order_id="O-1", refund_id="R-1", lines=[SaleLine(sku="A", quantity=1)], source="web"
    )
    restock_refund(
        inventory, order_id="O-1", refund_id="R-1", lines=[SaleLine(sku="A", quantity=1)], source="web"
    )
    assert inventory.level("A", "wh").on_hand == 4  # once per refund


def test_an_order_event_first_then_the_commit_releases_the_hold_instead():
    inventory = shared_store(make())
    inventory.adjust("A", "wh", 5, op_id="a", reason="received", source="t")
    held, _ = inventory.reserve(request("r1", ("A", 2)))
    sell_order(
        inventory, order_id="O-1", lines=[SaleLine(sku="A", quantity=2)], location_id="wh", source="web"
    )
    sell_order(
        inventory, order_id="O-1", lines=[SaleLine(sku="A", quantity=2)], location_id="wh", source="web"
    )
    assert inventory.commit(held.reservation_id, order_id="O-1").status is ReservationStatus.RELEASED
    level = inventory.level("A", "wh")
    assert (level.on_hand, level.reserved, level.available) == (3, 0, 3)


def test_a_crash_after_the_counters_moved_is_finished_by_the_next_caller():
    clock = FakeClock(T0)
    inventory = shared_store(make(clock))
    inventory.adjust("A", "wh", 5, op_id="a", reason="received", source="t")
    real_save = inventory.reservations.save
    calls = {"n": 0}

    def crash_on_finish(reservation, *, expected_version):
        calls["n"] += 1
        if reservation.status is ReservationStatus.HELD:
            raise RuntimeError("power cut")
        return real_save(reservation, expected_version=expected_version)

    inventory.reservations.save = crash_on_finish  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        inventory.reserve(request("r1", ("A", 2)))
    inventory.reservations.save = real_save  # type: ignore[method-assign]
    assert inventory.level("A", "wh").reserved == 2  # the units are held by a pending record
    clock.advance(timedelta(seconds=61))  # the lease runs out
    held, replayed = inventory.reserve(request("r1", ("A", 2)))
    assert replayed and held.status is ReservationStatus.HELD
    level = inventory.level("A", "wh")
    assert (level.reserved, level.available) == (2, 3)  # held once, not twice
    assert not any(row["ops"] for row in inventory.stock.bucket_rows.values())


def test_unknown_locations_are_refused():
    with pytest.raises(NotFoundError):
        make().adjust("A", "nowhere", 1, op_id="a", reason="received", source="t")


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("reserve"),
            st.sampled_from(["A", "B"]),
            st.integers(1, 4),
            st.sampled_from(["wh", "store", None]),
        ),
        st.tuples(st.just("commit"), st.integers(0, 30)),
        st.tuples(st.just("release"), st.integers(0, 30)),
        st.tuples(
            st.just("adjust"),
            st.sampled_from(["A", "B"]),
            st.integers(-6, 6),
            st.sampled_from(["wh", "store"]),
        ),
        st.tuples(
            st.just("sell"), st.sampled_from(["A", "B"]), st.integers(1, 3), st.sampled_from(["wh", "store"])
        ),
        st.tuples(st.just("wait"), st.integers(1, 400)),
        st.tuples(
            st.just("sweep"),
        ),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(operations)
def test_stock_never_goes_negative_and_every_unit_is_accounted_for(steps):
    clock = FakeClock(T0)
    inventory = shared_store(make(clock))
    for sku in ("A", "B"):
        for location in ("wh", "store"):
            inventory.adjust(sku, location, 5, op_id=f"start-{sku}-{location}", reason="received", source="t")
    made: list[str] = []
    for number, step in enumerate(steps):
        kind = step[0]
        try:
            if kind == "reserve":
                _, sku, quantity, pickup = step
                held, _ = inventory.reserve(request(f"r{number}", (sku, quantity), pickup=pickup, hold=300))
                made.append(held.reservation_id)
            elif kind in ("commit", "release") and made:
                target = made[step[1] % len(made)]
                if kind == "commit":
                    inventory.commit(target, order_id=f"O-{target}")
                else:
                    inventory.release(target)
            elif kind == "adjust" and step[2]:
                inventory.adjust(
                    step[1], step[3], step[2], op_id=f"adj{number}", reason="correction", source="t"
                )
            elif kind == "sell":
                sell_order(
                    inventory,
                    order_id=f"S{number}",
                    lines=[SaleLine(sku=step[1], quantity=step[2])],
                    location_id=step[3],
                    source="pos",
                )
            elif kind == "wait":
                clock.advance(timedelta(seconds=step[1]))
            elif kind == "sweep":
                inventory.sweep()
        except (InsufficientStockError, ReservationClosedError):
            pass
    store: InMemoryStock = inventory.stock  # type: ignore[assignment]
    for (sku, location, _), row in store.bucket_rows.items():
        assert row["available"] >= 0 and row["reserved"] >= 0
        assert row["on_hand"] == row["available"] + row["reserved"]
        held = sum(
            step.quantity
            for reservation in store.records.values()
            if reservation.status is ReservationStatus.HELD
            for step in reservation.steps
            if (step.sku, step.location_id) == (sku, location)
        )
        assert row["reserved"] == held  # every reserved unit belongs to a held reservation
        moved = sum(m.on_hand for m in store.moves if (m.sku, m.location_id) == (sku, location))
        assert row["on_hand"] == moved  # the ledger explains on_hand
        assert not row["ops"]  # no marker left behind


def test_backoff_grows_to_fifteen_minutes_with_jitter():
    chooser = random.Random(3)
    first = [backoff_seconds(1, chooser) for _ in range(50)]
    late = [backoff_seconds(20, chooser) for _ in range(50)]
    assert min(first) >= 5 and max(first) <= 10
    assert min(late) >= 450 and max(late) <= 900 and len(set(late)) > 1
