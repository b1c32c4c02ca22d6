"""The one table of list prices the bench prices a run with, and the assumptions it cannot measure
here (no AWS account): each stated with where it comes from. Everything else the cost model uses
is measured in the run or read from template.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field

REGION = "us-east-1"
CHECKED = "2026-11"  # the public price pages, on-demand, after the free tier

# USD. The unit is in the name.
PRICE = {
    "api_gateway_http_per_million_requests": 1.00,  # HTTP API, first 300 million a month
    "lambda_per_million_requests": 0.20,
    "lambda_arm_per_gb_second": 0.0000133334,
    "sqs_per_million_requests": 0.40,  # standard queues, per 64 KB chunk
    "eventbridge_per_million_events": 1.00,  # custom events, per 64 KB chunk; SQS targets free
    "dynamodb_per_million_write_units": 0.625,  # on-demand, Standard table class
    "dynamodb_per_million_read_units": 0.125,
    "dynamodb_storage_per_gb_month": 0.25,
    "dynamodb_pitr_per_gb_month": 0.20,  # continuous backups, billed on the table's size
    # The Standard-Infrequent Access table class: storage 60 % cheaper, requests 25 % dearer.
    "dynamodb_ia_per_million_write_units": 0.78125,
    "dynamodb_ia_per_million_read_units": 0.15625,
    "dynamodb_ia_storage_per_gb_month": 0.10,
    "logs_ingest_per_gb": 0.50,  # CloudWatch Logs, standard class
    "logs_storage_per_gb_month": 0.03,
    "metric_per_month": 0.30,  # a custom metric (name + dimension values), first 10,000
    "alarm_per_month": 0.10,  # a standard-resolution metric alarm
    "xray_per_million_traces": 5.00,  # traces recorded
    "kms_key_per_month": 1.00,
    "kms_per_million_requests": 3.00,
}


# What the bench cannot measure on this machine (no AWS account), each with where it comes from.
@dataclass(frozen=True)
class Assumptions:
    # An AWS call's round trip from Lambda in the same region, which Lambda bills as duration
    # (the function waits). DynamoDB: single-digit ms (AWS's own description); SQS, EventBridge
    # and KMS: typical sends. Our CPU is measured; only the waiting is assumed.
    round_trip_ms: dict[str, float] = field(
        default_factory=lambda: {"dynamodb": 5.0, "sqs": 15.0, "events": 15.0, "kms": 10.0, "default": 15.0}
    )
    # Lambda bills the init phase of managed runtimes (since August 2025); how often an
    # environment starts is AWS's choice. 1 in 200 invocations is a pessimistic steady state
    # for functions that run all day.
    cold_starts_per_invocation: float = 1 / 200
    # An SQS event source long-polls (20 s) with five pollers while its queue is empty.
    idle_pollers_per_event_source: int = 5
    long_poll_seconds: int = 20
    # X-Ray's default sampling rule: the first request each second, then 5 % of the rest.
    xray_reservoir_per_second: int = 1
    xray_rate: float = 0.05
    # Items without a TTL (profiles, identities, states) are charged a year of storage.
    state_months: float = 12.0
    # The reference volume that spreads the fixed monthly costs over touchpoints.
    customers: int = 1_000_000
    touchpoints_per_customer_month: int = 50
    campaigns_per_month: int = 8
    # The busiest second of a month against its average.
    peak_over_average: int = 10


ASSUMED = Assumptions()

SECONDS_PER_MONTH = 30.44 * 24 * 3600

# Default service quotas of a new account in us-east-1 (each can be raised on request), which the
# scale table compares the peak load with.
QUOTA = {
    "api_gateway_http_requests_per_second": 10_000,
    "lambda_concurrent_executions": 1_000,
    "eventbridge_put_events_per_second": 10_000,
    "dynamodb_table_write_units_per_second": 40_000,  # on-demand, per table
}
