"""Cached factories: each adapter is built once per process from Settings. Handlers ask here;
tests replace a factory (monkeypatch) or call `reset()` after changing the environment."""

from __future__ import annotations

import functools
from datetime import timedelta

from shared.adapters import aws_clients
from shared.adapters.dynamo.conventions import bind_table
from shared.adapters.dynamo.customers_table import CustomersTableItem, DynamoCustomerGraph, DynamoPersonalData
from shared.adapters.dynamo.touchpoints_table import (
    DynamoSourceRegistry,
    DynamoTouchpointArchive,
    TouchpointsTableItem,
)
from shared.adapters.events import EventBridgePublisher
from shared.adapters.sns import HttpsSnsCertificates, HttpsSnsSubscriptions
from shared.adapters.sqs import SqsErasureJobs, SqsQueueInspector, SqsTouchpointQueue
from shared.clock import SystemClock
from shared.domain.errors import ConfigurationError
from shared.domain.identity import IdentityPolicy, parse_policy
from shared.domain.ingest import ArchivePolicy
from shared.domain.ports import (
    Clock,
    EventPublisher,
    QueueInspector,
    SnsCertificates,
    SnsSubscriptions,
    SourceRegistry,
    TouchpointArchive,
    TouchpointQueue,
)
from shared.domain.privacy import ErasureJobs, PersonalData
from shared.domain.queue_health import MonitoredQueue
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
    return [
        MonitoredQueue("touchpoints", settings.require("touchpoint_queue_url"), is_dead_letter=False),
        MonitoredQueue("touchpoints-dlq", settings.require("touchpoint_dlq_url"), is_dead_letter=True),
        MonitoredQueue("privacy", settings.require("privacy_queue_url"), is_dead_letter=False),
        MonitoredQueue("privacy-dlq", settings.require("privacy_dlq_url"), is_dead_letter=True),
    ]


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
        get_source_registry,
        get_touchpoint_archive,
        get_touchpoint_queue,
        get_queue_inspector,
        get_event_publisher,
        get_sns_certificates,
        aws_clients.client,
    ):
        factory.cache_clear()
