"""Membership: one points ledger and tier per customer, across every channel.

The ledger is append-only. A change is one or more entries (earn, redeem, adjust, expire,
reverse, bonus, tier), each with an id derived from its source: `earn:<order id>`,
`reverse:<refund id>`, `redeem:<request id>`. Replaying a source finds its entry and changes
nothing.

The balance is kept consistent with the ledger without multi-item transactions. Those cost
twice as much and the race emulator cannot run them. The member's **account** item is the
commit point:
1. One conditional write (on the account's `version`) moves balance, lots, tier and `seq` and
   holds the new entries in `last`.
2. The entries are then written as ledger items, each with an id-keyed key item as the commit
   marker.
3. Every later change first completes the previous one's entries (`complete`) when a crash
   left them unwritten.

So the ledger always catches up: balance = sum of the ledger once the last change is complete.
Points are whole numbers.

Expiry works by **lots**: the points earned in a month expire at the end of the month
`points_expire_months` later. Spending uses the oldest lots first.

Tiers qualify on spend or points earned in the current and previous 11 calendar months (UTC).
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.domain.customers import ConcurrentUpdateError
from shared.domain.errors import (
    DependencyUnavailableError,
    InvalidInputError,
    NotFoundError,
    RuleRefusedError,
)
from shared.domain.ports import Clock, EventPublisher

TIER_CHANGED = "LoyaltyTierChanged"
POINTS_CHANGED = "LoyaltyPointsChanged"
MAX_TRIES = 60
MAX_ORDERS_KEPT = 200  # orders remembered for refunds (most recent)
MAX_POINTS = 10**9
ENTRY_ID = re.compile(r"^[A-Za-z0-9:_.@#/+=-]{1,200}$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9:_.-]{1,100}$")


class InsufficientPointsError(RuleRefusedError):
    code = "insufficient_points"


class ReferralRefusedError(RuleRefusedError):
    code = "referral_refused"


class MemberNotFoundError(NotFoundError):
    code = "member_not_found"


class EntryKind(StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    ADJUST = "adjust"
    EXPIRE = "expire"
    REVERSE = "reverse"
    BONUS = "bonus"
    TIER = "tier"


class TierRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    min_spend: Decimal | None = Field(default=None, ge=0)
    min_points: int | None = Field(default=None, ge=0)
    multiplier: Decimal = Field(default=Decimal(1), gt=0, le=100)


class LoyaltyRules(BaseModel):
    """`LOYALTY_RULES` (JSON); every field has a default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    points_per_unit: Decimal = Field(default=Decimal(1), ge=0, le=1000)
    channel_multipliers: dict[str, Decimal] = Field(default_factory=dict)
    tiers: list[TierRule] = Field(
        default_factory=lambda: [
            TierRule(name="member"),
            TierRule(name="silver", min_spend=Decimal(2000), min_points=2000, multiplier=Decimal("1.2")),
            TierRule(name="gold", min_spend=Decimal(5000), min_points=5000, multiplier=Decimal("1.5")),
        ],
        min_length=1,
        max_length=20,
    )
    points_expire_months: int | None = Field(default=24, ge=1, le=120)
    referrer_points: int = Field(default=200, ge=0, le=MAX_POINTS)
    referee_points: int = Field(default=100, ge=0, le=MAX_POINTS)
    birthday_coupon: str | None = None  # a coupon definition id; None = no birthday perk
    default_timezone: str = "Asia/Shanghai"

    @model_validator(mode="after")
    def _tiers_are_ordered(self) -> LoyaltyRules:
        names = [tier.name for tier in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError("tiers: names must be unique")
        base = self.tiers[0]
        if base.min_spend is not None or base.min_points is not None:
            raise ValueError("tiers[0] is the base tier: it has no qualification")
        for index, tier in enumerate(self.tiers[1:], start=1):
            if tier.min_spend is None and tier.min_points is None:
                raise ValueError(f"tiers[{index}]: give min_spend or min_points")
        return self

    def tier(self, name: str) -> TierRule:
        return next((tier for tier in self.tiers if tier.name == name), self.tiers[0])


class LedgerEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    entry_id: str
    seq: int
    kind: EntryKind
    points: int  # signed
    balance_after: int
    at: datetime
    channel: str | None = None
    reason: str | None = None
    source: dict[str, Any] = Field(default_factory=dict)
    # Effects completed with the entry (at least once, each idempotent by this entry's id).
    issue_coupon: str | None = None  # a coupon definition id
    reward_referrer: str | None = None  # the referrer's profile id

    def view(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude={"reward_referrer"})


class OrderEarning(BaseModel):
    total: Decimal
    points: int
    month: str
    reversed_points: int = 0
    refunded: Decimal = Decimal(0)


class Account(BaseModel):
    """One member's points, lots, tier qualification and referral; `last` = the newest change."""

    profile_id: str
    version: int = 0
    seq: int = 0
    balance: int = 0
    lifetime_earned: int = 0
    lots: dict[str, int] = Field(default_factory=dict)  # expiry month (YYYY-MM) → points
    spend_by_month: dict[str, Decimal] = Field(default_factory=dict)
    points_by_month: dict[str, int] = Field(default_factory=dict)
    tier: str | None = None
    tier_since: datetime | None = None
    review_month: str | None = None
    orders: dict[str, OrderEarning] = Field(default_factory=dict)
    first_order_id: str | None = None
    referred_by: str | None = None
    referral_code: str | None = None
    birthday: str | None = None  # MM-DD
    timezone: str | None = None
    last: list[LedgerEntry] = Field(default_factory=list)

    def qualifying(self, now: datetime) -> tuple[Decimal, int]:
        return self.qualifying_in(month_of(now))

    def qualifying_in(self, month: str) -> tuple[Decimal, int]:
        """Spend and points earned in `month` and the 11 months before it."""
        window = set(months_back(month, 12))
        spend = sum((v for m, v in self.spend_by_month.items() if m in window), Decimal(0))
        points = sum(v for m, v in self.points_by_month.items() if m in window)
        return spend, points


# ---------------------------------------------------------------- months


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def add_months(month: str, count: int) -> str:
    year, number = int(month[:4]), int(month[5:7])
    index = year * 12 + number - 1 + count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_back(month: str, count: int) -> list[str]:
    """`month` and the `count - 1` months before it."""
    return [add_months(month, -offset) for offset in range(count)]


# ---------------------------------------------------------------- the pure rules


@dataclass
class Change:
    """What one operation does to an account: the entries, the schedule entries it needs (written
    before the commit: a stray one is harmless) and the ones it ends (removed after the commit)."""

    account: Account
    entries: list[LedgerEntry] = field(default_factory=list)
    schedules: list[tuple[str, str, dict[str, Any] | None]] = field(
        default_factory=list
    )  # kind, bucket, detail
    unschedules: list[tuple[str, str]] = field(default_factory=list)


def _append(
    change: Change,
    *,
    entry_id: str,
    kind: EntryKind,
    points: int,
    at: datetime,
    rules: LoyaltyRules,
    **extra: Any,
) -> LedgerEntry:
    account = change.account
    if points > 0:
        lot = add_months(month_of(at), rules.points_expire_months) if rules.points_expire_months else "never"
        if lot not in account.lots and lot != "never":
            change.schedules.append(("EXPIRY", lot, None))
        account.lots[lot] = account.lots.get(lot, 0) + points
        account.lifetime_earned += points
    elif points < 0:
        _consume_lots(account, -points)
    account.balance += points
    if account.balance < 0:  # every caller checks first; this is the invariant's last guard
        raise InsufficientPointsError("Not enough points", details={"balance": account.balance - points})
    account.seq += 1
    entry = LedgerEntry(
        entry_id=entry_id,
        seq=account.seq,
        kind=kind,
        points=points,
        balance_after=account.balance,
        at=at,
        **extra,
    )
    change.entries.append(entry)
    return entry


def _consume_lots(account: Account, points: int) -> None:
    for lot in sorted(account.lots, key=lambda m: (m == "never", m)):
        if points <= 0:
            break
        taken = min(points, account.lots[lot])
        account.lots[lot] -= taken
        points -= taken
        if account.lots[lot] == 0:
            del account.lots[lot]


def _retier(change: Change, *, now: datetime, rules: LoyaltyRules) -> None:
    account = change.account
    window = set(months_back(month_of(now), 13))
    account.spend_by_month = {m: v for m, v in account.spend_by_month.items() if m in window}
    account.points_by_month = {m: v for m, v in account.points_by_month.items() if m in window}
    spend, points = account.qualifying(now)
    earned = _earned_tier(spend, points, rules)
    current = account.tier or rules.tiers[0].name
    if earned != current:
        names = [tier.name for tier in rules.tiers]
        direction = "upgrade" if names.index(earned) > names.index(current) else "downgrade"
        _append(
            change,
            entry_id=f"tier:{account.version + 1}",
            kind=EntryKind.TIER,
            points=0,
            at=now,
            reason=direction,
            source={"from": current, "to": earned, "spend_12m": str(spend), "points_12m": points},
            rules=rules,
        )
    if account.tier != earned:
        account.tier = earned
        account.tier_since = now
    review = _lapse_month(account, earned, now=now, rules=rules) if earned != rules.tiers[0].name else None
    if review != account.review_month:
        account.review_month = review
        if review:
            change.schedules.append(("TIERREVIEW", review, None))


def _earned_tier(spend: Decimal, points: int, rules: LoyaltyRules) -> str:
    earned = rules.tiers[0].name
    for tier in rules.tiers[1:]:
        if (tier.min_spend is not None and spend >= tier.min_spend) or (
            tier.min_points is not None and points >= tier.min_points
        ):
            earned = tier.name
    return earned


def _lapse_month(account: Account, tier: str, *, now: datetime, rules: LoyaltyRules) -> str:
    """The first month in which, with no more activity, the member no longer earns `tier`: the
    tier review is scheduled then (one review per member per lapse, not per month)."""
    current = month_of(now)
    names = [t.name for t in rules.tiers]
    for ahead in range(1, 13):
        month = add_months(current, ahead)
        if names.index(_earned_tier(*account.qualifying_in(month), rules)) < names.index(tier):
            return month
    return add_months(current, 13)


def points_for(total: Decimal, *, channel: str | None, tier: str | None, rules: LoyaltyRules) -> int:
    multiplier = rules.points_per_unit * rules.channel_multipliers.get(channel or "", Decimal(1))
    multiplier *= rules.tier(tier or "").multiplier
    return int(max(Decimal(0), total * multiplier).to_integral_value(rounding=ROUND_FLOOR))


def earn(
    account: Account,
    *,
    order_id: str,
    total: Decimal,
    channel: str | None,
    occurred_at: datetime,
    now: datetime,
    rules: LoyaltyRules,
) -> Change:
    """An order earns points at the member's tier before it; the first order settles a referral."""
    change = Change(account)
    points = points_for(total, channel=channel, tier=account.tier, rules=rules)
    month = month_of(occurred_at)
    account.spend_by_month[month] = account.spend_by_month.get(month, Decimal(0)) + max(total, Decimal(0))
    account.points_by_month[month] = account.points_by_month.get(month, 0) + points
    account.orders[order_id] = OrderEarning(total=total, points=points, month=month)
    if len(account.orders) > MAX_ORDERS_KEPT:
        account.orders.pop(next(iter(account.orders)))
    _append(
        change,
        entry_id=f"earn:{order_id}",
        kind=EntryKind.EARN,
        points=points,
        at=now,
        channel=channel,
        source={"order_id": order_id, "total": str(total), "tier": account.tier or rules.tiers[0].name},
        rules=rules,
    )
    if account.first_order_id is None:
        account.first_order_id = order_id
        if account.referred_by:
            _append(
                change,
                entry_id=f"referral:referee:{account.profile_id}",
                kind=EntryKind.BONUS,
                points=rules.referee_points,
                at=now,
                reason="referral: first purchase",
                source={"referrer": account.referred_by, "order_id": order_id},
                reward_referrer=account.referred_by,
                rules=rules,
            )
    _retier(change, now=now, rules=rules)
    return change


def reverse(
    account: Account, *, refund_id: str, order_id: str, amount: Decimal, now: datetime, rules: LoyaltyRules
) -> Change:
    """A refund takes back the order's points in proportion, never more than it earned and never
    below a zero balance (what was already spent is recorded as `shortfall`)."""
    change = Change(account)
    order = account.orders.get(order_id)
    if order is None:
        _retier(change, now=now, rules=rules)
        return change
    amount = min(max(amount, Decimal(0)), order.total - order.refunded)
    share = amount / order.total if order.total > 0 else Decimal(1)
    due = int((order.points * share).to_integral_value(rounding=ROUND_FLOOR))
    due = min(due, order.points - order.reversed_points)
    taken = min(due, account.balance)
    order.reversed_points += due
    order.refunded += amount
    if order.month in account.spend_by_month:
        account.spend_by_month[order.month] = max(Decimal(0), account.spend_by_month[order.month] - amount)
    if order.month in account.points_by_month:
        account.points_by_month[order.month] = max(0, account.points_by_month[order.month] - due)
    _append(
        change,
        entry_id=f"reverse:{refund_id}",
        kind=EntryKind.REVERSE,
        points=-taken,
        at=now,
        source={
            "order_id": order_id,
            "refund_id": refund_id,
            "amount": str(amount),
            "shortfall": due - taken,
        },
        rules=rules,
    )
    _retier(change, now=now, rules=rules)
    return change


def redeem(
    account: Account,
    *,
    entry_id: str,
    points: int,
    now: datetime,
    rules: LoyaltyRules,
    channel: str | None = None,
    reason: str | None = None,
    issue_coupon: str | None = None,
    kind: EntryKind = EntryKind.REDEEM,
) -> Change:
    if points <= 0:
        raise InvalidInputError("points: must be a positive whole number")
    if points > account.balance:
        raise InsufficientPointsError(
            f"{points} points asked, {account.balance} available",
            details={"balance": account.balance, "asked": points},
        )
    change = Change(account)
    _append(
        change,
        entry_id=entry_id,
        kind=kind,
        points=-points,
        at=now,
        channel=channel,
        reason=reason,
        issue_coupon=issue_coupon,
        rules=rules,
    )
    _retier(change, now=now, rules=rules)
    return change


def adjust(
    account: Account, *, entry_id: str, points: int, reason: str, now: datetime, rules: LoyaltyRules
) -> Change:
    """An operator's correction; a negative adjustment never takes the balance below zero."""
    if points == 0:
        raise InvalidInputError("points: must not be zero")
    if points < 0 and -points > account.balance:
        raise InsufficientPointsError(
            f"Cannot take {-points} points, {account.balance} available",
            details={"balance": account.balance, "asked": -points},
        )
    change = Change(account)
    _append(
        change, entry_id=entry_id, kind=EntryKind.ADJUST, points=points, at=now, reason=reason, rules=rules
    )
    _retier(change, now=now, rules=rules)
    return change


def bonus(
    account: Account, *, entry_id: str, points: int, reason: str, now: datetime, rules: LoyaltyRules
) -> Change:
    change = Change(account)
    _append(
        change, entry_id=entry_id, kind=EntryKind.BONUS, points=points, at=now, reason=reason, rules=rules
    )
    _retier(change, now=now, rules=rules)
    return change


def expire(account: Account, *, now: datetime, rules: LoyaltyRules) -> Change:
    """Every lot whose month has ended expires, one entry per month."""
    change = Change(account)
    current = month_of(now)
    for lot in sorted(m for m in account.lots if m != "never" and m < current):
        points = account.lots[lot]
        _append(
            change,
            entry_id=f"expire:{lot}",
            kind=EntryKind.EXPIRE,
            points=-points,
            at=now,
            reason=f"points earned for expiry at the end of {lot}",
            source={"lot": lot},
            rules=rules,
        )
    _retier(change, now=now, rules=rules)
    return change


def review(account: Account, *, now: datetime, rules: LoyaltyRules) -> Change:
    """The tier as time alone changes it (months leave the qualifying window)."""
    change = Change(account)
    _retier(change, now=now, rules=rules)
    return change


# ---------------------------------------------------------------- ports


class LoyaltyStore(Protocol):
    def account(self, profile_id: str) -> Account | None: ...

    def save_account(self, account: Account, *, expected_version: int) -> None:
        """Raises ConcurrentUpdateError when the account changed since `expected_version`."""

    def committed(self, profile_id: str, entry_ids: Sequence[str]) -> dict[str, int]:
        """entry id → seq, for the entries whose ledger item and key are written."""

    def write_entries(self, profile_id: str, entries: Sequence[LedgerEntry]) -> None:
        """Ledger items first, then their keys (the commit markers). Idempotent."""

    def entry(self, profile_id: str, seq: int) -> LedgerEntry | None: ...

    def ledger(
        self, profile_id: str, *, before: int | None, limit: int
    ) -> tuple[list[LedgerEntry], int | None]: ...

    def schedule(
        self, kind: str, bucket: str, profile_id: str, detail: dict[str, Any] | None = None
    ) -> None: ...

    def unschedule(self, kind: str, bucket: str, profile_id: str) -> None: ...

    def scheduled(self, kind: str, bucket: str) -> list[tuple[str, dict[str, Any]]]: ...

    def claim_referral_code(self, code: str, profile_id: str) -> bool: ...

    def referral_owner(self, code: str) -> str | None: ...


class CouponIssuer(Protocol):
    def issue(
        self, profile_id: str, definition_id: str, *, issue_key: str, reason: str, enforce: bool = True
    ) -> Any: ...


# ---------------------------------------------------------------- the service


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
    ) -> Recorded:
        """Apply `operation` once: a replay of `entry_id` answers with the entry already recorded."""
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
                self.store.save_account(change.account, expected_version=before.version)
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


# ---------------------------------------------------------------- use cases


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
