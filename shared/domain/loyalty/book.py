"""The loyalty book: records each change on a member's account (the commit point, see
`shared.domain.loyalty.ledger`), and the use cases over it: orders earn, refunds reverse,
referrals, birthdays, the member summary and the daily run (expiry and tier review)."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.domain.kernel.errors import (
    ConcurrentUpdateError,
    DependencyUnavailableError,
    InvalidInputError,
)
from shared.domain.kernel.ports import Clock, EventPublisher
from shared.domain.loyalty.coupons import MemberCoupon
from shared.domain.loyalty.ledger import (
    ENTRY_ID,
    MAX_POINTS,
    MAX_TRIES,
    POINTS_CHANGED,
    REQUEST_ID,
    TIER_CHANGED,
    Account,
    Change,
    EntryKind,
    LedgerEntry,
    LoyaltyRules,
    ReferralRefusedError,
    add_months,
    bonus,
    earn,
    expire,
    month_of,
    reverse,
    review,
)
from shared.domain.loyalty.ports import CouponIssuer, LoyaltyStore


@dataclass(frozen=True)
class Recorded:
    entries: list[LedgerEntry]
    duplicate: bool
    account: Account


@dataclass
class LoyaltyBook:
    store: LoyaltyStore
    clock: Clock
    rules: LoyaltyRules
    publisher: EventPublisher
    coupons: CouponIssuer | None = None
    pause: Callable[[float], None] = time.sleep

    def account(self, profile_id: str) -> Account:
        return self._read(profile_id, None)[0]

    def _read(self, profile_id: str, entry_id: str | None) -> tuple[Account, LedgerEntry | None, bool]:
        """The account with its newest change completed, and the entry `entry_id` names if it is
        recorded already (one read of the account, one batch read of the keys)."""
        account = self.store.account(profile_id) or Account(profile_id=profile_id)
        ids = [entry.entry_id for entry in account.last] + ([entry_id] if entry_id else [])
        done = self.store.committed(profile_id, ids) if ids else {}
        self.complete(account, done=done)
        if entry_id is None:
            return account, None, False
        in_last = next((entry for entry in account.last if entry.entry_id == entry_id), None)
        if in_last is not None:
            return account, in_last, True
        if entry_id in done:
            return account, self.store.entry(profile_id, done[entry_id]), True
        return account, None, False

    def record(
        self,
        profile_id: str,
        operation: Callable[[Account], Change],
        *,
        entry_id: str | None,
        claim: Callable[[], MemberCoupon] | None = None,
    ) -> Recorded:
        """Apply `operation` once: a replay of `entry_id` answers with the entry already recorded.
        `claim` (read fresh on every attempt) names a coupon slot taken in the same atomic write."""
        for attempt in range(MAX_TRIES):
            account, existing, duplicate = self._read(profile_id, entry_id)
            if duplicate:
                return Recorded([existing] if existing else [], True, account)
            before = account.model_copy(deep=True)
            change = operation(account)
            if change.account == before:
                return Recorded([], False, before)
            change.account.last = change.entries
            change.account.version = before.version + 1
            for kind, bucket, detail in change.schedules:
                self.store.schedule(kind, bucket, profile_id, detail)
            try:
                self.store.save_account(
                    change.account,
                    expected_version=before.version,
                    member_coupon=claim() if claim is not None else None,
                )
            except ConcurrentUpdateError:
                self.pause(min(0.5, 0.005 * 2 ** min(attempt, 7)) * random.random())  # noqa: S311 - jitter
                continue
            for kind, bucket in change.unschedules:
                self.store.unschedule(kind, bucket, profile_id)
            self.complete(change.account, done={})
            return Recorded(change.entries, False, change.account)
        raise DependencyUnavailableError("The member's account is too busy; try again")

    def complete(self, account: Account, *, done: dict[str, int] | None = None) -> None:
        """Write the newest change's entries (and run their effects) when they are not yet.
        `done` is what the caller already read of their keys."""
        if not account.last:
            return
        if done is None:
            done = self.store.committed(account.profile_id, [entry.entry_id for entry in account.last])
        pending = [entry for entry in account.last if entry.entry_id not in done]
        if not pending:
            return
        for entry in pending:
            if entry.reward_referrer:
                reward_id = f"referral:referrer:{account.profile_id}"
                at = entry.at

                def reward(referrer: Account, reward_id: str = reward_id, at: datetime = at) -> Change:
                    return bonus(
                        referrer,
                        entry_id=reward_id,
                        points=self.rules.referrer_points,
                        reason="referral: a referred customer's first purchase",
                        now=at,
                        rules=self.rules,
                    )

                self.record(entry.reward_referrer, reward, entry_id=reward_id)
            if entry.issue_coupon and self.coupons is not None:
                self.coupons.issue(
                    account.profile_id,
                    entry.issue_coupon,
                    issue_key=entry.entry_id,
                    reason="points exchange",
                    enforce=False,
                )
        self.publisher.publish_all([_event(account, entry) for entry in pending])
        self.store.write_entries(account.profile_id, pending)


def _event(account: Account, entry: LedgerEntry) -> tuple[str, dict[str, Any]]:
    detail = {
        "event_id": f"loyalty:{account.profile_id}:{entry.entry_id}",
        "profile_id": account.profile_id,
        "entry": entry.view(),
        "balance": entry.balance_after,
        "tier": account.tier,
    }
    if entry.kind is EntryKind.TIER:
        return TIER_CHANGED, {**detail, "from": entry.source["from"], "to": entry.source["to"]}
    return POINTS_CHANGED, detail


def checked_request_id(request_id: Any) -> str:
    if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
        raise InvalidInputError(
            "request_id: give a unique id per request (1-100 of A-Z a-z 0-9 : _ . -); "
            "a retry with the same id is answered with the first result"
        )
    return request_id


def source_id(raw: str) -> str:
    """An order or refund id as an entry id part (long or unusual ids are hashed)."""
    if ENTRY_ID.match(raw) and len(raw) <= 150:
        return raw
    return "h" + hashlib.sha256(raw.encode()).hexdigest()


def earn_for_order(book: LoyaltyBook, detail: dict[str, Any]) -> Recorded | None:
    """An `OrderPlaced` event earns once per order id."""
    profile_id, order = detail.get("profile_id"), detail.get("order") or {}
    total = order.get("total")
    if not profile_id or total is None:
        return None
    order_id = source_id(str(detail.get("order_id") or detail.get("touchpoint_id")))
    occurred = (
        datetime.fromisoformat(detail["occurred_at"]) if detail.get("occurred_at") else book.clock.now()
    )
    return book.record(
        profile_id,
        lambda account: earn(
            account,
            order_id=order_id,
            total=Decimal(str(total)),
            channel=detail.get("channel"),
            occurred_at=occurred,
            now=book.clock.now(),
            rules=book.rules,
        ),
        entry_id=f"earn:{order_id}",
    )


def reverse_for_refund(book: LoyaltyBook, detail: dict[str, Any]) -> Recorded | None:
    """An `OrderRefunded` event reverses once per refund."""
    profile_id, order_id, amount = detail.get("profile_id"), detail.get("order_id"), detail.get("amount")
    if not profile_id or not order_id or amount is None:
        return None
    refund_id = source_id(str(detail.get("refund_id") or detail["touchpoint_id"]))
    return book.record(
        profile_id,
        lambda account: reverse(
            account,
            refund_id=refund_id,
            order_id=source_id(str(order_id)),
            amount=abs(Decimal(str(amount))),
            now=book.clock.now(),
            rules=book.rules,
        ),
        entry_id=f"reverse:{refund_id}",
    )


REFERRAL_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I


def referral_code(book: LoyaltyBook, profile_id: str) -> str:
    """The member's referral code, created once."""
    account = book.account(profile_id)
    if account.referral_code:
        return account.referral_code
    for _ in range(10):
        code = "".join(random.SystemRandom().choice(REFERRAL_ALPHABET) for _ in range(8))
        if book.store.claim_referral_code(code, profile_id):
            break
    else:
        raise DependencyUnavailableError("Could not find a free referral code; try again")

    def keep(member: Account) -> Change:
        if member.referral_code is None:
            member.referral_code = code
        return Change(member)

    return book.record(profile_id, keep, entry_id=None).account.referral_code or code


