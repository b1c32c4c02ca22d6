"""Segments in the customers table.

| entity     | pk                   | sk                   | notes                                |
|------------|----------------------|----------------------|--------------------------------------|
| definition | SEGMENTS             | <segment_id>         | body = SegmentDefinition, version    |
| state      | PROFILE#<profile_id> | SEGSTATE             | classification, segments, next check |
| membership | PROFILE#<profile_id> | SEGMENT#<segment_id> | `by_audience` index: audience, member|
| recheck    | RECHECK#<hour>       | <profile_id>#<at>    | timers, in hourly buckets            |
| cut points | SCORING              | CUTPOINTS            | the nightly RFM and value cut points |

A profile's state and memberships sit in its partition (erased with it); the `by_audience` index
(keys only, `audience` = `<segment_id>#<shard>`) lists a segment's members by query.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.transactions import TransactWrite

from shared.adapters.dynamo.conventions import is_condition_failure
from shared.adapters.dynamo.customers_table import CustomersTableItem
from shared.domain.kernel.errors import (
    ConcurrentUpdateError,
    ConflictError,
    DependencyUnavailableError,
    InvalidInputError,
)
from shared.domain.segments.classification import CutPoints
from shared.domain.segments.export import AudienceExport
from shared.domain.segments.live import AUDIENCE_SHARDS, MembershipState, SegmentDefinition, audience_shard

AUDIENCE_INDEX = "by_audience"
RECHECK_LOOKBACK = timedelta(hours=48)  # older timers are picked up by the nightly recompute


class SegmentDefinitionItem(CustomersTableItem, discriminator="segment"):
    version = NumberAttribute()
    body = UnicodeAttribute()


class MembershipStateItem(CustomersTableItem, discriminator="segment_state"):
    version = NumberAttribute()
    body = UnicodeAttribute()


def _state_of(item: MembershipStateItem, profile_id: str) -> MembershipState:
    stored = json.loads(item.body)
    return MembershipState.model_validate({**stored, "profile_id": profile_id, "version": int(item.version)})


class ByAudienceIndex(GlobalSecondaryIndex["MembershipItem"]):  # type: ignore[no-untyped-call]
    """A segment's members (keys only), read at the connection level: see `_audience_query`."""

    class Meta:
        index_name = AUDIENCE_INDEX
        projection = KeysOnlyProjection()

    audience = UnicodeAttribute(hash_key=True)
    member = UnicodeAttribute(range_key=True)


class MembershipItem(CustomersTableItem, discriminator="membership"):
    audience = UnicodeAttribute()
    member = UnicodeAttribute()
    since = UTCDateTimeAttribute()
    by_audience = ByAudienceIndex()


class RecheckItem(CustomersTableItem, discriminator="recheck"):
    profile_id = UnicodeAttribute()
    at = UTCDateTimeAttribute()


class CutPointsItem(CustomersTableItem, discriminator="cut_points"):
    body = UnicodeAttribute()


def _unavailable(error: PynamoDBException) -> DependencyUnavailableError:
    return DependencyUnavailableError("The customers table did not answer", details={"cause": error.msg})


