"""Ingest's composition root: the source registry, the touchpoint queue and archive, SNS."""

from __future__ import annotations

from datetime import timedelta

from shared import wiring
from shared.adapters.dynamo.conventions import bind_table
from shared.adapters.dynamo.touchpoints_table import (
    DynamoSourceRegistry,
    DynamoTouchpointArchive,
    TouchpointsTableItem,
)
from shared.adapters.sns import HttpsSnsCertificates, HttpsSnsSubscriptions
from shared.adapters.sqs import Redelivery
from shared.adapters.sqs.ingest import SqsTouchpointQueue
from shared.adapters.wechat_api import HttpWechatApi
from shared.domain.ingest.intake import ArchivePolicy
from shared.domain.ingest.ports import (
    SnsCertificates,
    SnsSubscriptions,
    SourceRegistry,
    TouchpointArchive,
    TouchpointQueue,
)
from shared.domain.ingest.wechat_users import AccessTokens
from shared.settings import get_settings
from shared.wiring import built_once, get_secret_sealer


@built_once
def bind_touchpoints_table() -> None:
    bind_table(TouchpointsTableItem, get_settings().require("touchpoints_table"))


@built_once
def get_source_registry() -> SourceRegistry:
    bind_touchpoints_table()
    return DynamoSourceRegistry(cache_seconds=get_settings().source_cache_seconds, sealer=get_secret_sealer())


@built_once
def get_touchpoint_archive() -> TouchpointArchive:
    bind_touchpoints_table()
    return DynamoTouchpointArchive()


def get_archive_policy() -> ArchivePolicy:
    return ArchivePolicy(retention=timedelta(days=get_settings().touchpoint_retention_days))


@built_once
def get_touchpoint_queue() -> TouchpointQueue:
    return SqsTouchpointQueue(get_settings().require("touchpoint_queue_url"))


@built_once
def get_touchpoint_redelivery() -> Redelivery:
    """The touchpoint consumer's back-off on its own queue."""
    return Redelivery(get_settings().require("touchpoint_queue_url"))


_sns_certificates: list[SnsCertificates] = []


def use_sns_certificates(certificates: SnsCertificates) -> None:
    """Serve SNS signing certificates from `certificates` (the local stack's demo: no internet)."""
    _sns_certificates[:] = [certificates]
    get_sns_certificates.cache_clear()


@built_once
def get_sns_certificates() -> SnsCertificates:
    return _sns_certificates[0] if _sns_certificates else HttpsSnsCertificates()


@built_once
def get_wechat_tokens() -> AccessTokens:
    """The WeChat accounts' access tokens, kept for the life of the process."""
    return AccessTokens(api=HttpWechatApi(get_settings().wechat_api_url), clock=wiring.get_clock())


def get_sns_subscriptions() -> SnsSubscriptions:
    return HttpsSnsSubscriptions()
