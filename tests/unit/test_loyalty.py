"""Membership: the points ledger, tiers, expiry, referrals, coupons, exchange and birthday perks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.customers.profiles import Profile
from shared.domain.kernel.errors import (
    ConflictError,
    DependencyUnavailableError,
    InvalidInputError,
    NotFoundError,
)
from shared.domain.loyalty.book import (
    LoyaltyBook,
    earn_for_order,
    note_birthday,
    referral_code,
    reverse_for_refund,
    run_daily,
    set_referrer,
)
from shared.domain.loyalty.coupons import (
    REVERSAL_WINDOW,
    CouponCheck,
    CouponDefinition,
    CouponRefusedError,
    Coupons,
)
from shared.domain.loyalty.ledger import (
    POINTS_CHANGED,
    TIER_CHANGED,
    EntryKind,
    InsufficientPointsError,
    LoyaltyRules,
    MemberNotFoundError,
    ReferralRefusedError,
    adjust,
    expire,
    redeem,
)
from shared.domain.loyalty.perks import exchange_points, issue_birthday_perks, member_view
from tests.fakes import FakeClock, InMemoryCustomerGraph, InMemoryLoyaltyStore, RecordingPublisher

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def setup(rules: LoyaltyRules | None = None) -> tuple[LoyaltyBook, Coupons, InMemoryLoyaltyStore]:
    store = InMemoryLoyaltyStore()
    clock = FakeClock(T0)
    coupons = Coupons(store=store, clock=clock, pause=lambda _: None)
    book = LoyaltyBook(
        store=store,
        clock=clock,
        rules=rules or LoyaltyRules(),
        publisher=RecordingPublisher(),
        coupons=coupons,
        pause=lambda _: None,
    )
    return book, coupons, store


def order(
    profile_id: str, order_id: str, total: str, *, channel: str = "web", at: datetime = T0
) -> dict[str, Any]:
    return {
        "profile_id": profile_id,
        "touchpoint_id": f"tp-{order_id}",
        "order_id": order_id,
        "channel": channel,
        "occurred_at": at.isoformat(),
        "order": {"order_id": order_id, "total": total},
    }


def refund(profile_id: str, order_id: str, amount: str, refund_id: str) -> dict[str, Any]:
    return {"profile_id": profile_id, "touchpoint_id": refund_id, "order_id": order_id, "amount": amount}


def ledger_sum(store: InMemoryLoyaltyStore, profile_id: str) -> int:
    return sum(entry.points for entry in store.ledgers.get(profile_id, {}).values())


def balance(book: LoyaltyBook, profile_id: str) -> int:
    return book.account(profile_id).balance


# ---------------------------------------------------------------- the ledger invariant

operations = st.lists(
    st.one_of(
        st.tuples(st.just("earn"), st.integers(0, 7), st.integers(0, 2000)),
        st.tuples(st.just("redeem"), st.integers(0, 7), st.integers(1, 1500)),
        st.tuples(st.just("refund"), st.integers(0, 7), st.integers(0, 2500)),
        st.tuples(st.just("expire"), st.integers(0, 7), st.integers(1, 40)),
        st.tuples(st.just("adjust"), st.integers(0, 7), st.integers(-500, 500)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_any_sequence_keeps_the_balance_equal_to_the_ledger_and_never_negative(steps) -> None:
    book, _, store = setup()
    member = "m-1"
    for number, (kind, order_number, amount) in enumerate(steps):
        if kind == "earn":
            earn_for_order(book, order(member, f"o{order_number}", str(amount)))
        elif kind == "refund":
            reverse_for_refund(book, refund(member, f"o{order_number}", str(amount), f"r{number}"))
        elif kind == "expire":
            book.clock.advance(timedelta(days=31 * amount))  # type: ignore[attr-defined]
            book.record(member, lambda a: expire(a, now=book.clock.now(), rules=book.rules), entry_id=None)
        elif kind == "redeem":
            before = balance(book, member)
            try:
                book.record(
                    member,
                    lambda a, n=number, p=amount: redeem(
                        a, entry_id=f"redeem:{n}", points=p, now=book.clock.now(), rules=book.rules
                    ),
                    entry_id=f"redeem:{number}",
                )
            except InsufficientPointsError as error:
                refused = error.details
            else:
                refused = None
            assert (refused == {"balance": before, "asked": amount}) == (amount > before)
        elif kind == "adjust" and amount:
            try:
                book.record(
                    member,
                    lambda a, n=number, p=amount: adjust(
                        a,
                        entry_id=f"adjust:{n}",
                        points=p,
                        reason="t",
                        now=book.clock.now(),
                        rules=book.rules,
                    ),
                    entry_id=f"adjust:{number}",
                )
            except InsufficientPointsError:
                assert -amount > balance(book, member)
        account = book.account(member)
        assert account.balance >= 0
        assert account.balance == ledger_sum(store, member)
        assert account.balance == sum(account.lots.values())
        assert account.seq == len(store.ledgers.get(member, {}))


def test_redeeming_more_than_the_balance_is_refused_clearly_and_changes_nothing() -> None:
    book, _, store = setup()
    earn_for_order(book, order("m", "o1", "100"))
    with pytest.raises(InsufficientPointsError) as refused:
        book.record(
            "m",
            lambda a: redeem(a, entry_id="redeem:x", points=101, now=T0, rules=book.rules),
            entry_id="redeem:x",
        )
    assert refused.value.code == "insufficient_points"
    assert "101 points asked, 100 available" in refused.value.message
    assert balance(book, "m") == 100 and len(store.ledgers["m"]) == 1


# ---------------------------------------------------------------- idempotency by source


def test_the_same_order_event_twice_earns_once_and_a_refund_reverses_once() -> None:
    book, _, store = setup()
    first = earn_for_order(book, order("m", "o-1", "300"))
    second = earn_for_order(book, order("m", "o-1", "300"))
    assert first is not None and second is not None
    assert not first.duplicate and second.duplicate
    assert second.entries[0].entry_id == "earn:o-1"
    assert balance(book, "m") == 300
    reverse_for_refund(book, refund("m", "o-1", "150", "refund-1"))
    again = reverse_for_refund(book, refund("m", "o-1", "150", "refund-1"))
    assert again is not None and again.duplicate
    assert balance(book, "m") == 150 == ledger_sum(store, "m")
    # The rest of the order refunded later: never more than the order earned.
    reverse_for_refund(book, refund("m", "o-1", "999", "refund-2"))
    assert balance(book, "m") == 0
    kinds = [e.kind for e in sorted(store.ledgers["m"].values(), key=lambda e: e.seq)]
    assert kinds == [EntryKind.EARN, EntryKind.REVERSE, EntryKind.REVERSE]


def test_a_refund_of_points_already_spent_stops_at_zero_and_records_the_shortfall() -> None:
    book, _, store = setup()
    earn_for_order(book, order("m", "o-1", "200"))
    book.record(
        "m",
        lambda a: redeem(a, entry_id="redeem:1", points=150, now=T0, rules=book.rules),
        entry_id="redeem:1",
    )
    recorded = reverse_for_refund(book, refund("m", "o-1", "200", "refund-1"))
    assert recorded is not None
    assert recorded.entries[0].points == -50 and recorded.entries[0].source["shortfall"] == 150
    assert balance(book, "m") == 0 == ledger_sum(store, "m")


def test_a_crash_between_the_account_and_its_ledger_items_is_completed_by_the_next_change() -> None:
    book, _, store = setup()
    store.crash_before_entries = 1
    with pytest.raises(DependencyUnavailableError):
        earn_for_order(book, order("m", "o-1", "100"))
    assert ledger_sum(store, "m") == 0 and store.account("m").balance == 100
    # The queue redelivers the order: it is recognised, and the ledger catches up.
    again = earn_for_order(book, order("m", "o-1", "100"))
    assert again is not None and again.duplicate
    assert balance(book, "m") == 100 == ledger_sum(store, "m")


def test_earning_follows_channel_and_tier_rules_and_tiers_change_with_events() -> None:
    rules = LoyaltyRules(channel_multipliers={"pos": Decimal(2)})
    book, _, _ = setup(rules)
    earn_for_order(book, order("m", "o-1", "100", channel="pos"))
    assert balance(book, "m") == 200
    earn_for_order(book, order("m", "o-2", "5000"))  # qualifies for gold; earned at the tier before it
    account = book.account("m")
    assert account.tier == "gold" and account.balance == 200 + 5000
    earn_for_order(book, order("m", "o-3", "100"))
    assert balance(book, "m") == 200 + 5000 + 150  # gold earns 1.5x
    published = book.publisher.published  # type: ignore[attr-defined]
    tier_events = [detail for kind, detail in published if kind == TIER_CHANGED]
    assert [(e["from"], e["to"]) for e in tier_events] == [("member", "gold")]
    assert sum(1 for kind, _ in published if kind == POINTS_CHANGED) == 3


def test_the_daily_run_downgrades_when_spend_leaves_the_12_month_window_and_expires_old_points() -> None:
    book, _, store = setup(LoyaltyRules(points_expire_months=12))
    earn_for_order(book, order("m", "o-1", "2500"))  # March 2026: silver
    assert book.account("m").tier == "silver"
    clock: FakeClock = book.clock  # type: ignore[assignment]
    clock.current = datetime(2027, 2, 2, 3, 0, tzinfo=UTC)
    assert run_daily(book).tier_changes == 0  # Feb 2027 still counts March 2026
    clock.current = datetime(2027, 3, 2, 3, 0, tzinfo=UTC)
    first = run_daily(book)
    assert first.tier_changes == 1 and book.account("m").tier == "member"
    assert first.points_expired == 0  # March 2026 points expire at the end of March 2027
    clock.current = datetime(2027, 4, 1, 3, 0, tzinfo=UTC)
    expired = run_daily(book)
    assert (expired.expired_members, expired.points_expired) == (1, 2500)
    assert run_daily(book).points_expired == 0  # the schedule fired twice: nothing more
    assert balance(book, "m") == 0 == ledger_sum(store, "m")


def test_redeeming_spends_the_oldest_points_first() -> None:
    book, _, _ = setup(LoyaltyRules(points_expire_months=12))
    earn_for_order(book, order("m", "o-1", "100"))
    book.clock.advance(timedelta(days=62))  # type: ignore[attr-defined]
    earn_for_order(book, order("m", "o-2", "100"))
    book.record(
        "m",
        lambda a: redeem(a, entry_id="redeem:1", points=120, now=book.clock.now(), rules=book.rules),
        entry_id="redeem:1",
    )
    assert book.account("m").lots == {"2027-05": 80}


# ---------------------------------------------------------------- referrals


def test_a_referee_first_purchase_rewards_both_once_and_self_referral_and_loops_are_refused() -> None:
    book, _, store = setup()
    code_a = referral_code(book, "a")
    assert referral_code(book, "a") == code_a and len(code_a) == 8
    with pytest.raises(ReferralRefusedError) as refused:
        set_referrer(book, "a", code_a)
    assert refused.value.details == {"reason": "self_referral"}
    set_referrer(book, "b", code_a)  # a refers b
    code_b = referral_code(book, "b")
    with pytest.raises(ReferralRefusedError) as loop:
        set_referrer(book, "a", code_b)
    assert loop.value.details == {"reason": "loop"}
    with pytest.raises(ReferralRefusedError):
        set_referrer(book, "b", "NOPE2345")
    earn_for_order(book, order("b", "o-1", "50"))
    earn_for_order(book, order("b", "o-1", "50"))  # redelivered
    earn_for_order(book, order("b", "o-2", "50"))  # not the first purchase
    assert balance(book, "b") == 50 + 100 + 50
    assert balance(book, "a") == 200 == ledger_sum(store, "a")
    set_referrer(book, "c", code_b)
    set_referrer(book, "c", code_b)  # the same answer again is fine
    with pytest.raises(ReferralRefusedError) as late:
        set_referrer(book, "c", code_a)
    assert late.value.details == {"reason": "already_referred"}
    earn_for_order(book, order("d", "o-9", "10"))
    with pytest.raises(ReferralRefusedError) as customer:
        set_referrer(book, "d", code_a)
    assert customer.value.details == {"reason": "already_customer"}


# ---------------------------------------------------------------- coupons


def define(coupons: Coupons, **fields: Any) -> CouponDefinition:
    values: dict[str, Any] = {
        "definition_id": "ten-off",
        "name": "10 off",
        "discount_type": "amount",
        "value": "10",
    }
    return coupons.create_definition(CouponDefinition.model_validate(values | fields))


def test_a_coupon_is_checked_on_every_channel_and_redeemed_exactly_once() -> None:
    book, coupons, _ = setup()
    define(coupons, min_spend="50", channels=["pos", "web"], valid_days=30)
    coupon = coupons.issue("m", "ten-off", issue_key="campaign-1:m", reason="campaign")
    assert coupons.issue("m", "ten-off", issue_key="campaign-1:m", reason="campaign").code == coupon.code
    code = "-".join(coupon.code[i : i + 4] for i in range(0, 16, 4)).lower()
    check = CouponCheck(order_total=Decimal(80), redemption_id="till-7:1")
    assert coupons.validate(code, check, channel="pos")["discount"] == "10"
    for channel, total, reason in (("app", 80, "coupon_channel"), ("pos", 20, "coupon_min_spend")):
        with pytest.raises(CouponRefusedError) as refused:
            coupons.validate(code, CouponCheck(order_total=Decimal(total)), channel=channel)
        assert refused.value.code == reason
    with pytest.raises(CouponRefusedError) as other:
        coupons.validate(code, CouponCheck(order_total=Decimal(80), profile_id="someone-else"), channel="pos")
    assert other.value.code == "coupon_other_member"
    first, replay = coupons.redeem(code, check, channel="pos")
    assert not replay and first.discount == Decimal(10)
    again, replay = coupons.redeem(code, check, channel="pos")  # the till retries
    assert replay and again == first
    with pytest.raises(CouponRefusedError) as used:
        coupons.redeem(code, check.model_copy(update={"redemption_id": "web:9"}), channel="web")
    assert used.value.code == "coupon_used_up"
    coupons.reverse(code, "till-7:1")  # refunded: the coupon can be used again
    assert not coupons.redeem(code, check.model_copy(update={"redemption_id": "web:9"}), channel="web")[1]
    book.clock.advance(timedelta(days=31))  # type: ignore[attr-defined]
    coupons.reverse(code, "web:9")
    with pytest.raises(CouponRefusedError) as expired:
        coupons.validate(code, check, channel="pos")
    assert expired.value.code == "coupon_expired"


def test_percent_discounts_are_capped_and_per_member_limits_hold() -> None:
    _, coupons, _ = setup()
    define(
        coupons,
        definition_id="twenty",
        discount_type="percent",
        value="20",
        max_discount="30",
        per_member_limit=2,
    )
    assert CouponDefinition.model_validate(
        {"definition_id": "x", "name": "x", "discount_type": "percent", "value": "20", "max_discount": "30"}
    ).discount(Decimal("99.99")) == Decimal("20.00")
    assert coupons.store.definition("twenty").discount(Decimal(1000)) == Decimal(30)  # type: ignore[union-attr]
    coupons.issue("m", "twenty", issue_key="k1", reason="t")
    coupons.issue("m", "twenty", issue_key="k2", reason="t")
    with pytest.raises(CouponRefusedError) as limit:
        coupons.issue("m", "twenty", issue_key="k3", reason="t")
    assert limit.value.code == "coupon_limit_reached"
    with pytest.raises(ValueError, match="at most 100"):
        CouponDefinition.model_validate(
            {"definition_id": "x", "name": "x", "discount_type": "percent", "value": "120"}
        )


def test_points_exchange_for_a_coupon_once_per_request_and_only_with_enough_points() -> None:
    book, coupons, store = setup()
    define(coupons, definition_id="store-20", value="20", channels=["pos"], points_price=500)
    earn_for_order(book, order("m", "o-1", "800", channel="web"))  # earned online
    coupon, replay = exchange_points(book, coupons, "m", "store-20", "req-1")
    again, replay_again = exchange_points(book, coupons, "m", "store-20", "req-1")
    assert (replay, replay_again) == (False, True) and again.code == coupon.code
    assert balance(book, "m") == 300 == ledger_sum(store, "m")
    with pytest.raises(InsufficientPointsError):
        exchange_points(book, coupons, "m", "store-20", "req-2")
    assert len(coupons.of_member("m")) == 1
    # ... and the coupon bought online is redeemed at the store's till.
    redemption, _ = coupons.redeem(
        coupon.code, CouponCheck(order_total=Decimal(60), redemption_id="pos-1"), channel="pos"
    )
    assert redemption.discount == Decimal(20)
    view = member_view(book, coupons, "m", graph=InMemoryCustomerGraph())
    assert view["balance"] == 300 and view["coupons"][0]["status"] == "used"
    with pytest.raises(InvalidInputError):
        exchange_points(book, coupons, "m", "store-20", "bad id with spaces")


def test_an_exchange_whose_coupon_write_crashed_still_delivers_the_coupon() -> None:
    book, coupons, store = setup()
    define(coupons, definition_id="five", value="5", points_price=100)
    earn_for_order(book, order("m", "o-1", "300"))
    store.crash_before_entries = 1
    with pytest.raises(DependencyUnavailableError):
        exchange_points(book, coupons, "m", "five", "req-1")
    coupon, replay = exchange_points(book, coupons, "m", "five", "req-1")
    assert replay and coupon.issue_key == "exchange:req-1"
    assert balance(book, "m") == 200 == ledger_sum(store, "m")
    assert [c.code for c in coupons.of_member("m")] == [coupon.code]


# ---------------------------------------------------------------- birthday perks


def test_a_birthday_perk_is_issued_once_in_the_members_timezone_even_when_the_schedule_fires_twice() -> None:
    book, coupons, _ = setup(LoyaltyRules(birthday_coupon="bday"))
    define(coupons, definition_id="bday", value="30", valid_days=30)
    note_birthday(book, "tokyo", "03-11", "Asia/Tokyo")
    note_birthday(book, "lima", "03-10", "America/Lima")
    note_birthday(book, "leap", "02-29", "UTC")
    clock: FakeClock = book.clock  # type: ignore[assignment]
    clock.current = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)  # 23:30 in Tokyo, 09:30 in Lima
    assert issue_birthday_perks(book, coupons, clock.now()).issued == 1
    assert [len(coupons.of_member(m)) for m in ("tokyo", "lima")] == [0, 1]
    clock.current = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)  # 00:30 on the 11th in Tokyo
    assert issue_birthday_perks(book, coupons, clock.now()).issued == 1
    assert issue_birthday_perks(book, coupons, clock.now()).issued == 0  # fired twice
    assert [len(coupons.of_member(m)) for m in ("tokyo", "lima")] == [1, 1]
    clock.current = datetime(2027, 2, 28, 12, 0, tzinfo=UTC)  # no 29 February in 2027
    assert issue_birthday_perks(book, coupons, clock.now()).issued == 1
    assert coupons.of_member("leap")[0].issue_key == "birthday:2027"
    # A changed birthday moves the member: no perk on the old date.
    note_birthday(book, "lima", "07-01", "America/Lima")
    clock.current = datetime(2027, 3, 10, 16, 0, tzinfo=UTC)
    issue_birthday_perks(book, coupons, clock.now())
    assert len(coupons.of_member("lima")) == 1


def test_rules_are_validated() -> None:
    with pytest.raises(ValueError, match="base tier"):
        LoyaltyRules.model_validate({"tiers": [{"name": "vip", "min_spend": 10}]})
    with pytest.raises(ValueError, match="min_spend or min_points"):
        LoyaltyRules.model_validate({"tiers": [{"name": "base"}, {"name": "vip"}]})


def test_an_id_that_is_neither_member_nor_customer_is_not_found() -> None:
    book, coupons, _ = setup()
    graph = InMemoryCustomerGraph()
    with pytest.raises(MemberNotFoundError):
        member_view(book, coupons, "nobody", graph=graph)
    graph.stored_profiles["known"] = Profile(profile_id="known", created_at=T0)
    assert member_view(book, coupons, "known", graph=graph)["balance"] == 0  # a customer, no points yet


def test_a_use_is_given_back_once_only_by_the_till_that_took_it_and_its_id_never_redeems_again() -> None:
    _, coupons, _ = setup()
    define(coupons, usage_limit=1)
    code = coupons.issue("m", "ten-off", issue_key="k", reason="test").code
    check = CouponCheck(order_total=Decimal(80), redemption_id="till-a:1")
    coupons.redeem(code, check, channel="pos", source_id="till-a")
    with pytest.raises(NotFoundError):  # another till cannot give the use back (nor learn it exists)
        coupons.reverse(code, "till-a:1", source_id="till-b")
    first = coupons.reverse(code, "till-a:1", source_id="till-a")
    assert coupons.reverse(code, "till-a:1", source_id="till-a") == first  # once: a replay changes nothing
    # The attack: reverse and redeem again under the same id, over and over. The id is spent.
    for _ in range(4):
        with pytest.raises(ConflictError):
            coupons.redeem(code, check, channel="pos", source_id="till-a")
    again, _ = coupons.redeem(code, check.model_copy(update={"redemption_id": "till-a:2"}), channel="pos")
    with pytest.raises(CouponRefusedError) as used:  # limit 1: one live use at a time
        coupons.redeem(code, check.model_copy(update={"redemption_id": "till-a:3"}), channel="pos")
    assert used.value.code == "coupon_used_up"
    history = coupons.find(code).redemptions
    assert sorted(history) == ["till-a:1", "till-a:2"]  # append-only: the reversed use is still there
    assert history["till-a:1"].reversed_at is not None and history["till-a:2"] == again


def test_a_use_cannot_be_given_back_after_the_reversal_window() -> None:
    book, coupons, _ = setup()
    define(coupons)
    code = coupons.issue("m", "ten-off", issue_key="k", reason="test").code
    coupons.redeem(code, CouponCheck(order_total=Decimal(80), redemption_id="r-1"), channel="pos")
    book.clock.advance(REVERSAL_WINDOW + timedelta(seconds=1))  # type: ignore[attr-defined]
    with pytest.raises(CouponRefusedError) as late:
        coupons.reverse(code, "r-1")
    assert late.value.code == "reversal_window_passed"
