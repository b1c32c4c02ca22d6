"""Coupons usable on every channel: definitions, codes issued to members, validate, redeem, reverse.

- A **definition** says what a coupon is worth (amount or percent off, with a cap), the minimum
  spend, the channels where it is valid (none listed = all), when it is valid (a fixed window
  and/or a number of days after issue), how often one code may be used (`usage_limit`) and how
  many codes of it one member may hold (`per_member_limit`). A definition with `points_price` can
  be bought with points.
- A **code** is issued to one member: 16 characters from a 32-letter alphabet (80 random bits),
  grouped in fours. Issuing is idempotent by an issue key (campaign send, perk year, exchange
  request). The member's index entry is written first (its slot enforces `per_member_limit`) and
  the code item second. A missing code item is rebuilt from the index entry.
- **Redeeming** is one conditional write on the code item (its `version`): two tills redeeming
  the same code at the same moment get one success and one `coupon_used_up`. A till's retry with
  the same `redemption_id` is answered with the first result. **Reversal** (refund) gives the use
  back.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.ingest.touchpoints import Channel
from shared.domain.kernel.errors import (
    ConcurrentUpdateError,
    ConflictError,
    DependencyUnavailableError,
    InvalidInputError,
    NotFoundError,
    RuleRefusedError,
)
from shared.domain.kernel.ports import Clock

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_PATTERN = re.compile(r"^[2-9A-HJ-NP-Z]{16}$")
MAX_TRIES = 40
REVERSAL_WINDOW = timedelta(days=90)  # a refund gives the use back within this time of the use


class CouponNotFoundError(NotFoundError):
    code = "coupon_not_found"


class CouponRefusedError(RuleRefusedError):
    """`code` says why: coupon_used_up, coupon_expired, coupon_not_yet_valid, coupon_channel,
    coupon_min_spend, coupon_other_member, coupon_limit_reached, coupon_inactive."""

    def __init__(self, code: str, message: str, *, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.code = code


class DiscountType(StrEnum):
    AMOUNT = "amount"
    PERCENT = "percent"


class CouponDefinition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    definition_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    name: str = Field(min_length=1, max_length=200)
    discount_type: DiscountType
    value: Decimal = Field(gt=0, le=Decimal(10**7))
    max_discount: Decimal | None = Field(default=None, gt=0)
    min_spend: Decimal = Field(default=Decimal(0), ge=0)
    channels: list[Channel] = Field(default_factory=list, max_length=20)  # empty = every channel
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: int | None = Field(default=None, ge=1, le=3650)  # after issue
    usage_limit: int = Field(default=1, ge=1, le=100)
    per_member_limit: int | None = Field(default=None, ge=1, le=1000)
    points_price: int | None = Field(default=None, ge=1, le=10**9)
    active: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> CouponDefinition:
        if self.discount_type is DiscountType.PERCENT and self.value > 100:
            raise ValueError("value: a percent discount is at most 100")
        for name in ("valid_from", "valid_until"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{name}: give a timezone (e.g. 2026-12-01T00:00:00+08:00)")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self

    def discount(self, total: Decimal) -> Decimal:
        if self.discount_type is DiscountType.AMOUNT:
            off = self.value
        else:
            off = (total * self.value / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if self.max_discount is not None:
            off = min(off, self.max_discount)
        return min(off, total)


class Redemption(BaseModel):
    redemption_id: str
    order_total: Decimal
    discount: Decimal
    channel: str
    source_id: str | None = None  # the till's source that redeemed (None: the admin key)
    order_id: str | None = None
    at: datetime
    reversed_at: datetime | None = None


class Coupon(BaseModel):
    code: str
    definition: CouponDefinition
    profile_id: str
    issue_key: str
    reason: str | None = None
    issued_at: datetime
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    version: int = 0
    redemptions: dict[str, Redemption] = Field(default_factory=dict)

    @property
    def uses(self) -> int:
        return sum(1 for r in self.redemptions.values() if r.reversed_at is None)

    def status(self, now: datetime) -> str:
        if self.uses >= self.definition.usage_limit:
            return "used"
        if self.valid_until and now >= self.valid_until:
            return "expired"
        if self.valid_from and now < self.valid_from:
            return "scheduled"
        return "active"

    def view(self, now: datetime) -> dict[str, Any]:
        return {
            "code": formatted(self.code),
            "definition_id": self.definition.definition_id,
            "name": self.definition.name,
            "discount_type": self.definition.discount_type.value,
            "value": str(self.definition.value),
            "min_spend": str(self.definition.min_spend),
            "channels": [c.value for c in self.definition.channels] or "all",
            "profile_id": self.profile_id,
            "issued_at": self.issued_at.isoformat(),
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "uses": self.uses,
            "usage_limit": self.definition.usage_limit,
            "status": self.status(now),
            "redemptions": [r.model_dump(mode="json") for r in self.redemptions.values()],
        }


class MemberCoupon(BaseModel):
    """The member's index entry: enough to rebuild the code item."""

    slot: str
    coupon: Coupon


