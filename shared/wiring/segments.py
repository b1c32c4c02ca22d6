"""Segments' composition root: the segment store, classification rules, recompute and exports."""

from __future__ import annotations

from pydantic import ValidationError

from shared import wiring
from shared.adapters.dynamo.recompute_jobs import (
    DynamoProfileSampler,
    DynamoProfileScanner,
    DynamoRecomputeJobs,
)
from shared.adapters.dynamo.segments_store import DynamoExportJobs, DynamoSegmentStore
from shared.adapters.s3 import S3ExportFiles
from shared.adapters.sqs.segments import SqsExportQueue, SqsRecomputeTasks
from shared.domain.kernel.errors import ConfigurationError
from shared.domain.segments.classification import ClassificationRules
from shared.domain.segments.export import ExportFiles, ExportJobs, ExportQueue
from shared.domain.segments.live import Refresher, SegmentStore
from shared.domain.segments.recompute import ProfileScanner, RecomputeJobs, RecomputeTasks
from shared.settings import get_settings
from shared.wiring import built_once
from shared.wiring import customers as customers_wiring


@built_once
def get_segment_store() -> SegmentStore:
    customers_wiring.bind_customers_table()
    return DynamoSegmentStore(cache_seconds=get_settings().segment_cache_seconds)


@built_once
def get_classification_rules() -> ClassificationRules:
    text = get_settings().classification_rules
    try:
        return ClassificationRules.model_validate_json(text) if text.strip() else ClassificationRules()
    except ValidationError as error:
        raise ConfigurationError(f"CLASSIFICATION_RULES: {error}") from error


@built_once
def get_recompute_jobs() -> RecomputeJobs:
    customers_wiring.bind_customers_table()
    return DynamoRecomputeJobs()


def get_profile_scanner() -> ProfileScanner:
    customers_wiring.bind_customers_table()
    return DynamoProfileScanner()


def get_profile_sampler() -> DynamoProfileSampler:
    customers_wiring.bind_customers_table()
    return DynamoProfileSampler()


@built_once
def get_recompute_tasks() -> RecomputeTasks:
    return SqsRecomputeTasks(get_settings().require("recompute_queue_url"))


@built_once
def get_export_jobs() -> ExportJobs:
    customers_wiring.bind_customers_table()
    return DynamoExportJobs()


@built_once
def get_export_queue() -> ExportQueue:
    return SqsExportQueue(get_settings().require("export_queue_url"))


@built_once
def get_export_files() -> ExportFiles:
    return S3ExportFiles(get_settings().require("exports_bucket"))


def get_refresher() -> Refresher:
    return Refresher(
        graph=customers_wiring.get_customer_graph(),
        store=get_segment_store(),
        publisher=wiring.get_event_publisher(),
        clock=wiring.get_clock(),
        rules=get_classification_rules(),
    )
