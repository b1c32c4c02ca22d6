"""Membership in the customers table.

| entity        | pk                      | sk                         | notes                        |
|---------------|-------------------------|----------------------------|------------------------------|
| account       | PROFILE#<profile_id>    | LOYALTY                    | body = Account; version      |
| ledger entry  | PROFILE#<profile_id>    | LEDGER#<seq, 12 digits>    | body = LedgerEntry           |
| entry key     | PROFILE#<profile_id>    | LEDGERKEY#<entry_id>       | seq; the commit marker       |
| member coupon | PROFILE#<profile_id>    | COUPON#<definition>#<slot> | body = MemberCoupon          |
| coupon        | COUPON#<code>           | COUPON                     | body = Coupon; version       |
| definition    | COUPONDEFS              | <definition_id>            | body = CouponDefinition      |
| referral code | REFERRAL#<code>         | REFERRAL                   | profile_id                   |
| schedule      | <KIND>#<bucket>#<shard> | <profile_id>               | EXPIRY / TIERREVIEW month,   |
|               |                         |                            | BIRTHDAY MM-DD; body: detail |

A member's account, ledger and coupon index sit in their profile's partition (erased with it).
Schedules are sharded 16 ways so a month's first orders spread their writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.adapters.dynamo.conventions import is_condition_failure
from shared.adapters.dynamo.customers_table import CustomersTableItem
from shared.adapters.dynamo.person_partition import SCHEDULE_SHARDS, shard_of
from shared.domain.kernel.errors import ConcurrentUpdateError, ConflictError, DependencyUnavailableError
from shared.domain.loyalty.coupons import Coupon, CouponDefinition, MemberCoupon
from shared.domain.loyalty.ledger import Account, LedgerEntry
from shared.domain.loyalty.summary import account_tally, coupon_tally

ACCOUNT_SK = "LOYALTY"
BATCH_GET_LIMIT = 100


class LoyaltyAccountItem(CustomersTableItem, discriminator="loyalty_account"):
    version = NumberAttribute()
    body = UnicodeAttribute()
    tally = UnicodeAttribute(null=True)  # tier#<tier>: the by_tally index (the membership summary)
    points = NumberAttribute(null=True)  # the balance, projected into that index


class LedgerEntryItem(CustomersTableItem, discriminator="ledger_entry"):
    body = UnicodeAttribute()


class LedgerKeyItem(CustomersTableItem, discriminator="ledger_key"):
    seq = NumberAttribute()


class MemberCouponItem(CustomersTableItem, discriminator="member_coupon"):
    body = UnicodeAttribute()


class CouponItem(CustomersTableItem, discriminator="coupon"):
    version = NumberAttribute()
    body = UnicodeAttribute()
    tally = UnicodeAttribute(null=True)  # coupon#<definition>: the by_tally index
    points = NumberAttribute(null=True)  # uses redeemed


class CouponDefinitionItem(CustomersTableItem, discriminator="coupon_definition"):
    body = UnicodeAttribute()


class ReferralCodeItem(CustomersTableItem, discriminator="referral_code"):
    profile_id = UnicodeAttribute()


class ScheduleItem(CustomersTableItem, discriminator="loyalty_schedule"):
    body = UnicodeAttribute(null=True)


def _unavailable(error: PynamoDBException) -> DependencyUnavailableError:
    return DependencyUnavailableError("The customers table did not answer", details={"cause": error.msg})


def _profile(profile_id: str) -> str:
    return f"PROFILE#{profile_id}"


def _ledger_sk(seq: int) -> str:
    return f"LEDGER#{seq:012d}"


class DynamoLoyaltyStore:
    """Implements LoyaltyStore and CouponStore."""

    # ------------------------------------------------------------ accounts and ledger
    def account(self, profile_id: str) -> Account | None:
        try:
            item = LoyaltyAccountItem.get(_profile(profile_id), ACCOUNT_SK, consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return Account.model_validate({**json.loads(item.body), "version": int(item.version)})

    def save_account(
        self, account: Account, *, expected_version: int, member_coupon: MemberCoupon | None = None
    ) -> None:
        item = LoyaltyAccountItem(
            _profile(account.profile_id),
            ACCOUNT_SK,
            version=account.version,
            body=account.model_dump_json(exclude={"version"}, exclude_defaults=True),
            tally=account_tally(account.tier),
            points=account.balance,
        )
        # Invariant: nobody changed the account since we read it (or it still does not exist).
        condition = (
            LoyaltyAccountItem.version == expected_version
            if expected_version
            else LoyaltyAccountItem.pk.does_not_exist()
        )
        if member_coupon is None:
            try:
                item.save(condition=condition)
            except PynamoDBException as error:
                if is_condition_failure(error):
                    raise ConcurrentUpdateError("The member's account changed meanwhile") from error
                raise _unavailable(error) from error
            return
        slot = self._member_coupon_item(account.profile_id, member_coupon)
        try:
            # Invariant: the points leave if and only if the coupon's place is free and taken now.
            with TransactWrite(connection=LoyaltyAccountItem._get_connection().connection) as transaction:
                transaction.save(item, condition=condition)
                transaction.save(slot, condition=MemberCouponItem.pk.does_not_exist())
        except TransactWriteError as error:
            if any(
                reason and reason.code == "ConditionalCheckFailed"
                for reason in error.cancellation_reasons or []
            ):
                raise ConcurrentUpdateError("The member's account or coupons changed meanwhile") from error
            raise _unavailable(error) from error

    def committed(self, profile_id: str, entry_ids: Sequence[str]) -> dict[str, int]:
        keys = [(_profile(profile_id), f"LEDGERKEY#{entry_id}") for entry_id in dict.fromkeys(entry_ids)]
        found: dict[str, int] = {}
        try:
            for start in range(0, len(keys), BATCH_GET_LIMIT):
                for item in LedgerKeyItem.batch_get(
                    keys[start : start + BATCH_GET_LIMIT], consistent_read=True
                ):
                    found[item.sk.removeprefix("LEDGERKEY#")] = int(item.seq)
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return found

    def write_entries(self, profile_id: str, entries: Sequence[LedgerEntry]) -> None:
        try:
            for entry in entries:  # ledger item before its key: the key says "written"
                LedgerEntryItem(
                    _profile(profile_id), _ledger_sk(entry.seq), body=entry.model_dump_json(exclude_none=True)
                ).save()
            for entry in entries:
                LedgerKeyItem(_profile(profile_id), f"LEDGERKEY#{entry.entry_id}", seq=entry.seq).save()
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def entry(self, profile_id: str, seq: int) -> LedgerEntry | None:
        try:
            item = LedgerEntryItem.get(_profile(profile_id), _ledger_sk(seq), consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return LedgerEntry.model_validate_json(item.body)

    def ledger(
        self, profile_id: str, *, before: int | None, limit: int
    ) -> tuple[list[LedgerEntry], int | None]:
        """Newest first; the cursor is the seq to continue before."""
        if before is not None and before <= 1:
            return [], None
        condition = (
            LedgerEntryItem.sk.between(_ledger_sk(0), _ledger_sk(before - 1))
            if before is not None
            else LedgerEntryItem.sk.startswith("LEDGER#")
        )
        try:
            items = list(
                LedgerEntryItem.query(
                    _profile(profile_id),
                    condition,
                    scan_index_forward=False,
                    limit=limit + 1,
                    consistent_read=True,
                )
            )
        except PynamoDBException as error:
            raise _unavailable(error) from error
        entries = [LedgerEntry.model_validate_json(item.body) for item in items]
        more = len(entries) > limit
        entries = entries[:limit]
        return entries, (entries[-1].seq if more and entries else None)

    # ------------------------------------------------------------ schedules and referral codes
    def schedule(self, kind: str, bucket: str, profile_id: str, detail: dict[str, Any] | None = None) -> None:
        try:
            ScheduleItem(
                f"{kind}#{bucket}#{shard_of(profile_id)}",
                profile_id,
                body=json.dumps(detail) if detail else None,
            ).save()
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def unschedule(self, kind: str, bucket: str, profile_id: str) -> None:
        try:
            ScheduleItem(f"{kind}#{bucket}#{shard_of(profile_id)}", profile_id).delete()
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def scheduled(self, kind: str, bucket: str) -> list[tuple[str, dict[str, Any]]]:
        found: list[tuple[str, dict[str, Any]]] = []
        try:
            for shard in range(SCHEDULE_SHARDS):
                for item in ScheduleItem.query(f"{kind}#{bucket}#{shard}"):
                    found.append((item.sk, json.loads(item.body) if item.body else {}))
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return found

    def claim_referral_code(self, code: str, profile_id: str) -> bool:
        try:
            ReferralCodeItem(f"REFERRAL#{code}", "REFERRAL", profile_id=profile_id).save(
                condition=ReferralCodeItem.pk.does_not_exist()
            )
        except PynamoDBException as error:
            if is_condition_failure(error):
                return False
            raise _unavailable(error) from error
        return True

    def referral_owner(self, code: str) -> str | None:
        try:
            return str(ReferralCodeItem.get(f"REFERRAL#{code}", "REFERRAL").profile_id)
        except DoesNotExist:
            return None
        except PynamoDBException as error:
            raise _unavailable(error) from error

    # ------------------------------------------------------------ coupons
    def definition(self, definition_id: str) -> CouponDefinition | None:
        try:
            item = CouponDefinitionItem.get("COUPONDEFS", definition_id)
        except DoesNotExist:
            return None
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return CouponDefinition.model_validate_json(item.body)

    def definitions(self) -> list[CouponDefinition]:
        try:
            return [
                CouponDefinition.model_validate_json(i.body) for i in CouponDefinitionItem.query("COUPONDEFS")
            ]
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def create_definition(self, definition: CouponDefinition) -> None:
        try:
            CouponDefinitionItem(
                "COUPONDEFS", definition.definition_id, body=definition.model_dump_json()
            ).save(condition=CouponDefinitionItem.pk.does_not_exist())
        except PynamoDBException as error:
            if is_condition_failure(error):
                raise ConflictError(
                    "A coupon definition with this id exists",
                    details={"definition_id": definition.definition_id},
                ) from error
            raise _unavailable(error) from error

    def save_definition(self, definition: CouponDefinition) -> None:
        try:
            CouponDefinitionItem(
                "COUPONDEFS", definition.definition_id, body=definition.model_dump_json()
            ).save()
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def member_coupons(self, profile_id: str, definition_id: str | None = None) -> list[MemberCoupon]:
        prefix = f"COUPON#{definition_id}#" if definition_id else "COUPON#"
        try:
            items = MemberCouponItem.query(
                _profile(profile_id), MemberCouponItem.sk.startswith(prefix), consistent_read=True
            )
            return [MemberCoupon.model_validate_json(item.body) for item in items]
        except PynamoDBException as error:
            raise _unavailable(error) from error

    @staticmethod
    def _member_coupon_item(profile_id: str, entry: MemberCoupon) -> MemberCouponItem:
        sk = f"COUPON#{entry.coupon.definition.definition_id}#{entry.slot}"
        return MemberCouponItem(_profile(profile_id), sk, body=entry.model_dump_json(exclude_defaults=True))

    def add_member_coupon(self, profile_id: str, entry: MemberCoupon) -> bool:
        try:
            self._member_coupon_item(profile_id, entry).save(condition=MemberCouponItem.pk.does_not_exist())
        except PynamoDBException as error:
            if is_condition_failure(error):
                return False
            raise _unavailable(error) from error
        return True

    def coupon(self, code: str) -> Coupon | None:
        try:
            item = CouponItem.get(f"COUPON#{code}", "COUPON", consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return Coupon.model_validate({**json.loads(item.body), "version": int(item.version)})

    def coupons(self, codes: list[str]) -> dict[str, Coupon]:
        keys = [(f"COUPON#{code}", "COUPON") for code in dict.fromkeys(codes)]
        found: dict[str, Coupon] = {}
        try:
            for start in range(0, len(keys), BATCH_GET_LIMIT):
                for item in CouponItem.batch_get(keys[start : start + BATCH_GET_LIMIT]):
                    coupon = Coupon.model_validate({**json.loads(item.body), "version": int(item.version)})
                    found[coupon.code] = coupon
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return found

    def create_coupon(self, coupon: Coupon) -> bool:
        try:
            self._coupon_item(coupon).save(condition=CouponItem.pk.does_not_exist())
        except PynamoDBException as error:
            if is_condition_failure(error):
                existing = self.coupon(coupon.code)
                return existing is not None and existing.issue_key == coupon.issue_key
            raise _unavailable(error) from error
        return True

    def save_coupon(self, coupon: Coupon, *, expected_version: int) -> None:
        # Invariant: one writer per coupon version, so a use is counted exactly once.
        try:
            self._coupon_item(coupon).save(condition=CouponItem.version == expected_version)
        except PynamoDBException as error:
            if is_condition_failure(error):
                raise ConcurrentUpdateError("The coupon changed meanwhile") from error
            raise _unavailable(error) from error

    @staticmethod
    def _coupon_item(coupon: Coupon) -> CouponItem:
        return CouponItem(
            f"COUPON#{coupon.code}",
            "COUPON",
            version=coupon.version,
            body=coupon.model_dump_json(exclude={"version"}, exclude_none=True),
            tally=coupon_tally(coupon.definition.definition_id),
            points=coupon.uses,
        )