class CouponStore(Protocol):
    def definition(self, definition_id: str) -> CouponDefinition | None: ...

    def definitions(self) -> list[CouponDefinition]: ...

    def create_definition(self, definition: CouponDefinition) -> None:
        """ConflictError when the id is taken."""

    def save_definition(self, definition: CouponDefinition) -> None: ...

    def member_coupons(self, profile_id: str, definition_id: str | None = None) -> list[MemberCoupon]: ...

    def add_member_coupon(self, profile_id: str, entry: MemberCoupon) -> bool:
        """False when the slot is taken."""

    def coupon(self, code: str) -> Coupon | None: ...

    def coupons(self, codes: list[str]) -> dict[str, Coupon]: ...

    def create_coupon(self, coupon: Coupon) -> bool:
        """False when the code exists."""

    def save_coupon(self, coupon: Coupon, *, expected_version: int) -> None:
        """ConcurrentUpdateError when it changed since `expected_version`."""


def new_code() -> str:
    generator = random.SystemRandom()
    return "".join(generator.choice(CODE_ALPHABET) for _ in range(16))


def formatted(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalised_code(raw: str) -> str:
    """What a till scans or a customer types: dashes, spaces and case do not matter."""
    code = re.sub(r"[\s-]", "", raw or "").upper()
    if not CODE_PATTERN.match(code):
        raise CouponNotFoundError("No such coupon code")
    return code


class CouponCheck(BaseModel):
    """What a till or checkout sends to validate or redeem."""

    model_config = ConfigDict(extra="forbid")

    order_total: Decimal = Field(ge=0, le=Decimal(10**9))
    channel: Channel | None = None
    profile_id: str | None = Field(default=None, max_length=100)
    order_id: str | None = Field(default=None, max_length=200)
    redemption_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9:_.-]{1,100}$")


