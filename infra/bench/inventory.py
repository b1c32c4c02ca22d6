"""Inventory: request units per reservation (one SKU, a 3-line cart, a hot SKU in buckets),
commit, release, stock adjustment and outbound push."""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from infra.bench.meter import RequestMeter, create_tables, restored


def measure_inventory(operations: int = 100, buckets: int = 8) -> dict[str, Any]:
    """Request units per inventory operation on moto, the catalog table created from template.yaml,
    two channels with endpoints (so each change asks for two pushes): a reservation of one SKU, of a
    3-line cart, of a hot SKU split in `buckets`; its commit; a stock adjustment; an outbound push.
    Then the hot SKU's sustainable reservations per second implied by DynamoDB's 1,000 WCU/s per
    item: `buckets` x 1,000 / (write units each reservation spends on counter items)."""
    import boto3
    from moto import mock_aws

    from shared import wiring
    from shared.clock import SystemClock
    from shared.domain.commerce.channel_sync import ChannelSync, SyncFanOut
    from shared.domain.commerce.inventory import Inventory
    from shared.domain.commerce.pricing import PriceEntry
    from shared.domain.commerce.sales_channels import Location, RegistryDirectory, SalesChannel
    from shared.domain.commerce.stock import ReservationRequest
    from shared.wiring import commerce as commerce_wiring

    class AcceptingEndpoints:
        def push(self, channel: Any, message_id: str, payload: Any, *, now: Any) -> None:
            return None

        def read(self, channel: Any, skus: Any) -> dict[str, Any]:
            return {}

    saved_environment = dict(os.environ)
    results: dict[str, Any] = {"operations": operations, "hot_sku_buckets": buckets}
    with mock_aws(), restored(saved_environment):
        create_tables({"CatalogTable": "bench-catalog"})
        queue_url = boto3.client("sqs").create_queue(QueueName="bench-sync")["QueueUrl"]
        os.environ.update(CATALOG_TABLE="bench-catalog", CHANNEL_SYNC_QUEUE_URL=queue_url)
        wiring.reset()
        catalog, clock = commerce_wiring.get_catalog(), SystemClock()
        catalog.save_location(Location(location_id="dc", name="DC", kind="warehouse"))
        for channel_id in ("web", "tmall"):
            catalog.save_channel(
                SalesChannel(
                    channel_id=channel_id,
                    name=channel_id,
                    kind="web",
                    locations=["dc"],
                    endpoint_url="https://example.invalid/push",
                    signing_secret="whsec_YmVuY2g=",  # noqa: S106 (a bench channel)
                )
            )
        fan_out = SyncFanOut(registry=catalog, requests=commerce_wiring.get_sync_requests())
        inventory = Inventory(
            stock=catalog,
            reservations=catalog,
            directory=RegistryDirectory(catalog),
            clock=clock,
            listener=fan_out,
        )
        skus = ["ONE", "CART-A", "CART-B", "CART-C", "HOT"]
        for sku in skus:
            inventory.configure(
                sku, "dc", safety_stock=None, incoming=None, buckets=buckets if sku == "HOT" else 1
            )
            inventory.adjust(sku, "dc", 100_000, op_id=f"stock-{sku}", reason="received", source="bench")
            catalog.save_entry(PriceEntry(sku=sku, base=Decimal("10.00")))
        catalog.channels(), catalog.settings("ONE", "dc")  # warm the caches, as a running function has them

        def measured(label: str, work: Callable[[int], Any]) -> dict[str, float]:
            with RequestMeter().watching() as meter:
                for index in range(operations):
                    work(index)
            figures = {
                "dynamodb_wru": meter.write_units / operations,
                "dynamodb_rru": meter.read_units / operations,
                "counter_item_wru": sum(
                    units for entity, units in meter.write_units_by_entity.items() if entity == "STOCK"
                )
                / operations,
                "sync_requests_queued": meter.messages / operations,
                "sqs_requests": sum(v for k, v in meter.calls.items() if k.startswith("sqs:")) / operations,
            }
            results[label] = figures
            return figures

        held: dict[str, list[str]] = {"ONE": []}

        def reserve(label: str, lines: list[tuple[str, int]]) -> Callable[[int], Any]:
            def work(index: int) -> None:
                request = ReservationRequest(
                    request_id=f"{label}-{index}",
                    channel_id="web",
                    lines=[{"sku": sku, "quantity": quantity} for sku, quantity in lines],
                )
                reservation, _ = inventory.reserve(request)
                held.setdefault(label, []).append(reservation.reservation_id)

            return work

        measured("per_reservation", reserve("ONE", [("ONE", 1)]))
        measured("per_reservation_3_lines", reserve("CART", [("CART-A", 1), ("CART-B", 2), ("CART-C", 1)]))
        hot = measured("per_reservation_hot_sku", reserve("HOT", [("HOT", 1)]))
        measured("per_commit", lambda i: inventory.commit(held["ONE"][i], order_id=f"order-{i}"))
        measured("per_release", lambda i: inventory.release(held["CART"][i]))
        measured(
            "per_stock_adjustment",
            lambda i: inventory.adjust("ONE", "dc", 5, op_id=f"adj-{i}", reason="received", source="bench"),
        )
        sync = ChannelSync(
            registry=catalog,
            inventory=inventory,
            prices=catalog,
            store=catalog,
            endpoints=AcceptingEndpoints(),
            requests=commerce_wiring.get_sync_requests(),
            clock=clock,
        )
        measured("per_push", lambda i: sync.push("web", "ONE", force=True))
        results["hot_sku_reservations_per_second"] = {
            "counter_writes_per_reservation": hot["counter_item_wru"],
            "one_item_wcu_per_second": 1000,
            "buckets": buckets,
            "sustainable": buckets * 1000 / hot["counter_item_wru"],
            "one_counter": 1000 / results["per_reservation"]["counter_item_wru"],
        }
    return results
