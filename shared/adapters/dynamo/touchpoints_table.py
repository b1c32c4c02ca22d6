"""The touchpoints table (ingest context): archived touchpoints and the source registry.

| entity     | pk                          | sk           | notes                              |
|------------|-----------------------------|--------------|------------------------------------|
| touchpoint | TOUCHPOINT#<touchpoint_id>  | TOUCHPOINT   | body = Touchpoint JSON; TTL        |
| source     | SOURCE_KEY#<sha256(key)>    | SOURCE       | write keys are stored as digests   |
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from pynamodb.attributes import BooleanAttribute, DiscriminatorAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import GetError, PutError, PynamoDBConnectionError, PynamoDBException
from pynamodb.models import Model

from shared.adapters.dynamo.conventions import is_condition_failure
from shared.domain.credentials import secret_digest
from shared.domain.errors import ConflictError, DependencyUnavailableError
from shared.domain.touchpoints import Source, Touchpoint


class TouchpointsTableItem(Model):
    class Meta:
        table_name = "unbound-touchpoints-table"  # bound by bind_table from Settings

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute(attr_name="kind")
    expires_at = TTLAttribute(null=True)


class TouchpointItem(TouchpointsTableItem, discriminator="touchpoint"):
    source_id = UnicodeAttribute()
    body = UnicodeAttribute()


class SourceItem(TouchpointsTableItem, discriminator="source"):
    source_id = UnicodeAttribute()
    channel = UnicodeAttribute()
    name = UnicodeAttribute()
    enabled = BooleanAttribute()


def touchpoint_key(touchpoint_id: str) -> tuple[str, str]:
    return f"TOUCHPOINT#{touchpoint_id}", "TOUCHPOINT"


def source_key(write_key: str) -> tuple[str, str]:
    return f"SOURCE_KEY#{secret_digest(write_key)}", "SOURCE"


def _unavailable(error: PynamoDBException) -> DependencyUnavailableError:
    return DependencyUnavailableError("The touchpoints table did not answer", details={"cause": error.msg})


class DynamoTouchpointArchive:
    def add(self, touchpoint: Touchpoint, *, expires_at: datetime, now: datetime) -> bool:
        pk, sk = touchpoint_key(touchpoint.touchpoint_id)
        item = TouchpointItem(
            pk, sk, source_id=touchpoint.source_id, body=touchpoint.model_dump_json(), expires_at=expires_at
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

    def get(self, touchpoint_id: str) -> tuple[Touchpoint, datetime] | None:
        try:
            item = TouchpointItem.get(*touchpoint_key(touchpoint_id), consistent_read=True)
        except TouchpointItem.DoesNotExist:
            return None
        except (GetError, PynamoDBConnectionError) as error:
            raise _unavailable(error) from error
        assert item.expires_at is not None  # every archived touchpoint has an expiry
        return Touchpoint.model_validate_json(item.body), item.expires_at


class DynamoSourceRegistry:
    """Write key → source. Lookups are cached per process for `cache_seconds` (a warm Lambda
    serves most calls without a read); disabling a source takes effect within that time."""

    def __init__(self, *, cache_seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, Source | None]] = {}
        self._lock = threading.Lock()

    def find_by_write_key(self, write_key: str) -> Source | None:
        digest_key = source_key(write_key)[0]
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(digest_key)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        try:
            item = SourceItem.get(*source_key(write_key))
            source: Source | None = Source(
                source_id=item.source_id, channel=item.channel, name=item.name, enabled=item.enabled
            )
        except SourceItem.DoesNotExist:
            source = None
        except (GetError, PynamoDBConnectionError) as error:
            raise _unavailable(error) from error
        with self._lock:
            self._cache[digest_key] = (now, source)
        return source

    def register(self, source: Source, write_key: str) -> None:
        item = SourceItem(
            *source_key(write_key),
            source_id=source.source_id,
            channel=source.channel,
            name=source.name,
            enabled=source.enabled,
        )
        try:
            item.save(condition=SourceItem.pk.does_not_exist())
        except PutError as error:
            if is_condition_failure(error):
                raise ConflictError("This write key is already registered") from error
            raise _unavailable(error) from error
        with self._lock:
            self._cache.pop(item.pk, None)
