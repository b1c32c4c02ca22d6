"""Concurrent reservations against one SKU from two channels, on dynalite (atomic conditional writes)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

import pytest

from shared.domain.commerce.inventory import Inventory
from shared.domain.commerce.sales_channels import Location, RegistryDirectory, SalesChannel
from shared.domain.commerce.stock import (
    InsufficientStockError,
    OperationInProgressError,
    ReservationRequest,
    ReservationStatus,
)
from shared.wiring import commerce as commerce_wiring
from tests.fakes import FakeClock
from tests.races.test_profile_races import run_together


@dataclass
class ChangeLog:
    keys: list[tuple[str, str]] = field(default_factory=list)

    def stock_changed(self, keys):
        self.keys.extend(keys)


def inventory() -> Inventory:
    catalog = commerce_wiring.get_catalog()
    catalog.save_location(Location(location_id="wh", name="DC", kind="warehouse"))
    for channel_id in ("web", "tmall"):
        catalog.save_channel(
            SalesChannel(channel_id=channel_id, name=channel_id, kind="web", locations=["wh"])
        )
    return Inventory(
        stock=catalog,
        reservations=catalog,
        directory=RegistryDirectory(catalog),
        clock=FakeClock(),
        listener=ChangeLog(),
    )


def race(stock: Inventory, sku: str, quantities: list[int]) -> tuple[list[int], list[int]]:
    """Reserve each quantity at once, alternating channels; sample the counters meanwhile."""
    held: list[int] = []
    refused: list[int] = []
    samples: list[int] = []
    stop = threading.Event()

    def sampler() -> None:
        while not stop.is_set():
            samples.extend(bucket.available for bucket in stock.stock.buckets(sku, "wh"))

    def reserver(number: int, quantity: int) -> None:
        channel = "web" if number % 2 else "tmall"
        request = ReservationRequest(
            request_id=f"{sku}-cart-{number}", channel_id=channel, lines=[{"sku": sku, "quantity": quantity}]
        )
        for _ in range(20):
            try:
                reservation, _ = stock.reserve(request)
            except InsufficientStockError:
                refused.append(quantity)
                return
            except OperationInProgressError:
                continue
            assert reservation.status is ReservationStatus.HELD
            held.append(quantity)
            return

    watcher = threading.Thread(target=sampler)
    watcher.start()
    try:
        run_together([lambda n=n, q=q: reserver(n, q) for n, q in enumerate(quantities)])
    finally:
        stop.set()
        watcher.join()
    assert samples and min(samples) >= 0  # never below zero at any sampled moment
    return held, refused


@pytest.mark.parametrize("buckets", [1, 8], ids=["one-counter", "hot-sku-8-buckets"])
def test_200_reservations_from_two_channels_against_50_units_sell_exactly_50(on_dynalite, buckets):
    stock = inventory()
    sku = f"FLASH-{buckets}"
    stock.configure(sku, "wh", safety_stock=None, incoming=None, buckets=buckets)
    stock.adjust(sku, "wh", 50, op_id=f"receive-{sku}", reason="received", source="wms")
    held, refused = race(stock, sku, [1] * 200)
    assert (len(held), len(refused)) == (50, 150)
    level = stock.level(sku, "wh")
    assert (level.on_hand, level.reserved, level.available) == (50, 50, 0)
    buckets_now = stock.stock.buckets(sku, "wh")
    assert len(buckets_now) == buckets and all(
        bucket.available == 0 and not bucket.ops for bucket in buckets_now
    )


def test_mixed_quantities_never_hold_more_than_the_stock(on_dynalite):
    stock = inventory()
    stock.adjust("MIXED-1", "wh", 50, op_id="receive-MIXED-1", reason="received", source="wms")
    quantities = [random.Random(7).choice([1, 2, 3]) for _ in range(120)]
    held, refused = race(stock, "MIXED-1", quantities)
    level = stock.level("MIXED-1", "wh")
    assert sum(held) <= 50 and level.reserved == sum(held) and level.available == 50 - sum(held)
    assert level.available < 3 or not refused  # a refusal means what was left could not cover it
