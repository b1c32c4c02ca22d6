"""Cached factories: each adapter is built once per process from Settings. Handlers ask here;
tests replace a factory (monkeypatch) or call `reset()` after changing the environment."""

from __future__ import annotations

import functools
from datetime import timedelta

from pydantic import ValidationError

from shared.adapters import aws_clients
from shared.adapters.channel_endpoints import HttpChannelEndpoints
from shared.adapters.dynamo.catalog_table import DynamoCatalog
from shared.adapters.dynamo.conventions import bind_table
from shared.adapters.dynamo.customers_table import CustomersTableItem, DynamoCustomerGraph, DynamoPersonalData
from shared.adapters.dynamo.engagement_table import DynamoEngagement
from shared.adapters.dynamo.loyalty_store import DynamoLoyaltyStore
from shared.adapters.dynamo.recompute_jobs import (
    DynamoProfileSampler,
    DynamoProfileScanner,
    DynamoRecomputeJobs,
)
from shared.adapters.dynamo.segments_store import DynamoExportJobs, DynamoSegmentStore
from shared.adapters.dynamo.touchpoints_table import (
    DynamoSourceRegistry,
    DynamoTouchpointArchive,
    TouchpointsTableItem,
)
from shared.adapters.events import EventBridgePublisher
from shared.adapters.s3 import S3ExportFiles
from shared.adapters.senders import HttpSender, InboxSender, SesSender, SnsSender
from shared.adapters.sns import HttpsSnsCertificates, HttpsSnsSubscriptions
from shared.adapters.sqs import (
    SqsDispatchQueue,
    SqsErasureJobs,
    SqsExportQueue,
    SqsQueueInspector,
    SqsRecomputeTasks,
    SqsSyncRequests,
    SqsTouchpointQueue,
)
from shared.clock import SystemClock
from shared.domain.commerce.channel_sync import ChannelEndpoints, ChannelSync, SyncFanOut
from shared.domain.commerce.inventory import Inventory
from shared.domain.commerce.pricing import effective_price
from shared.domain.commerce.sales_channels import RegistryDirectory
from shared.domain.customers.identity import IdentityPolicy, parse_policy
from shared.domain.customers.privacy import ErasureJobs, PersonalData
from shared.domain.engagement.campaigns import CampaignService
from shared.domain.engagement.dispatch import Dispatcher
from shared.domain.engagement.journeys import Journeys
from shared.domain.engagement.messaging import Sender
from shared.domain.engagement.personalisation import ProfilePersonaliser
from shared.domain.engagement.programs import (
    CampaignRivals,
    StoredPrograms,
    unsubscribe_secret,
    unsubscribe_token,
)
from shared.domain.ingest.intake import ArchivePolicy
from shared.domain.ingest.ports import (
    SnsCertificates,
    SnsSubscriptions,
    SourceRegistry,
    TouchpointArchive,
    TouchpointQueue,
)
from shared.domain.kernel.errors import ConfigurationError
from shared.domain.kernel.ports import Clock, EventPublisher
from shared.domain.loyalty.book import LoyaltyBook
from shared.domain.loyalty.coupons import Coupons
from shared.domain.loyalty.ledger import LoyaltyRules
from shared.domain.operations.ports import QueueInspector
from shared.domain.operations.queue_health import MonitoredQueue
from shared.domain.segments.classification import ClassificationRules
from shared.domain.segments.export import ExportFiles, ExportJobs, ExportQueue
from shared.domain.segments.live import Refresher, SegmentStore
from shared.domain.segments.recompute import ProfileScanner, RecomputeJobs, RecomputeTasks
from shared.settings import get_settings


@functools.cache
def get_clock() -> Clock:
    return SystemClock()


@functools.cache
def _bound_touchpoints_table() -> None:
    bind_table(TouchpointsTableItem, get_settings().require("touchpoints_table"))


@functools.cache
def get_source_registry() -> SourceRegistry:
    _bound_touchpoints_table()
    return DynamoSourceRegistry(cache_seconds=get_settings().source_cache_seconds)


@functools.cache
def get_touchpoint_archive() -> TouchpointArchive:
    _bound_touchpoints_table()
    return DynamoTouchpointArchive()


def get_archive_policy() -> ArchivePolicy:
    return ArchivePolicy(retention=timedelta(days=get_settings().touchpoint_retention_days))


@functools.cache
def _bound_customers_table() -> None:
    bind_table(CustomersTableItem, get_settings().require("customers_table"))


@functools.cache
def get_customer_graph() -> DynamoCustomerGraph:
    _bound_customers_table()
    return DynamoCustomerGraph()


@functools.cache
def get_personal_data() -> PersonalData:
    _bound_customers_table()
    return DynamoPersonalData()


@functools.cache
def get_erasure_jobs() -> ErasureJobs:
    return SqsErasureJobs(get_settings().require("privacy_queue_url"))


