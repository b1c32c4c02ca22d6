"""The customers table (customer context): identity graph, profiles, merge log, privacy records.

| entity   | pk                        | sk               | notes                                        |
|----------|---------------------------|------------------|----------------------------------------------|
| identity | IDENTITY#<sha256(t:v)>    | IDENTITY         | → profile_id; suppressed; shared; no raw PII |
| profile  | PROFILE#<profile_id>      | PROFILE          | body = Profile JSON; version (optimistic)    |
| merge    | PROFILE#<survivor_id>     | MERGE#<merge_id> | body = MergeRecord JSON                      |
| erasure  | ERASURE#<request_id>      | ERASURE          | audit of a privacy erasure (hashes only)     |

Everything about a person lives in their profile's partition, so erasing a person is a Query
of that partition plus their identity records.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.adapters.dynamo.conventions import is_condition_failure
from shared.adapters.dynamo.person_partition import person_partition_keys
from shared.domain.customers.identity import IdentityRecord
from shared.domain.customers.ports import MergeCommit, MergeRecord, UnmergeCommit
from shared.domain.customers.privacy import ErasureRequest
from shared.domain.customers.profiles import Profile
from shared.domain.kernel.errors import (
    ConcurrentUpdateError,
    DependencyUnavailableError,
    UnreadableRecordError,
)
from shared.domain.kernel.identifiers import IdentifierType
from shared.observability import logger, metrics

_PROFILE_FIELDS_OUTSIDE_BODY = {"profile_id", "version"}


class CustomersTableItem(Model):
    class Meta:
        table_name = "unbound-customers-table"  # bound by bind_table from Settings

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute(attr_name="kind")


class IdentityItem(CustomersTableItem, discriminator="identity"):
    version = NumberAttribute()
    id_type = UnicodeAttribute()
    profile_id = UnicodeAttribute(null=True)
    suppressed = BooleanAttribute(default=False)
    shared = BooleanAttribute(default=False)
    seen_user_ids = ListAttribute(of=UnicodeAttribute, null=True)

    def to_record(self) -> IdentityRecord:
        return IdentityRecord(
            key=self.pk.removeprefix("IDENTITY#"),
            type=IdentifierType(self.id_type),
            profile_id=self.profile_id,
            version=int(self.version),
            suppressed=bool(self.suppressed),
            shared=bool(self.shared),
            seen_user_ids=[str(h) for h in self.seen_user_ids or []],
        )


class ProfileItem(CustomersTableItem, discriminator="profile"):
    version = NumberAttribute()
    body = UnicodeAttribute()
    merged_into = UnicodeAttribute(null=True)

    def to_profile(self) -> Profile:
        """Raises UnreadableRecordError (logged once here) for a body this version cannot read."""
        profile_id = self.pk.removeprefix("PROFILE#")
        try:
            stored = json.loads(self.body)
            return Profile.model_validate({**stored, "profile_id": profile_id, "version": int(self.version)})
        except (ValueError, TypeError, ArithmeticError) as error:  # ValidationError is a ValueError
            logger.error(
                "quarantined record",
                extra={"kind": "profile", "profile_id": profile_id, "error": str(error)[:500]},
            )
            metrics.add_metric(name="RecordsQuarantined", unit=MetricUnit.Count, value=1)
            raise UnreadableRecordError(
                "This profile's stored data cannot be read by this version; it is quarantined",
                details={"profile_id": profile_id},
            ) from error


class DeploymentKeyItem(CustomersTableItem, discriminator="deployment_key"):
    """A random secret made by the deployment itself on first use (encrypted at rest with the
    table, readable only by functions with the table's IAM access)."""

    secret = UnicodeAttribute()


DEPLOYMENT_KEY = ("DEPLOYMENT", "PROFILE_ID_KEY")
_id_keys: dict[str, bytes] = {}  # table name → key, once per process


class ErasureItem(CustomersTableItem, discriminator="erasure"):
    body = UnicodeAttribute()


class MergeItem(CustomersTableItem, discriminator="merge"):
    body = UnicodeAttribute()

    def to_record(self) -> MergeRecord:
        return MergeRecord.model_validate_json(self.body)


def _read_or_make_id_key() -> bytes:
    """Read the key; the first reader of a new deployment makes it (a conditional put: when two
    race, both end with the one that was written)."""
    for _ in range(3):
        try:
            item = DeploymentKeyItem.get(*DEPLOYMENT_KEY, consistent_read=True)
            return base64.b64decode(item.secret)
        except DoesNotExist:
            pass
        except PynamoDBException as error:
            raise _unavailable(error) from error
        key = secrets.token_bytes(32)
        made = DeploymentKeyItem(*DEPLOYMENT_KEY, secret=base64.b64encode(key).decode())
        try:
            made.save(condition=DeploymentKeyItem.pk.does_not_exist())
            return key
        except PynamoDBException as error:
            if not is_condition_failure(error):
                raise _unavailable(error) from error
    raise DependencyUnavailableError("The deployment's profile id key could not be read")


def identity_item_key(key: str) -> tuple[str, str]:
    return f"IDENTITY#{key}", "IDENTITY"


def profile_item_key(profile_id: str) -> tuple[str, str]:
    return f"PROFILE#{profile_id}", "PROFILE"


def merge_item_key(survivor_id: str, merge_id: str) -> tuple[str, str]:
    return f"PROFILE#{survivor_id}", f"MERGE#{merge_id}"


def profile_body(profile: Profile) -> str:
    """Compact JSON (defaults left out): the item's size is what every profile write is billed on.
    The id and the version live in the key and the `version` attribute."""
    return profile.model_dump_json(exclude=_PROFILE_FIELDS_OUTSIDE_BODY, exclude_defaults=True)


def _unavailable(error: PynamoDBException) -> DependencyUnavailableError:
    return DependencyUnavailableError("The customers table did not answer", details={"cause": error.msg})


def _expected(model: type[IdentityItem] | type[ProfileItem], version: int) -> Condition:
    """Invariant: nobody wrote the item since we read it (or it still does not exist)."""
    return model.version == version if version else model.pk.does_not_exist()


def identity_item(record: IdentityRecord) -> IdentityItem:
    return IdentityItem(
        *identity_item_key(record.key),
        version=record.version + 1,
        id_type=record.type.value,
        profile_id=record.profile_id,
        suppressed=record.suppressed,
        shared=record.shared,
        seen_user_ids=list(record.seen_user_ids) or None,
    )


def profile_item(profile: Profile) -> ProfileItem:
    return ProfileItem(
        *profile_item_key(profile.profile_id),
        version=profile.version + 1,
        body=profile_body(profile),
        merged_into=profile.merged_into,
    )


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DynamoCustomerGraph:
    def id_key(self) -> bytes:
        table = CustomersTableItem.Meta.table_name
        if table not in _id_keys:
            _id_keys[table] = _read_or_make_id_key()
        return _id_keys[table]

    def identities(self, keys: Collection[str]) -> dict[str, IdentityRecord]:
        if not keys:
            return {}
        try:
            found = IdentityItem.batch_get([identity_item_key(key) for key in keys], consistent_read=True)
            return {record.key: record for record in (item.to_record() for item in found)}
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def profiles(self, profile_ids: Collection[str]) -> dict[str, Profile]:
        if not profile_ids:
            return {}
        try:
            found = ProfileItem.batch_get(
                [profile_item_key(pid) for pid in profile_ids], consistent_read=True
            )
            return {profile.profile_id: profile for profile in (item.to_profile() for item in found)}
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def save_identities(self, records: Sequence[IdentityRecord]) -> None:
        for record in records:
            try:
                identity_item(record).save(condition=_expected(IdentityItem, record.version))
            except PynamoDBException as error:
                if is_condition_failure(error):
                    raise ConcurrentUpdateError("An identity record changed concurrently") from error
                raise _unavailable(error) from error
            record.version += 1

    def save_profile(self, profile: Profile) -> None:
        try:
            profile_item(profile).save(condition=_expected(ProfileItem, profile.version))
        except PynamoDBException as error:
            if is_condition_failure(error):
                raise ConcurrentUpdateError("The profile changed concurrently") from error
            raise _unavailable(error) from error
        profile.version += 1

    def merge(self, commit: MergeCommit) -> None:
        profiles = [commit.survivor, *commit.losers]
        try:
            with TransactWrite(connection=CustomersTableItem._get_connection().connection) as transaction:
                for profile in profiles:
                    transaction.save(profile_item(profile), condition=_expected(ProfileItem, profile.version))
                for record in commit.records:
                    transaction.save(identity_item(record), condition=_expected(IdentityItem, record.version))
                for entry in commit.log:
                    item = MergeItem(
                        *merge_item_key(entry.survivor_id, entry.merge_id), body=entry.model_dump_json()
                    )
                    transaction.save(item, condition=MergeItem.pk.does_not_exist())
        except TransactWriteError as error:
            if is_condition_failure(error):
                raise ConcurrentUpdateError("A merged item changed concurrently") from error
            raise _unavailable(error) from error
        for profile in profiles:
            profile.version += 1
        for record in commit.records:
            record.version += 1

    def unmerge(self, commit: UnmergeCommit) -> None:
        log = commit.log
        try:
            with TransactWrite(connection=CustomersTableItem._get_connection().connection) as transaction:
                for profile in (commit.survivor, commit.restored):
                    transaction.save(profile_item(profile), condition=_expected(ProfileItem, profile.version))
                for record in commit.records:
                    transaction.save(identity_item(record), condition=_expected(IdentityItem, record.version))
                item = MergeItem(*merge_item_key(log.survivor_id, log.merge_id), body=log.model_dump_json())
                # Invariant: a merge is undone once. The stored entry still says it is merged.
                transaction.save(item, condition=MergeItem.body.contains('"unmerged_at":null'))
        except TransactWriteError as error:
            if is_condition_failure(error):
                raise ConcurrentUpdateError("The merged profiles changed concurrently") from error
            raise _unavailable(error) from error
        for profile in (commit.survivor, commit.restored):
            profile.version += 1
        for record in commit.records:
            record.version += 1

    def merges(self, profile_id: str) -> list[MergeRecord]:
        try:
            return [
                item.to_record()
                for item in MergeItem.query(f"PROFILE#{profile_id}", MergeItem.sk.startswith("MERGE#"))
            ]
        except PynamoDBException as error:
            raise _unavailable(error) from error


def erasure_item_key(request_id: str) -> tuple[str, str]:
    return f"ERASURE#{request_id}", "ERASURE"


class DynamoPersonalData:
    """Privacy requests and the removal of a person's items from the customers table."""

    def save_erasure(self, request: ErasureRequest) -> None:
        try:
            ErasureItem(*erasure_item_key(request.request_id), body=request.model_dump_json()).save()
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def find_erasure(self, request_id: str) -> ErasureRequest | None:
        try:
            item = ErasureItem.get(*erasure_item_key(request_id), consistent_read=True)
        except ErasureItem.DoesNotExist:
            return None
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return ErasureRequest.model_validate_json(item.body)

    def delete_profile_partition(self, profile_id: str) -> int:
        """The profile's partition and the items outside it that it points to (loyalty's coupon
        codes, referral code and schedule places), as raw items (`person_partition`)."""
        keys = person_partition_keys(CustomersTableItem.Meta.table_name, profile_id)
        return self._delete(CustomersTableItem(pk, sk) for pk, sk in keys)

    def delete_merge_entries(self, survivor_id: str, involving: set[str]) -> int:
        entries = MergeItem.query(
            f"PROFILE#{survivor_id}", MergeItem.sk.startswith("MERGE#"), consistent_read=True
        )
        return self._delete(
            entry
            for entry in entries
            if {entry.to_record().loser_id, entry.to_record().survivor_id} & involving
        )

    @staticmethod
    def _delete(items: Iterable[CustomersTableItem]) -> int:
        count = 0
        try:
            with CustomersTableItem.batch_write() as batch:
                for item in items:
                    batch.delete(item)
                    count += 1
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return count