def set_referrer(book: LoyaltyBook, profile_id: str, code: str) -> Account:
    """The referee names their referrer once, before their first purchase; no self-referral and no
    loops (the referee may not be anywhere up the referrer's chain)."""
    referrer = book.store.referral_owner(code.strip().upper())
    if referrer is None:
        raise ReferralRefusedError("Unknown referral code", details={"reason": "unknown_code"})
    if referrer == profile_id:
        raise ReferralRefusedError("A member cannot refer themselves", details={"reason": "self_referral"})
    upstream_id: str | None = referrer
    for _ in range(50):  # up the referrer's chain; bounded in case two referrals raced into a loop
        if upstream_id is None:
            break
        upstream = book.store.account(upstream_id)
        upstream_id = upstream.referred_by if upstream else None
        if upstream_id == profile_id:
            raise ReferralRefusedError("This referral would make a loop", details={"reason": "loop"})

    def name(account: Account) -> Change:
        if account.referred_by == referrer:
            return Change(account)
        if account.referred_by is not None:
            raise ReferralRefusedError(
                "The member already has a referrer", details={"reason": "already_referred"}
            )
        if account.first_order_id is not None:
            raise ReferralRefusedError(
                "Only customers who have not bought yet can be referred",
                details={"reason": "already_customer"},
            )
        account.referred_by = referrer
        return Change(account)

    return book.record(profile_id, name, entry_id=None).account


