"""Where points and coupons meet: points → coupon exchange, birthday perks, the member summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from shared.domain.customers.admin import ProfileNotFoundError, live_profile
from shared.domain.customers.ports import CustomerGraph
from shared.domain.loyalty.book import LoyaltyBook, checked_request_id, summary
from shared.domain.loyalty.coupons import Coupon, CouponRefusedError, Coupons, MemberCoupon
from shared.domain.loyalty.ledger import MemberNotFoundError, redeem
from shared.domain.segments.rules import zone_named


def exchange_points(
    book: LoyaltyBook, coupons: Coupons, profile_id: str, definition_id: str, request_id: str
) -> tuple[Coupon, bool]:
    """Buy a coupon with points: the points leave and the coupon arrives exactly once per request.
    The points leave in the same atomic write that takes the coupon's place in the member's index
    (so concurrent exchanges never exceed `per_member_limit`); the code item is the redeem entry's
    effect, so a crash in between still delivers it."""
    request_id = checked_request_id(request_id)
    entry_id = f"exchange:{request_id}"
    definition = coupons.definition(definition_id)
    held = coupons.store.member_coupons(profile_id, definition_id)
    earlier = next((entry for entry in held if entry.coupon.issue_key == entry_id), None)
    if earlier is not None:
        return coupons.stored(earlier), True
    if definition.points_price is None:
        raise CouponRefusedError("coupon_not_exchangeable", "This coupon cannot be bought with points")
    if not definition.active:
        raise CouponRefusedError("coupon_inactive", "This coupon definition is switched off")
    limited = definition.per_member_limit is not None
    coupons.next_slot(
        profile_id, definition, held, issue_key=entry_id, reason="points exchange", limited=limited
    )

    def claim() -> MemberCoupon:
        now_held = coupons.store.member_coupons(profile_id, definition_id)
        return coupons.next_slot(
            profile_id, definition, now_held, issue_key=entry_id, reason="points exchange", limited=limited
        )

    price = definition.points_price
    recorded = book.record(
        profile_id,
        lambda account: redeem(
            account,
            entry_id=entry_id,
            points=price,
            now=book.clock.now(),
            rules=book.rules,
            reason=f"exchanged for coupon {definition_id}",
            issue_coupon=definition_id,
        ),
        entry_id=entry_id,
        claim=claim,
    )
    coupon = coupons.issue(
        profile_id, definition_id, issue_key=entry_id, reason="points exchange", enforce=False
    )
    return coupon, recorded.duplicate


@dataclass(frozen=True)
class PerkRun:
    considered: int
    issued: int


def _month_day(day: date) -> str:
    return f"{day.month:02d}-{day.day:02d}"


def birthday_today(birthday: str, local: date) -> bool:
    """29 February birthdays are celebrated on 28 February in other years."""
    if birthday == _month_day(local):
        return True
    leap = local.year % 4 == 0 and (local.year % 100 != 0 or local.year % 400 == 0)
    return birthday == "02-29" and not leap and _month_day(local) == "02-28"


def issue_birthday_perks(book: LoyaltyBook, coupons: Coupons, now: datetime) -> PerkRun:
    """Members whose local date is their birthday get the perk once per local year (the issue key
    is the year), however often this runs. Runs hourly, so a perk arrives soon after local midnight."""
    definition_id = book.rules.birthday_coupon
    if definition_id is None:
        return PerkRun(0, 0)
    days = {now.date() + timedelta(days=offset) for offset in (-1, 0, 1)}
    buckets = {_month_day(day) for day in days} | (
        {"02-29"} if any(_month_day(d) == "02-28" for d in days) else set()
    )
    considered = issued = 0
    for bucket in sorted(buckets):
        for profile_id, detail in book.store.scheduled("BIRTHDAY", bucket):
            local = now.astimezone(zone_named(detail.get("timezone"), book.rules.default_timezone)).date()
            if not birthday_today(bucket, local):
                continue
            considered += 1
            _, created = coupons.issue_once(
                profile_id,
                definition_id,
                issue_key=f"birthday:{local.year}",
                reason=f"birthday {local.year}",
                enforce=False,
            )
            issued += created
    return PerkRun(considered, issued)


def member_view(
    book: LoyaltyBook, coupons: Coupons, profile_id: str, *, graph: CustomerGraph
) -> dict[str, Any]:
    """A member's balance, tier and coupons. An id that is neither a member nor a customer is a
    404, not an empty account."""
    if book.store.account(profile_id) is None:
        try:
            live_profile(profile_id, graph=graph)
        except ProfileNotFoundError as error:
            raise MemberNotFoundError("No member with this id", details={"profile_id": profile_id}) from error
    now = book.clock.now()
    account = book.account(profile_id)
    return {
        **summary(account, now=now, rules=book.rules),
        "coupons": [coupon.view(now) for coupon in coupons.of_member(profile_id)],
    }