@functools.cache
def get_segment_store() -> SegmentStore:
    _bound_customers_table()
    return DynamoSegmentStore(cache_seconds=get_settings().segment_cache_seconds)


@functools.cache
def get_classification_rules() -> ClassificationRules:
    text = get_settings().classification_rules
    try:
        return ClassificationRules.model_validate_json(text) if text.strip() else ClassificationRules()
    except ValidationError as error:
        raise ConfigurationError(f"CLASSIFICATION_RULES: {error}") from error


@functools.cache
def get_recompute_jobs() -> RecomputeJobs:
    _bound_customers_table()
    return DynamoRecomputeJobs()


def get_profile_scanner() -> ProfileScanner:
    _bound_customers_table()
    return DynamoProfileScanner()


def get_profile_sampler() -> DynamoProfileSampler:
    _bound_customers_table()
    return DynamoProfileSampler()


@functools.cache
def get_recompute_tasks() -> RecomputeTasks:
    return SqsRecomputeTasks(get_settings().require("recompute_queue_url"))


@functools.cache
def get_export_jobs() -> ExportJobs:
    _bound_customers_table()
    return DynamoExportJobs()


@functools.cache
def get_export_queue() -> ExportQueue:
    return SqsExportQueue(get_settings().require("export_queue_url"))


@functools.cache
def get_export_files() -> ExportFiles:
    return S3ExportFiles(get_settings().require("exports_bucket"))


@functools.cache
def get_loyalty_store() -> DynamoLoyaltyStore:
    _bound_customers_table()
    return DynamoLoyaltyStore()


@functools.cache
def get_loyalty_rules() -> LoyaltyRules:
    text = get_settings().loyalty_rules
    try:
        return LoyaltyRules.model_validate_json(text) if text.strip() else LoyaltyRules()
    except ValidationError as error:
        raise ConfigurationError(f"LOYALTY_RULES: {error}") from error


def get_coupons() -> Coupons:
    return Coupons(store=get_loyalty_store(), clock=get_clock())


def get_loyalty_book() -> LoyaltyBook:
    return LoyaltyBook(
        store=get_loyalty_store(),
        clock=get_clock(),
        rules=get_loyalty_rules(),
        publisher=get_event_publisher(),
        coupons=get_coupons(),
    )


@functools.cache
def get_catalog() -> DynamoCatalog:
    settings = get_settings()
    return DynamoCatalog(settings.require("catalog_table"), cache_seconds=settings.catalog_cache_seconds)


@functools.cache
def get_sync_requests() -> SqsSyncRequests:
    return SqsSyncRequests(get_settings().require("channel_sync_queue_url"))


@functools.cache
def get_channel_endpoints() -> ChannelEndpoints:
    return HttpChannelEndpoints()


def get_sync_fan_out() -> SyncFanOut:
    return SyncFanOut(registry=get_catalog(), requests=get_sync_requests())


def get_inventory() -> Inventory:
    catalog = get_catalog()
    return Inventory(
        stock=catalog,
        reservations=catalog,
        directory=RegistryDirectory(catalog),
        clock=get_clock(),
        listener=get_sync_fan_out(),
    )


def get_channel_sync() -> ChannelSync:
    catalog = get_catalog()
    return ChannelSync(
        registry=catalog,
        inventory=get_inventory(),
        prices=catalog,
        store=catalog,
        endpoints=get_channel_endpoints(),
        requests=get_sync_requests(),
        clock=get_clock(),
    )


@functools.cache
def get_engagement() -> DynamoEngagement:
    settings = get_settings()
    return DynamoEngagement(
        settings.require("engagement_table"), cache_seconds=settings.catalog_cache_seconds
    )


@functools.cache
def get_dispatch_queue() -> SqsDispatchQueue:
    return SqsDispatchQueue(get_settings().require("dispatch_queue_url"))


class CatalogPrices:
    """A product's effective price on a channel now (for message content); None without a catalog."""

    def price(self, sku: str, channel: str) -> tuple[str, str] | None:
        if not get_settings().catalog_table:
            return None
        catalog = get_catalog()
        entry = catalog.entry(sku)
        if entry is None:
            return None
        found = effective_price(entry, catalog.promotions(), channel, get_clock().now())
        return str(found.price), found.currency


_senders: dict[str, Sender] = {}


def use_senders(senders: dict[str, Sender]) -> None:
    """Replace the senders (tests and the local stack's simulated providers)."""
    _senders.clear()
    _senders.update(senders)


def get_senders() -> dict[str, Sender]:
    if _senders:
        return dict(_senders)
    settings = get_settings()
    senders: dict[str, Sender] = {
        "email": SesSender(settings.ses_from_address),
        "sms": SnsSender("sms"),
        "push": SnsSender("push"),
        "inbox": InboxSender(get_engagement(), lambda: get_clock().now()),
    }
    if settings.wechat_gateway_url:
        senders["wechat"] = HttpSender(settings.wechat_gateway_url)
    if settings.message_webhook_url:
        senders["webhook"] = HttpSender(settings.message_webhook_url)
    return senders