def note_birthday(book: LoyaltyBook, profile_id: str, birthday: str | None, timezone: str | None) -> None:
    """Keep the birthday index (by MM-DD) in step with the profile."""

    def keep(member: Account) -> Change:
        change = Change(member)
        if member.birthday == birthday and member.timezone == timezone:
            return change
        if member.birthday and member.birthday != birthday:
            change.unschedules.append(("BIRTHDAY", member.birthday))
        member.birthday, member.timezone = birthday, timezone
        if birthday:
            change.schedules.append(("BIRTHDAY", birthday, {"timezone": timezone}))
        return change

    book.record(profile_id, keep, entry_id=None)


class RedeemRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(pattern=REQUEST_ID.pattern)
    points: int = Field(gt=0, le=MAX_POINTS)
    reason: str | None = Field(default=None, max_length=200)
    channel: str | None = Field(default=None, max_length=40)


class AdjustRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(pattern=REQUEST_ID.pattern)
    points: int = Field(ge=-MAX_POINTS, le=MAX_POINTS)
    reason: str = Field(min_length=1, max_length=200)

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be zero")
        return value


def summary(account: Account, *, now: datetime, rules: LoyaltyRules) -> dict[str, Any]:
    spend, points = account.qualifying(now)
    names = [tier.name for tier in rules.tiers]
    tier = account.tier or names[0]
    upcoming = names[names.index(tier) + 1] if tier in names and names.index(tier) + 1 < len(names) else None
    following = rules.tier(upcoming) if upcoming else None
    return {
        "profile_id": account.profile_id,
        "tier": tier,
        "tier_since": account.tier_since.isoformat() if account.tier_since else None,
        "balance": account.balance,
        "lifetime_earned": account.lifetime_earned,
        "qualifying_12m": {"spend": str(spend), "points": points},
        "next_tier": None
        if following is None
        else {
            "name": following.name,
            "spend_needed": None
            if following.min_spend is None
            else str(max(Decimal(0), following.min_spend - spend)),
            "points_needed": None if following.min_points is None else max(0, following.min_points - points),
        },
        "expiring": [
            {"points": value, "at_end_of": month}
            for month, value in sorted(account.lots.items())
            if month != "never" and value > 0
        ],
        "referral_code": account.referral_code,
        "referred_by": account.referred_by,
        "ledger_entries": account.seq,
    }


@dataclass(frozen=True)
class DailyRun:
    expired_members: int
    points_expired: int
    reviewed: int
    tier_changes: int


def run_daily(book: LoyaltyBook) -> DailyRun:
    """Points expiry and tier review, both driven by schedule entries the accounts wrote (nothing
    scans the members). Each run takes the current and the previous month's entries, so a missed
    day is caught up, and deletes what it finished, so a second run the same day finds nothing."""
    now = book.clock.now()
    current = month_of(now)
    expired_members = points_expired = reviewed = tier_changes = 0
    for month in (add_months(current, -2), add_months(current, -1)):
        for profile_id, _ in book.store.scheduled("EXPIRY", month):
            recorded = book.record(
                profile_id, lambda account: expire(account, now=now, rules=book.rules), entry_id=None
            )
            lost = -sum(entry.points for entry in recorded.entries if entry.kind is EntryKind.EXPIRE)
            expired_members += 1 if lost else 0
            points_expired += lost
            book.store.unschedule("EXPIRY", month, profile_id)
    for month in (add_months(current, -1), current):
        for profile_id, _ in book.store.scheduled("TIERREVIEW", month):
            recorded = book.record(
                profile_id, lambda account: review(account, now=now, rules=book.rules), entry_id=None
            )
            reviewed += 1
            tier_changes += sum(1 for entry in recorded.entries if entry.kind is EntryKind.TIER)
            if recorded.account.review_month != month:
                book.store.unschedule("TIERREVIEW", month, profile_id)
    return DailyRun(expired_members, points_expired, reviewed, tier_changes)
