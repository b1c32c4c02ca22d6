"""Recommendations: how well they do on the demo shop's history (each customer's last order held
out, hit rate at 5 against ranking by popularity) and what they cost on moto, the tables created
from template.yaml: request units per order recorded, per customer in the nightly rebuild, and
per recommendation call asked for one store's stock (the route also reads the profile and the
classification: counted separately below)."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from infra.bench.meter import OwnCpu, RequestMeter, create_tables, restored
from infra.demo_history import catalogue, history


class NoChannels:
    """The bench's store has no sales channel to push stock to."""

    def stock_changed(self, keys: Any) -> None:
        return None


def measure_recommendations(calls: int = 200) -> dict[str, Any]:
    from moto import mock_aws

    from shared import wiring
    from shared.clock import SystemClock
    from shared.domain.commerce.inventory import Inventory
    from shared.domain.commerce.pricing import PriceEntry
    from shared.domain.commerce.sales_channels import Location, RegistryDirectory
    from shared.domain.recommendations.scoring import Order, evaluate
    from shared.domain.recommendations.service import Shopper
    from shared.wiring import commerce as commerce_wiring
    from shared.wiring import recommendations as recommendations_wiring

    orders = history()
    evaluation = evaluate(
        [Order(profile_id=o.customer, order_id=o.order_id, at=o.at, skus=frozenset(o.skus)) for o in orders],
        k=5,
    )
    results: dict[str, Any] = {
        "customers": evaluation.customers,
        "orders": len(orders),
        "products": len(catalogue()),
        "hit_rate_at_5": round(evaluation.hit_rate, 4),
        "popularity_hit_rate_at_5": round(evaluation.popularity_hit_rate, 4),
        "coverage": round(evaluation.coverage, 4),
    }
    saved_environment = dict(os.environ)
    with mock_aws(), restored(saved_environment):
        create_tables({"RecommendationsTable": "bench-recommendations", "CatalogTable": "bench-catalog"})
        os.environ.update(RECOMMENDATIONS_TABLE="bench-recommendations", CATALOG_TABLE="bench-catalog")
        os.environ.pop("CHANNEL_SYNC_QUEUE_URL", None)  # the shelf only reads stock: it needs no queue
        wiring.reset()
        recommender = recommendations_wiring.get_recommender()
        catalog = commerce_wiring.get_catalog()
        catalog.save_location(Location(location_id="store", name="Store", kind="store"))
        stocking = Inventory(
            stock=catalog,
            reservations=catalog,
            directory=RegistryDirectory(catalog),
            clock=SystemClock(),
            listener=NoChannels(),
        )
        for index, sku in enumerate(catalogue()):
            catalog.save_entry(PriceEntry(sku=sku, base=Decimal(20 + 15 * (index % 7))))
            if index % 5:  # every fifth product is out of stock at the store
                stocking.count(sku, "store", 10, op_id=f"count-{sku}", source="bench")

        with RequestMeter().watching() as meter:
            for order in orders:
                recommender.record_order(order.customer, order.order_id, order.at, order.skus)
        results["per_order_recorded"] = {
            "dynamodb_wru": meter.write_units / len(orders),
            "dynamodb_rru": meter.read_units / len(orders),
        }
        with RequestMeter().watching() as meter:
            summary = recommender.rebuild()
        results["nightly_per_1k_customers"] = {
            "dynamodb_wru": meter.write_units * 1000 / summary.customers,
            "dynamodb_rru": meter.read_units * 1000 / summary.customers,
        }
        customers = sorted({o.customer for o in orders})[:calls]
        recommender.for_shopper(Shopper(profile_id=customers[0]), location_id="store")  # warm the caches
        cpu = OwnCpu()
        with RequestMeter().watching() as meter, cpu.measuring():
            returned = sum(
                len(recommender.for_shopper(Shopper(profile_id=c), location_id="store", limit=5))
                for c in customers
            )
        results["per_call"] = {
            "dynamodb_rru": meter.read_units / len(customers),
            "dynamodb_wru": meter.write_units / len(customers),
            "handler_cpu_ms": cpu.ms / len(customers),
            "returned": returned / len(customers),
        }
    return results
