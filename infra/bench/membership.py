"""Membership: request units per order earned, redemption, exchange and the daily run."""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from infra.bench.meter import RequestMeter, create_tables, restored


def measure_membership(members: int = 200) -> dict[str, Any]:
    """Request units per loyalty operation on moto, the customers table created from template.yaml:
    an order earning points (three per member: the first also opens the account and its expiry
    schedule), a points redemption, a coupon issued, a coupon redeemed at a till."""
    from moto import mock_aws

    from shared import wiring
    from shared.clock import SystemClock
    from shared.domain.loyalty.book import LoyaltyBook, earn_for_order
    from shared.domain.loyalty.coupons import CouponCheck, CouponDefinition, Coupons
    from shared.domain.loyalty.ledger import Account, Change, LoyaltyRules, redeem
    from shared.wiring import loyalty as loyalty_wiring

    class CountingPublisher:
        def __init__(self) -> None:
            self.events = 0

        def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
            self.events += 1

        def publish_all(self, events: Any) -> None:
            self.events += len(events)

    saved_environment = dict(os.environ)
    results: dict[str, Any] = {"members": members}
    with mock_aws(), restored(saved_environment):
        create_tables({"CustomersTable": "bench-customers"})
        os.environ["CUSTOMERS_TABLE"] = "bench-customers"
        wiring.reset()
        store, clock, publisher = loyalty_wiring.get_loyalty_store(), SystemClock(), CountingPublisher()
        coupons = Coupons(store=store, clock=clock)
        book = LoyaltyBook(
            store=store, clock=clock, rules=LoyaltyRules(), publisher=publisher, coupons=coupons
        )
        coupons.create_definition(
            CouponDefinition(
                definition_id="bench-10", name="10 off", discount_type="amount", value=Decimal(10)
            )
        )

        def measured(label: str, count: int, work: Callable[[int], Any]) -> None:
            publisher.events = 0
            with RequestMeter().watching() as meter:
                for index in range(count):
                    work(index)
            results[label] = {
                "dynamodb_wru": meter.write_units / count,
                "dynamodb_rru": meter.read_units / count,
                "eventbridge_events": publisher.events / count,
            }

        def order_event(index: int) -> dict[str, Any]:
            member, number = index % members, index // members
            return {
                "profile_id": f"member-{member}",
                "touchpoint_id": f"tp-{index}",
                "order_id": f"order-{index}",
                "channel": "web",
                "order": {"total": str(100 + number * 50)},
            }

        measured("per_earn", members * 3, lambda i: earn_for_order(book, order_event(i)))

        def points_redemption(index: int) -> None:
            entry_id = f"redeem:b{index}"

            def spend(account: Account) -> Change:
                return redeem(account, entry_id=entry_id, points=50, now=clock.now(), rules=book.rules)

            book.record(f"member-{index}", spend, entry_id=entry_id)

        measured("per_points_redemption", members, points_redemption)
        codes: list[str] = []
        measured(
            "per_coupon_issued",
            members,
            lambda i: codes.append(
                coupons.issue(f"member-{i}", "bench-10", issue_key="bench", reason="bench").code
            ),
        )
        measured(
            "per_coupon_redemption",
            members,
            lambda i: coupons.redeem(
                codes[i], CouponCheck(order_total=Decimal(50), redemption_id=f"till:{i}"), channel="pos"
            ),
        )
    return results