@dataclass
class Coupons:
    store: CouponStore
    clock: Clock
    pause: Callable[[float], None] = time.sleep

    def definition(self, definition_id: str) -> CouponDefinition:
        definition = self.store.definition(definition_id)
        if definition is None:
            raise NotFoundError("No such coupon definition", details={"definition_id": definition_id})
        return definition

    def issue(
        self, profile_id: str, definition_id: str, *, issue_key: str, reason: str, enforce: bool = True
    ) -> Coupon:
        return self.issue_once(
            profile_id, definition_id, issue_key=issue_key, reason=reason, enforce=enforce
        )[0]

    def stored(self, entry: MemberCoupon) -> Coupon:
        """The coupon an index entry names; rebuilt when a crash between an issue's two writes
        left the code item unwritten."""
        coupon = self.store.coupon(entry.coupon.code)
        if coupon is None:
            self.store.create_coupon(entry.coupon)
            return entry.coupon
        return coupon

    def issue_once(
        self, profile_id: str, definition_id: str, *, issue_key: str, reason: str, enforce: bool = True
    ) -> tuple[Coupon, bool]:
        """Once per issue key: (the coupon, whether this call issued it). Refused past the
        definition's per-member limit or when switched off (`enforce=False`: a points exchange
        already checked both before taking the points, a perk is not limited)."""
        definition = self.definition(definition_id)
        limited = enforce and definition.per_member_limit is not None
        if enforce and not definition.active:
            raise CouponRefusedError("coupon_inactive", "This coupon definition is switched off")
        for _ in range(MAX_TRIES):
            held = self.store.member_coupons(profile_id, definition_id)
            mine = next((entry for entry in held if entry.coupon.issue_key == issue_key), None)
            if mine is not None:
                return self.stored(mine), False
            entry = self.next_slot(
                profile_id, definition, held, issue_key=issue_key, reason=reason, limited=limited
            )
            if self.store.add_member_coupon(profile_id, entry):
                if not self.store.create_coupon(entry.coupon):
                    raise DependencyUnavailableError("Coupon code collision; try again")
                return entry.coupon, True
        raise DependencyUnavailableError("The member's coupons are too busy; try again")

    def next_slot(
        self,
        profile_id: str,
        definition: CouponDefinition,
        held: list[MemberCoupon],
        *,
        issue_key: str,
        reason: str,
        limited: bool,
    ) -> MemberCoupon:
        """A new coupon in the member's next free place. Under a per-member limit the places are
        numbered 1..limit, so two issues racing for the last one write the same key and only the
        first conditional write of it succeeds; unlimited coupons are placed by their issue key."""
        if limited and len(held) >= (definition.per_member_limit or 0):
            raise CouponRefusedError(
                "coupon_limit_reached",
                f"The member already holds {len(held)} of this coupon",
                details={"limit": definition.per_member_limit},
            )
        now = self.clock.now()
        until = definition.valid_until
        if definition.valid_days is not None:
            after_issue = now + timedelta(days=definition.valid_days)
            until = after_issue if until is None else min(until, after_issue)
        coupon = Coupon(
            code=new_code(),
            definition=definition,
            profile_id=profile_id,
            issue_key=issue_key,
            reason=reason,
            issued_at=now,
            valid_from=definition.valid_from,
            valid_until=until,
        )
        slot = f"{len(held) + 1:06d}" if limited else hashlib.sha256(issue_key.encode()).hexdigest()[:32]
        return MemberCoupon(slot=slot, coupon=coupon)

    def find(self, raw_code: str) -> Coupon:
        code = normalised_code(raw_code)
        coupon = self.store.coupon(code)
        if coupon is None:
            raise CouponNotFoundError("No such coupon code")
        return coupon

    def check(self, coupon: Coupon, request: CouponCheck, *, channel: str) -> Decimal:
        """The discount this order gets, or the reason it gets none."""
        definition, now = coupon.definition, self.clock.now()
        if request.profile_id and request.profile_id != coupon.profile_id:
            raise CouponRefusedError("coupon_other_member", "This coupon was issued to another member")
        if coupon.valid_from and now < coupon.valid_from:
            raise CouponRefusedError("coupon_not_yet_valid", f"Valid from {coupon.valid_from.isoformat()}")
        if coupon.valid_until and now >= coupon.valid_until:
            raise CouponRefusedError("coupon_expired", f"Expired at {coupon.valid_until.isoformat()}")
        if definition.channels and channel not in {c.value for c in definition.channels}:
            raise CouponRefusedError(
                "coupon_channel",
                f"Not valid on {channel}",
                details={"valid_on": [c.value for c in definition.channels]},
            )
        if request.order_total < definition.min_spend:
            raise CouponRefusedError(
                "coupon_min_spend",
                f"Needs a spend of at least {definition.min_spend}",
                details={"min_spend": str(definition.min_spend)},
            )
        if coupon.uses >= definition.usage_limit:
            raise CouponRefusedError("coupon_used_up", "This coupon has been used")
        return definition.discount(request.order_total)

    def validate(self, raw_code: str, request: CouponCheck, *, channel: str) -> dict[str, Any]:
        coupon = self.find(raw_code)
        discount = self.check(coupon, request, channel=channel)
        return {"valid": True, "discount": str(discount), "coupon": coupon.view(self.clock.now())}

    def redeem(
        self, raw_code: str, request: CouponCheck, *, channel: str, source_id: str | None = None
    ) -> tuple[Redemption, bool]:
        """Exactly once per use: (the redemption, whether it is a replay of an earlier one). A
        redemption id is used once, ever: after a reversal the coupon takes a new use under a new
        id, and the history keeps both."""
        if not request.redemption_id:
            raise InvalidInputError("redemption_id: required (the till's id for this redemption)")
        for attempt in range(MAX_TRIES):
            coupon = self.find(raw_code)
            earlier = coupon.redemptions.get(request.redemption_id)
            if earlier is not None and earlier.reversed_at is None:
                return earlier, True
            if earlier is not None:
                raise ConflictError(
                    "This redemption_id was used and reversed; a new use needs a new redemption_id",
                    details={"redemption_id": request.redemption_id},
                )
            discount = self.check(coupon, request, channel=channel)
            redemption = Redemption(
                redemption_id=request.redemption_id,
                order_total=request.order_total,
                discount=discount,
                channel=channel,
                source_id=source_id,
                order_id=request.order_id,
                at=self.clock.now(),
            )
            version = coupon.version
            coupon.redemptions[request.redemption_id] = redemption
            coupon.version += 1
            try:
                self.store.save_coupon(coupon, expected_version=version)
            except ConcurrentUpdateError:
                self.pause(min(0.2, 0.002 * 2 ** min(attempt, 7)) * random.random())  # noqa: S311 - jitter
                continue
            return redemption, False
        raise DependencyUnavailableError("The coupon is too busy; try again")

    def reverse(self, raw_code: str, redemption_id: str, *, source_id: str | None = None) -> Redemption:
        """A refund gives the use back: once, within `REVERSAL_WINDOW` of the use, and only by the
        till's source that redeemed it (`source_id`) or the admin key (None). Another source's
        reversal answers as an unknown redemption does."""
        for _ in range(MAX_TRIES):
            coupon = self.find(raw_code)
            redemption = coupon.redemptions.get(redemption_id)
            if redemption is None or (source_id is not None and redemption.source_id != source_id):
                raise NotFoundError(
                    "No such redemption of this coupon", details={"redemption_id": redemption_id}
                )
            if redemption.reversed_at is not None:
                return redemption
            if self.clock.now() - redemption.at > REVERSAL_WINDOW:
                raise CouponRefusedError(
                    "reversal_window_passed",
                    f"A use can be given back within {REVERSAL_WINDOW.days} days",
                    details={"redeemed_at": redemption.at.isoformat()},
                )
            version = coupon.version
            reversed_redemption = redemption.model_copy(update={"reversed_at": self.clock.now()})
            # A reversed use no longer counts; its id stays in the history and is never used again.
            coupon.redemptions[redemption_id] = reversed_redemption
            coupon.version += 1
            try:
                self.store.save_coupon(coupon, expected_version=version)
            except ConcurrentUpdateError:
                continue
            return reversed_redemption
        raise DependencyUnavailableError("The coupon is too busy; try again")

    def of_member(self, profile_id: str) -> list[Coupon]:
        entries = self.store.member_coupons(profile_id)
        found = self.store.coupons([entry.coupon.code for entry in entries])
        coupons = [found.get(entry.coupon.code) or self.stored(entry) for entry in entries]
        return sorted(coupons, key=lambda c: c.issued_at, reverse=True)

    def create_definition(self, definition: CouponDefinition) -> CouponDefinition:
        self.store.create_definition(definition)
        return definition

    def set_active(self, definition_id: str, active: bool) -> CouponDefinition:
        definition = self.definition(definition_id).model_copy(update={"active": active})
        self.store.save_definition(definition)
        return definition