def _hour(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


class DynamoSegmentStore:
    def __init__(
        self, *, cache_seconds: float = 60.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._cache_seconds, self._monotonic = cache_seconds, monotonic
        self._cached: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _cache(self, key: str, load: Callable[[], Any]) -> Any:
        now = self._monotonic()
        with self._lock:
            hit = self._cached.get(key)
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]
        value = load()
        with self._lock:
            self._cached[key] = (now, value)
        return value

    def _forget(self) -> None:
        with self._lock:
            self._cached.clear()

    # ----------------------------------------------------------------------------- definitions
    def definitions(self) -> list[SegmentDefinition]:
        def load() -> list[SegmentDefinition]:
            try:
                items = SegmentDefinitionItem.query("SEGMENTS", consistent_read=True)
                return [SegmentDefinition.model_validate_json(item.body) for item in items]
            except PynamoDBException as error:
                raise _unavailable(error) from error

        return list(self._cache("definitions", load))

    def definition(self, segment_id: str) -> SegmentDefinition | None:
        try:
            item = SegmentDefinitionItem.get("SEGMENTS", segment_id, consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return SegmentDefinition.model_validate_json(item.body)

    def create_definition(self, definition: SegmentDefinition) -> None:
        item = SegmentDefinitionItem(
            "SEGMENTS", definition.segment_id, version=definition.version, body=definition.model_dump_json()
        )
        try:
            item.save(condition=SegmentDefinitionItem.pk.does_not_exist())
        except PynamoDBException as error:
            if is_condition_failure(error):
                raise ConflictError(
                    "A segment with this id exists", details={"segment_id": definition.segment_id}
                ) from error
            raise _unavailable(error) from error
        self._forget()

    def replace_definition(self, definition: SegmentDefinition, *, expected_version: int) -> None:
        item = SegmentDefinitionItem(
            "SEGMENTS", definition.segment_id, version=definition.version, body=definition.model_dump_json()
        )
        try:
            item.save(condition=SegmentDefinitionItem.version == expected_version)
        except PynamoDBException as error:
            if is_condition_failure(error):
                raise ConcurrentUpdateError("The segment changed concurrently") from error
            raise _unavailable(error) from error
        self._forget()

    def delete_definition(self, segment_id: str) -> None:
        try:
            SegmentDefinitionItem("SEGMENTS", segment_id).delete()
        except PynamoDBException as error:
            raise _unavailable(error) from error
        self._forget()

    # ----------------------------------------------------------------------------- state
    def state(self, profile_id: str) -> MembershipState | None:
        try:
            item = MembershipStateItem.get(f"PROFILE#{profile_id}", "SEGSTATE", consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return _state_of(item, profile_id)

    def states_of(self, profile_ids: Sequence[str]) -> dict[str, MembershipState]:
        if not profile_ids:
            return {}
        keys = [(f"PROFILE#{profile_id}", "SEGSTATE") for profile_id in dict.fromkeys(profile_ids)]
        try:  # BatchGetItem: 100 keys a request, unprocessed keys retried by PynamoDB
            found = list(MembershipStateItem.batch_get(keys, consistent_read=True))
        except PynamoDBException as error:
            raise _unavailable(error) from error
        states = (_state_of(item, item.pk.removeprefix("PROFILE#")) for item in found)
        return {state.profile_id: state for state in states}

    def commit(
        self,
        state: MembershipState,
        *,
        entered: Sequence[tuple[str, datetime]],
        exited: Sequence[str],
        gone: bool,
    ) -> None:
        pk = f"PROFILE#{state.profile_id}"
        expected = (
            MembershipStateItem.version == state.version
            if state.version
            else MembershipStateItem.pk.does_not_exist()
        )
        if not entered and not exited:  # the state alone: one conditional write, not a transaction
            self._write_state_alone(state, gone=gone, expected=expected)
            return
        try:
            with TransactWrite(connection=CustomersTableItem._get_connection().connection) as transaction:
                if gone:
                    if state.version:
                        transaction.delete(MembershipStateItem(pk, "SEGSTATE"), condition=expected)
                else:
                    body = state.model_dump_json(exclude={"version", "profile_id"})
                    item = MembershipStateItem(pk, "SEGSTATE", version=state.version + 1, body=body)
                    transaction.save(item, condition=expected)
                for segment_id, since in entered:
                    membership = MembershipItem(
                        pk,
                        f"SEGMENT#{segment_id}",
                        audience=f"{segment_id}#{audience_shard(state.profile_id)}",
                        member=state.profile_id,
                        since=since,
                    )
                    transaction.save(membership)
                for segment_id in exited:
                    transaction.delete(MembershipItem(pk, f"SEGMENT#{segment_id}"))
        except TransactWriteError as error:
            if is_condition_failure(error):
                raise ConcurrentUpdateError("The membership state changed concurrently") from error
            raise _unavailable(error) from error

    @staticmethod
    def _write_state_alone(state: MembershipState, *, gone: bool, expected: Any) -> None:
        pk = f"PROFILE#{state.profile_id}"
        try:
            if gone:
                if state.version:
                    MembershipStateItem(pk, "SEGSTATE").delete(condition=expected)
                return
            body = state.model_dump_json(exclude={"version", "profile_id"})
            MembershipStateItem(pk, "SEGSTATE", version=state.version + 1, body=body).save(condition=expected)
        except PynamoDBException as error:
            if is_condition_failure(error):
                raise ConcurrentUpdateError("The membership state changed concurrently") from error
            raise _unavailable(error) from error

    # ----------------------------------------------------------------------------- audiences
    def _audience_query(self, audience: str, **kwargs: Any) -> dict[str, Any]:
        connection = MembershipItem._get_connection()
        try:
            return dict(connection.query(audience, index_name=AUDIENCE_INDEX, **kwargs))
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def members(self, segment_id: str, *, after: str | None, limit: int) -> tuple[list[str], str | None]:
        """Shard by shard; the cursor carries the shard and DynamoDB's own position in it."""
        shard, start = 0, None
        if after:
            try:
                position = json.loads(base64.urlsafe_b64decode(after.encode()))
                shard, start = int(position["shard"]), position.get("start")
            except (ValueError, KeyError, TypeError) as error:
                raise InvalidInputError("Not a cursor this API gave", details={"after": after}) from error
        found: list[str] = []
        while shard < AUDIENCE_SHARDS and len(found) < limit:
            page = self._audience_query(
                f"{segment_id}#{shard}", limit=limit - len(found), exclusive_start_key=start
            )
            found += [item["member"]["S"] for item in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                shard, start = shard + 1, None
        if shard >= AUDIENCE_SHARDS:
            return found, None
        cursor = json.dumps({"shard": shard, "start": start}, separators=(",", ":"))
        return found, base64.urlsafe_b64encode(cursor.encode()).decode()

    def count(self, segment_id: str) -> int:
        total = 0
        for shard in range(AUDIENCE_SHARDS):
            start = None
            while True:
                page = self._audience_query(
                    f"{segment_id}#{shard}", select="COUNT", exclusive_start_key=start
                )
                total += int(page.get("Count", 0))
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
        return total

    # ----------------------------------------------------------------------------- timers
    def schedule_recheck(self, profile_id: str, at: datetime) -> None:
        try:
            RecheckItem(
                f"RECHECK#{_hour(at)}",
                f"{profile_id}#{at.astimezone(UTC).isoformat()}",
                profile_id=profile_id,
                at=at,
            ).save()
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def due_rechecks(self, now: datetime, *, limit: int) -> list[tuple[str, datetime]]:
        due: list[tuple[str, datetime]] = []
        hour = now - RECHECK_LOOKBACK
        try:
            while hour <= now + timedelta(hours=1) and len(due) < limit:
                for item in RecheckItem.query(f"RECHECK#{_hour(hour)}", consistent_read=True):
                    if item.at <= now:
                        due.append((item.profile_id, item.at))
                hour += timedelta(hours=1)
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return sorted(due, key=lambda entry: (entry[1], entry[0]))[:limit]

    def clear_recheck(self, profile_id: str, at: datetime) -> None:
        try:
            RecheckItem(f"RECHECK#{_hour(at)}", f"{profile_id}#{at.astimezone(UTC).isoformat()}").delete()
        except PynamoDBException as error:
            raise _unavailable(error) from error

    # ----------------------------------------------------------------------------- cut points
    def cut_points(self) -> CutPoints:
        def load() -> CutPoints:
            try:
                return CutPoints.model_validate_json(CutPointsItem.get("SCORING", "CUTPOINTS").body)
            except DoesNotExist:
                return CutPoints()
            except PynamoDBException as error:
                raise _unavailable(error) from error

        cuts: CutPoints = self._cache("cut_points", load)
        return cuts

    def save_cut_points(self, cuts: CutPoints) -> None:
        try:
            CutPointsItem("SCORING", "CUTPOINTS", body=cuts.model_dump_json()).save()
        except PynamoDBException as error:
            raise _unavailable(error) from error
        self._forget()


class ExportItem(CustomersTableItem, discriminator="audience_export"):
    body = UnicodeAttribute()


class DynamoExportJobs:
    """Audience exports: pk EXPORT#<export_id>, sk EXPORT."""

    def save_export(self, export: AudienceExport) -> None:
        try:
            ExportItem(f"EXPORT#{export.export_id}", "EXPORT", body=export.model_dump_json()).save()
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def find_export(self, export_id: str) -> AudienceExport | None:
        try:
            item = ExportItem.get(f"EXPORT#{export_id}", "EXPORT", consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return AudienceExport.model_validate_json(item.body)
