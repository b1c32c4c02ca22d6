"""The touchpoints table (ingest context): archived touchpoints and the source registry.

| entity     | pk                          | sk           | notes                              |
|------------|-----------------------------|--------------|------------------------------------|
| touchpoint | TOUCHPOINT#<touchpoint_id>  | TOUCHPOINT   | packed = Touchpoint JSON, deflated;|
|            |                             |              | profile_id, previous; TTL          |
| source     | SOURCES                     | <source_id>  | kind, channel, signing secrets     |
| write key  | WRITE_KEY#<sha256(key)>     | WRITE_KEY    | → source_id; keys stored as digests|
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TypeVar

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    DiscriminatorAttribute,
    ListAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import (
    GetError,
    PutError,
    PynamoDBConnectionError,
    PynamoDBException,
    QueryError,
    TransactWriteError,
    UpdateError,
)
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from shared.adapters.dynamo.conventions import is_condition_failure
from shared.adapters.sealed_secrets import SecretSealer
from shared.domain.ingest.credentials import secret_digest
from shared.domain.ingest.ports import ArchivedTouchpoint
from shared.domain.ingest.touchpoints import (
    Channel,
    Source,
    SourceKind,
    SourceSecrets,
    SourceTrust,
    Touchpoint,
)
from shared.domain.kernel.errors import ConflictError, DependencyUnavailableError

T = TypeVar("T")


class TouchpointsTableItem(Model):
    class Meta:
        table_name = "unbound-touchpoints-table"  # bound by bind_table from Settings

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute(attr_name="kind")
    expires_at = TTLAttribute(null=True)


class TouchpointItem(TouchpointsTableItem, discriminator="touchpoint"):
    # The touchpoint's JSON deflated (zlib): the archive is kept 395 days, and its storage and
    # point-in-time recovery are billed by the byte. Items archived before carry `body` (text)
    # and `source_id` instead.
    packed = BinaryAttribute(null=True, legacy_encoding=False)
    body = UnicodeAttribute(null=True)
    source_id = UnicodeAttribute(null=True)
    profile_id = UnicodeAttribute(null=True)
    previous = UnicodeAttribute(null=True)  # the profile's history chain (shared.domain.history)
    archived_at = UTCDateTimeAttribute(null=True)

    def touchpoint(self) -> Touchpoint:
        text = zlib.decompress(self.packed) if self.packed is not None else self.body or ""
        return Touchpoint.model_validate_json(text)

    def to_entry(self) -> ArchivedTouchpoint:
        return ArchivedTouchpoint(
            touchpoint=self.touchpoint(),
            profile_id=self.profile_id,
            previous=self.previous,
            archived_at=self.archived_at,
        )


class SourceItem(TouchpointsTableItem, discriminator="source"):
    source_id = UnicodeAttribute()
    name = UnicodeAttribute()
    source_kind = UnicodeAttribute()
    channel = UnicodeAttribute()
    enabled = BooleanAttribute()
    default_country_code = UnicodeAttribute(null=True)
    app_id = UnicodeAttribute(null=True)
    signing_secrets = ListAttribute(of=UnicodeAttribute, default=list)
    encryption_key = UnicodeAttribute(null=True)
    app_secret = UnicodeAttribute(null=True)  # sealed, as the other secrets
    trust = UnicodeAttribute(null=True)  # absent on sources stored before trust levels: client

    def to_source(self) -> Source:
        return Source(
            source_id=self.source_id,
            name=self.name,
            kind=SourceKind(self.source_kind),
            channel=Channel(self.channel),
            enabled=self.enabled,
            default_country_code=self.default_country_code,
            app_id=self.app_id,
            trust=SourceTrust(self.trust) if self.trust else SourceTrust.CLIENT,
        )


class WriteKeyItem(TouchpointsTableItem, discriminator="write_key"):
    source_id = UnicodeAttribute()


def touchpoint_key(touchpoint_id: str) -> tuple[str, str]:
    return f"TOUCHPOINT#{touchpoint_id}", "TOUCHPOINT"


SOURCES_PARTITION = "SOURCES"  # every source in one partition: listing them is one Query


def source_key(source_id: str) -> tuple[str, str]:
    return SOURCES_PARTITION, source_id


def write_key_key(write_key: str) -> tuple[str, str]:
    return f"WRITE_KEY#{secret_digest(write_key)}", "WRITE_KEY"


def _unavailable(error: PynamoDBException) -> DependencyUnavailableError:
    return DependencyUnavailableError("The touchpoints table did not answer", details={"cause": error.msg})


class DynamoTouchpointArchive:
    def add(
        self,
        touchpoint: Touchpoint,
        *,
        expires_at: datetime,
        now: datetime,
        profile_id: str | None = None,
        previous: str | None = None,
    ) -> bool:
        pk, sk = touchpoint_key(touchpoint.touchpoint_id)
        item = TouchpointItem(
            pk,
            sk,
            packed=zlib.compress(touchpoint.model_dump_json(exclude_defaults=True).encode()),
            expires_at=expires_at,
            profile_id=profile_id,
            previous=previous,
            archived_at=now,
        )
        # Invariant: one live touchpoint per id. An expired one awaiting TTL deletion may be replaced.
        only_if_new = TouchpointItem.pk.does_not_exist() | (TouchpointItem.expires_at <= now)
        try:
            item.save(condition=only_if_new)
        except PutError as error:
            if is_condition_failure(error):
                return False
            raise _unavailable(error) from error
        return True

    def existing(self, touchpoint_ids: Collection[str], *, now: datetime) -> set[str]:
        if not touchpoint_ids:
            return set()
        keys = [touchpoint_key(tid) for tid in touchpoint_ids]
        try:
            found = TouchpointItem.batch_get(
                keys, consistent_read=True, attributes_to_get=["pk", "expires_at"]
            )
            return {
                item.pk.removeprefix("TOUCHPOINT#")
                for item in found
                if item.expires_at is None or item.expires_at > now
            }
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def entry(self, touchpoint_id: str, *, now: datetime) -> ArchivedTouchpoint | None:
        try:
            item = TouchpointItem.get(*touchpoint_key(touchpoint_id), consistent_read=True)
        except TouchpointItem.DoesNotExist:
            return None
        except (GetError, PynamoDBConnectionError) as error:
            raise _unavailable(error) from error
        if item.expires_at is not None and item.expires_at <= now:
            return None
        return item.to_entry()

    def relink(self, touchpoint_id: str, *, profile_id: str, previous: str | None) -> None:
        actions: list[Action] = [
            TouchpointItem.profile_id.set(profile_id),
            TouchpointItem.previous.set(previous) if previous else TouchpointItem.previous.remove(),
        ]
        try:
            TouchpointItem(*touchpoint_key(touchpoint_id)).update(
                actions=actions, condition=TouchpointItem.pk.exists()
            )
        except UpdateError as error:
            if not is_condition_failure(error):  # gone meanwhile (expired, erased): nothing to move
                raise _unavailable(error) from error

    def delete(self, touchpoint_ids: Sequence[str]) -> None:
        try:
            with TouchpointItem.batch_write() as batch:
                for tid in touchpoint_ids:
                    batch.delete(TouchpointItem(*touchpoint_key(tid)))
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def get(self, touchpoint_id: str) -> tuple[Touchpoint, datetime] | None:
        try:
            item = TouchpointItem.get(*touchpoint_key(touchpoint_id), consistent_read=True)
        except TouchpointItem.DoesNotExist:
            return None
        except (GetError, PynamoDBConnectionError) as error:
            raise _unavailable(error) from error
        assert item.expires_at is not None  # every archived touchpoint has an expiry
        return item.touchpoint(), item.expires_at


class DynamoSourceRegistry:
    """Sources in one partition, write keys as digests pointing at their source. Lookups on the
    ingest path are cached per process for `cache_seconds`: a warm function serves most calls
    without a read, and a change (disable, rotation) takes effect within that time. The cache holds
    at most `MAX_CACHED` answers, the least recently stored leaving first, so a caller trying many
    unknown keys cannot grow a warm function's memory."""

    MAX_CACHED = 1000

    def __init__(
        self,
        *,
        cache_seconds: float,
        sealer: SecretSealer | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cache_seconds = cache_seconds
        self._sealer = sealer or SecretSealer(None)
        self._monotonic = monotonic
        self._cache: dict[tuple[str, str], tuple[float, object]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: tuple[str, str], load: Callable[[], T]) -> T:
        now = self._monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]  # type: ignore[return-value]
        value = load()
        with self._lock:
            self._cache.pop(key, None)
            self._cache[key] = (now, value)
            while len(self._cache) > self.MAX_CACHED:
                del self._cache[next(iter(self._cache))]
        return value

    def _forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def find_by_write_key(self, write_key: str) -> Source | None:
        def load() -> Source | None:
            try:
                pointer = WriteKeyItem.get(*write_key_key(write_key))
            except WriteKeyItem.DoesNotExist:
                return None
            except (GetError, PynamoDBConnectionError) as error:
                raise _unavailable(error) from error
            return self.find(pointer.source_id)

        return self._cached(write_key_key(write_key), load)

    def _item(self, source_id: str) -> SourceItem | None:
        def load() -> SourceItem | None:
            try:
                return SourceItem.get(*source_key(source_id))
            except SourceItem.DoesNotExist:
                return None
            except (GetError, PynamoDBConnectionError) as error:
                raise _unavailable(error) from error

        return self._cached(source_key(source_id), load)

    def find(self, source_id: str) -> Source | None:
        item = self._item(source_id)
        return None if item is None else item.to_source()

    def secrets(self, source_id: str) -> SourceSecrets:
        """Opened here, in the functions that verify signatures; stored sealed."""
        item = self._item(source_id)
        if item is None:
            return SourceSecrets()
        return SourceSecrets(
            signing=[self._sealer.open(str(secret)) for secret in item.signing_secrets or []],
            encryption_key=self._sealer.open(item.encryption_key) if item.encryption_key else None,
            app_secret=self._sealer.open(item.app_secret) if item.app_secret else None,
        )

    def all_sources(self) -> list[Source]:
        try:
            return [item.to_source() for item in SourceItem.query(SOURCES_PARTITION)]
        except (QueryError, PynamoDBConnectionError) as error:
            raise _unavailable(error) from error

    def create(
        self,
        source: Source,
        *,
        write_key: str | None,
        signing_secrets: list[str],
        encryption_key: str | None = None,
        app_secret: str | None = None,
    ) -> None:
        item = SourceItem(
            *source_key(source.source_id),
            source_id=source.source_id,
            name=source.name,
            source_kind=source.kind.value,
            channel=source.channel.value,
            enabled=source.enabled,
            default_country_code=source.default_country_code,
            app_id=source.app_id,
            trust=source.trust.value,
            signing_secrets=[self._sealer.seal(secret) for secret in signing_secrets],
            encryption_key=self._sealer.seal(encryption_key) if encryption_key else None,
            app_secret=self._sealer.seal(app_secret) if app_secret else None,
        )
        try:
            # Invariant: a source id and a write key each exist once; both are created or neither.
            with TransactWrite(connection=SourceItem._get_connection().connection) as transaction:
                transaction.save(item, condition=SourceItem.pk.does_not_exist())
                if write_key is not None:
                    pointer = WriteKeyItem(*write_key_key(write_key), source_id=source.source_id)
                    transaction.save(pointer, condition=WriteKeyItem.pk.does_not_exist())
        except TransactWriteError as error:
            reasons = [reason.code if reason else None for reason in (error.cancellation_reasons or [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                raise ConflictError(
                    "A source with this id exists", details={"source_id": source.source_id}
                ) from error
            if "ConditionalCheckFailed" in reasons:
                raise ConflictError("This write key is already registered") from error
            raise _unavailable(error) from error
        self._forget()

    def save(self, source: Source) -> None:
        item = SourceItem(*source_key(source.source_id))  # keys suffice: the update states its condition
        try:
            item.update(
                actions=[
                    SourceItem.name.set(source.name),
                    SourceItem.enabled.set(source.enabled),
                    SourceItem.default_country_code.set(source.default_country_code)
                    if source.default_country_code
                    else SourceItem.default_country_code.remove(),
                ],
                condition=SourceItem.pk.exists(),
            )
        except UpdateError as error:
            raise _unavailable(error) from error
        self._forget()

    def add_signing_secret(self, source_id: str, secret: str, *, keep: int) -> None:
        """The stored (sealed) secrets are kept as they are: rotating never opens them. Two
        rotations at once: the last one written wins, each within `keep`."""
        try:
            current = SourceItem.get(*source_key(source_id), consistent_read=True)
        except SourceItem.DoesNotExist:
            return
        except (GetError, PynamoDBConnectionError) as error:
            raise _unavailable(error) from error
        stored = [self._sealer.seal(secret), *(str(s) for s in current.signing_secrets or [])][:keep]
        try:
            # PynamoDB types ListAttribute(of=UnicodeAttribute) as a list of attributes, not of str.
            action = SourceItem.signing_secrets.set(stored)  # type: ignore[arg-type]
            SourceItem(*source_key(source_id)).update(actions=[action], condition=SourceItem.pk.exists())
        except UpdateError as error:
            raise _unavailable(error) from error
        self._forget()
