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

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.kernel.errors import (
    InvalidInputError,
    NotFoundError,
    RuleRefusedError,
)

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
