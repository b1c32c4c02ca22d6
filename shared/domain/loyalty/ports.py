"""What the loyalty ledger needs from the outside world: the store of accounts, entries and
schedules, and a coupon issuer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from shared.domain.loyalty.coupons import MemberCoupon
from shared.domain.loyalty.ledger import Account, LedgerEntry


class LoyaltyStore(Protocol):
    def account(self, profile_id: str) -> Account | None: ...

    def save_account(
        self, account: Account, *, expected_version: int, member_coupon: MemberCoupon | None = None
    ) -> None:
        """Raises ConcurrentUpdateError when the account changed since `expected_version`. With
        `member_coupon`, its slot in the member's coupon index is claimed in the same atomic
        write (a points exchange: the points leave if and only if the coupon's place is taken);
        a slot someone took meanwhile raises ConcurrentUpdateError too."""

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