def get_personaliser() -> ProfilePersonaliser:
    settings = get_settings()
    return ProfilePersonaliser(
        classifications=get_segment_store() if settings.customers_table else None,
        accounts=get_loyalty_store() if settings.customers_table else None,
        prices=CatalogPrices(),
        coupons=get_coupons() if settings.customers_table else None,
    )


def unsubscribe_link(profile_id: str, channel: str, program_id: str) -> str | None:
    settings = get_settings()
    if not settings.public_api_url or not settings.admin_api_key_sha256:
        return None
    token = unsubscribe_token(unsubscribe_secret(settings.admin_api_key_sha256), profile_id, channel)
    return f"{settings.public_api_url.rstrip('/')}/unsubscribe/{token}"


def get_dispatcher() -> Dispatcher:
    engagement = get_engagement()
    return Dispatcher(
        store=engagement,
        programs=StoredPrograms(engagement),
        profiles=get_customer_graph(),
        personaliser=get_personaliser(),
        senders=get_senders(),
        rivals=CampaignRivals(engagement, get_segment_store()),
        clock=get_clock(),
        unsubscribe_url=unsubscribe_link,
    )


def get_campaign_service() -> CampaignService:
    return CampaignService(
        store=get_engagement(),
        queue=get_dispatch_queue(),
        audience=get_segment_store(),
        clock=get_clock(),
        senders=get_senders(),
    )


def get_journeys() -> Journeys:
    engagement = get_engagement()
    return Journeys(
        store=engagement,
        queue=get_dispatch_queue(),
        profiles=get_customer_graph(),
        clock=get_clock(),
        default_zone=engagement.policy().default_timezone,
        facts=get_personaliser().facts,
    )


def get_refresher() -> Refresher:
    return Refresher(
        graph=get_customer_graph(),
        store=get_segment_store(),
        publisher=get_event_publisher(),
        clock=get_clock(),
        rules=get_classification_rules(),
    )


@functools.cache
def get_identity_policy() -> IdentityPolicy:
    settings = get_settings()
    try:
        return parse_policy(
            blocked_values=settings.identity_blocked_values,
            limits=settings.identity_limits,
            priority=settings.identity_priority,
            shared_device_user_limit=settings.identity_shared_device_user_limit,
            max_identifiers=settings.identity_max_identifiers,
        )
    except ValueError as error:
        raise ConfigurationError(f"IDENTITY_* settings: {error}") from error


@functools.cache
def get_touchpoint_queue() -> TouchpointQueue:
    return SqsTouchpointQueue(get_settings().require("touchpoint_queue_url"))


@functools.cache
def get_queue_inspector() -> QueueInspector:
    return SqsQueueInspector()


@functools.cache
def get_event_publisher() -> EventPublisher:
    return EventBridgePublisher(get_settings().require("event_bus_name"))


_sns_certificates: list[SnsCertificates] = []


def use_sns_certificates(certificates: SnsCertificates) -> None:
    """Serve SNS signing certificates from `certificates` (the local stack's demo: no internet)."""
    _sns_certificates[:] = [certificates]
    get_sns_certificates.cache_clear()


@functools.cache
def get_sns_certificates() -> SnsCertificates:
    return _sns_certificates[0] if _sns_certificates else HttpsSnsCertificates()


def get_sns_subscriptions() -> SnsSubscriptions:
    return HttpsSnsSubscriptions()


def get_monitored_queues() -> list[MonitoredQueue]:
    settings = get_settings()
    queues = []
    for pair in filter(None, (part.strip() for part in settings.monitored_queues.split(","))):
        name, _, url = pair.partition("=")
        if not name or not url:
            raise ConfigurationError(f"MONITORED_QUEUES: {pair!r} is not name=url")
        queues.append(MonitoredQueue(name.strip(), url.strip(), is_dead_letter=name.strip().endswith("-dlq")))
    if not queues:
        raise ConfigurationError("MONITORED_QUEUES is not set for this function")
    return queues


def reset() -> None:
    """Forget every built adapter and the settings (tests, and the local stack after deploy)."""
    for factory in (
        get_settings,
        get_clock,
        _bound_touchpoints_table,
        _bound_customers_table,
        get_customer_graph,
        get_identity_policy,
        get_personal_data,
        get_erasure_jobs,
        get_segment_store,
        get_classification_rules,
        get_loyalty_store,
        get_loyalty_rules,
        get_recompute_jobs,
        get_recompute_tasks,
        get_export_jobs,
        get_export_queue,
        get_export_files,
        get_source_registry,
        get_touchpoint_archive,
        get_touchpoint_queue,
        get_queue_inspector,
        get_event_publisher,
        get_sns_certificates,
        get_catalog,
        get_engagement,
        get_dispatch_queue,
        get_sync_requests,
        get_channel_endpoints,
        aws_clients.client,
    ):
        factory.cache_clear()
