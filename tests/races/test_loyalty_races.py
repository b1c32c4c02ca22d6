"""Concurrent tills and redemptions on one coupon and one member, on dynalite."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.domain.kernel.errors import ConflictError, DependencyUnavailableError
from shared.domain.loyalty.book import LoyaltyBook, earn_for_order
from shared.domain.loyalty.coupons import CouponCheck, CouponDefinition, CouponRefusedError, Coupons
from shared.domain.loyalty.ledger import InsufficientPointsError, LoyaltyRules, redeem
from shared.domain.loyalty.perks import exchange_points
from shared.wiring import loyalty as loyalty_wiring
from tests.fakes import FakeClock, RecordingPublisher
from tests.races.test_profile_races import run_together
from tests.unit.test_loyalty import T0, order


def book_and_coupons() -> tuple[LoyaltyBook, Coupons]:
    store = loyalty_wiring.get_loyalty_store()
    clock = FakeClock(T0)
    coupons = Coupons(store=store, clock=clock)
    book = LoyaltyBook(
        store=store, clock=clock, rules=LoyaltyRules(), publisher=RecordingPublisher(), coupons=coupons
    )
    return book, coupons


def test_one_coupon_redeemed_from_20_tills_at_once_succeeds_exactly_once(on_dynalite):
    _, coupons = book_and_coupons()
    coupons.create_definition(
        CouponDefinition(definition_id="race-50", name="50 off", discount_type="amount", value=Decimal(50))
    )
    coupon = coupons.issue("member-1", "race-50", issue_key="race", reason="race")
    outcomes: list[str] = []

    def till(number: int) -> None:
        check = CouponCheck(order_total=Decimal(200), redemption_id=f"till-{number}")
        try:
            coupons.redeem(coupon.code, check, channel="pos")
            outcomes.append("redeemed")
        except CouponRefusedError as refused:
            outcomes.append(refused.code)

    run_together([lambda n=n: till(n) for n in range(20)])
    assert sorted(outcomes) == ["coupon_used_up"] * 19 + ["redeemed"]
    stored = loyalty_wiring.get_loyalty_store().coupon(coupon.code)
    assert stored is not None and stored.uses == 1 and len(stored.redemptions) == 1


def test_50_concurrent_point_redemptions_never_overdraw(on_dynalite):
    book, _ = book_and_coupons()
    earn_for_order(book, order("member-2", "o-1", "1000"))
    outcomes: list[str] = []

    def redeemer(number: int) -> None:
        entry_id = f"redeem:r{number}"
        try:
            book.record(
                "member-2",
                lambda account: redeem(account, entry_id=entry_id, points=30, now=T0, rules=book.rules),
                entry_id=entry_id,
            )
            outcomes.append("redeemed")
        except InsufficientPointsError:
            outcomes.append("refused")

    run_together([lambda n=n: redeemer(n) for n in range(50)])
    assert outcomes.count("redeemed") == 33 and outcomes.count("refused") == 17
    store = loyalty_wiring.get_loyalty_store()
    account = book.account("member-2")
    entries, _ = store.ledger("member-2", before=None, limit=100)
    assert account.balance == 10 == sum(entry.points for entry in entries)
    assert min(entry.balance_after for entry in entries) >= 0
    assert len(entries) == 34


def test_8_concurrent_exchanges_against_a_per_member_limit_of_1_issue_one_coupon_and_take_its_points_once(
    on_serial_emulator,
):
    """The points leave in the same transaction that takes the coupon's numbered place, so the
    limit holds however the exchanges interleave (transactions: the serialized emulator, as
    dynalite has none)."""
    book, coupons = book_and_coupons()
    coupons.create_definition(
        CouponDefinition(
            definition_id="race-once",
            name="once per member",
            discount_type="amount",
            value=Decimal(10),
            points_price=100,
            per_member_limit=1,
        )
    )
    earn_for_order(book, order("member-3", "o-1", "1000"))
    outcomes: list[str] = []

    def exchanger(number: int) -> None:
        try:
            exchange_points(book, coupons, "member-3", "race-once", f"x-{number}")
            outcomes.append("exchanged")
        except CouponRefusedError as refused:
            outcomes.append(refused.code)

    run_together([lambda n=n: exchanger(n) for n in range(8)])
    assert sorted(outcomes) == ["coupon_limit_reached"] * 7 + ["exchanged"]
    store = loyalty_wiring.get_loyalty_store()
    held = store.member_coupons("member-3", "race-once")
    assert len(held) == 1 and store.coupon(held[0].coupon.code) is not None
    assert book.account("member-3").balance == 900
    entries, _ = store.ledger("member-3", before=None, limit=100)
    assert [entry.points for entry in entries if entry.points < 0] == [-100]


def test_a_limit_1_coupon_reversed_by_10_tills_at_once_and_redeemed_by_10_gives_back_one_use(on_dynalite):
    """Issue 15, defect 3: concurrent reversals of one use give it back once, concurrent
    redemptions after it take it once, and the reversed id is never used again."""
    _, coupons = book_and_coupons()
    coupons.create_definition(
        CouponDefinition(definition_id="race-reuse", name="once", discount_type="amount", value=Decimal(5))
    )
    coupon = coupons.issue("member-4", "race-reuse", issue_key="reuse", reason="race")
    first = CouponCheck(order_total=Decimal(50), redemption_id="till-a")
    coupons.redeem(coupon.code, first, channel="pos", source_id="store-1")
    reversals: list[str] = []

    def reverser(number: int) -> None:
        try:
            reversals.append(str(coupons.reverse(coupon.code, "till-a", source_id="store-1").reversed_at))
        except (CouponRefusedError, DependencyUnavailableError) as refused:
            reversals.append(type(refused).__name__)

    run_together([lambda n=n: reverser(n) for n in range(10)])
    assert len(set(reversals)) == 1 and "None" not in reversals  # one reversal, seen by all

    outcomes: list[str] = []

    def till(number: int) -> None:
        try:
            check = CouponCheck(order_total=Decimal(50), redemption_id=f"till-b{number}")
            coupons.redeem(coupon.code, check, channel="pos", source_id="store-1")
            outcomes.append("redeemed")
        except CouponRefusedError as refused:
            outcomes.append(refused.code)

    run_together([lambda n=n: till(n) for n in range(10)])
    assert sorted(outcomes) == ["coupon_used_up"] * 9 + ["redeemed"]
    stored = loyalty_wiring.get_loyalty_store().coupon(coupon.code)
    assert stored is not None and stored.uses == 1 and len(stored.redemptions) == 2
    with pytest.raises(ConflictError):
        coupons.redeem(coupon.code, first, channel="pos", source_id="store-1")
