"""What a pipeline run costs at list prices: per million touchpoints (what the touchpoints cause)
plus the fixed monthly costs (schedules, idle polling, metrics, alarms, keys, the trace
reservoir) spread over the reference volume, and a table of monthly cost and the first limit at
1, 10 and 100 million customers. Prices and the assumptions that cannot be measured here are in
`prices`; memory sizes, log retention, point-in-time recovery, schedules and event sources are read
from template.yaml; the rest is the run's."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from infra.bench.meter import SQS_EXTRA_CHUNKS
from infra.bench.pipeline import EVENT_SOURCES, INGEST, SCHEDULED, FunctionUse, PipelineRun
from infra.bench.prices import ASSUMED, CHECKED, PRICE, QUOTA, REGION, SECONDS_PER_MONTH
from infra.emulator import function_specs
from infra.template import resources_of

LOG_EVENT_OVERHEAD_BYTES = 26  # CloudWatch Logs bills each log event as its bytes plus 26
REQUEST_ID = "8f507cfc-5f6a-4697-b07a-ac58fc914c95"


def platform_log_lines(memory_mb: int) -> list[str]:
    """The lines Lambda itself writes for each invocation (text format, tracing on)."""
    return [
        f"START RequestId: {REQUEST_ID} Version: $LATEST",
        f"END RequestId: {REQUEST_ID}",
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
        f"Memory Size: {memory_mb} MB\tMax Memory Used: 123 MB\t",
        "XRAY TraceId: 1-67a1b2c3-0123456789abcdef01234567\tSegmentId: 0123456789abcdef\tSampled: true\t",
    ]


def access_log_line(template: dict[str, Any]) -> str:
    """One HTTP API access log line, in the template's format with typical values."""
    resources = template["Resources"]
    stage = next(r for r in resources.values() if r["Type"] == "AWS::Serverless::HttpApi")
    text = str(stage["Properties"]["AccessLogSettings"]["Format"])
    values = {
        "$context.requestId": "JKJaXmPLvHcESHA=",
        "$context.identity.sourceIp": "203.0.113.9",
        "$context.requestTimeEpoch": "1795510800000",
        "$context.httpMethod": "POST",
        "$context.path": "/v1/track",
        "$context.routeKey": "POST /v1/{proxy+}",
        "$context.status": "200",
        "$context.responseLength": "16",
        "$context.responseLatency": "42",
        "$context.integrationLatency": "40",
        "$context.integrationErrorMessage": "-",
    }
    for name in sorted(values, key=len, reverse=True):
        text = text.replace(name, values[name])
    return text


def _log_months(template: dict[str, Any]) -> float:
    """How long the logs are kept, in months (the template's LogRetentionDays)."""
    return float(template["Parameters"]["LogRetentionDays"]["Default"]) / (SECONDS_PER_MONTH / 86400)


def runs_per_month(expression: str) -> float:
    """How often an EventBridge schedule fires in a month (rate(...) or a daily/hourly cron)."""
    rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression)
    if rate:
        seconds = int(rate.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[rate.group(2)]
        return SECONDS_PER_MONTH / seconds
    cron = re.fullmatch(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)", expression)
    if not cron:
        raise ValueError(f"unknown schedule {expression}")
    minute, hour = cron.group(1), cron.group(2)
    per_day = (60 if minute == "*" else len(minute.split(","))) * (
        24 if hour == "*" else len(hour.split(","))
    )
    return SECONDS_PER_MONTH / 86400 * per_day


def _duration_ms(use: FunctionUse) -> float:
    """Billed duration: our CPU plus the wait for each AWS call (assumed round trips)."""
    waits = ASSUMED.round_trip_ms
    waiting = sum(
        count * waits.get(name.partition(":")[0], waits["default"])
        for name, count in use.calls.items()
        if name != SQS_EXTRA_CHUNKS  # the same call's larger payload, not another round trip
    )
    return use.cpu_seconds * 1000 + waiting


def _requests(use: FunctionUse, service: str) -> int:
    return sum(count for name, count in use.calls.items() if name.startswith(f"{service}:"))


def _log_bytes(use: FunctionUse, memory_mb: int) -> float:
    platform = platform_log_lines(memory_mb)
    per_invocation = sum(len(line) + LOG_EVENT_OVERHEAD_BYTES for line in platform)
    return use.log_bytes + use.log_lines * LOG_EVENT_OVERHEAD_BYTES + use.invocations * per_invocation


def _usage_cost(use: FunctionUse, memory_mb: int, init_ms: float, *, log_months: float) -> dict[str, float]:
    """USD of one function's use (any count of invocations), by line."""
    gb = memory_mb / 1024
    log_gb = _log_bytes(use, memory_mb) / 1e9
    return {
        "lambda_requests": PRICE["lambda_per_million_requests"] * use.invocations / 1e6,
        "lambda_duration": _duration_ms(use) / 1000 * gb * PRICE["lambda_arm_per_gb_second"],
        "lambda_init": use.invocations
        * ASSUMED.cold_starts_per_invocation
        * init_ms
        / 1000
        * gb
        * PRICE["lambda_arm_per_gb_second"],
        "sqs": PRICE["sqs_per_million_requests"] * _requests(use, "sqs") / 1e6,
        "dynamodb_writes": PRICE["dynamodb_per_million_write_units"] * use.write_units / 1e6,
        "dynamodb_reads": PRICE["dynamodb_per_million_read_units"] * use.read_units / 1e6,
        "eventbridge": PRICE["eventbridge_per_million_events"] * use.events / 1e6,
        "kms": PRICE["kms_per_million_requests"] * _requests(use, "kms") / 1e6,
        "logs_ingest": PRICE["logs_ingest_per_gb"] * log_gb,
        "logs_storage": PRICE["logs_storage_per_gb_month"] * log_gb * log_months,
    }


def _add(total: dict[str, float], part: dict[str, float], factor: float = 1.0) -> None:
    for name, usd in part.items():
        total[name] = total.get(name, 0.0) + usd * factor


def _tables_where(template: dict[str, Any], holds: Callable[[dict[str, Any]], bool]) -> set[str]:
    """The template's tables whose properties hold `holds`."""
    resources = template["Resources"]
    return {
        logical_id
        for logical_id in resources_of(template, "AWS::DynamoDB::Table")
        if holds(resources[logical_id]["Properties"])
    }


def _tables_with_pitr(template: dict[str, Any]) -> set[str]:
    return _tables_where(
        template,
        lambda properties: bool(
            properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
        ),
    )


def infrequent_access_tables(template: dict[str, Any]) -> set[str]:
    """The tables of the Standard-Infrequent Access class (template.yaml's TableClass)."""
    return _tables_where(
        template, lambda properties: properties.get("TableClass") == "STANDARD_INFREQUENT_ACCESS"
    )


def storage_gb_months(run: PipelineRun, template: dict[str, Any]) -> dict[str, float]:
    """GB-months stored per touchpoint over the items' lives: each item as long as its TTL
    (the archive: TouchpointRetentionDays), state without a TTL for `state_months`; `dynamodb_ia`
    is the part in Standard-IA tables (also in `dynamodb`)."""
    pitr = _tables_with_pitr(template)
    infrequent = infrequent_access_tables(template)
    stored = {"dynamodb": 0.0, "dynamodb_ia": 0.0, "pitr": 0.0}
    by_entity: dict[str, float] = {}
    for item in run.stored:
        months = item["months"] if item["months"] is not None else ASSUMED.state_months
        gb_months = item["bytes"] / 1e9 * months / run.touchpoints
        stored["dynamodb"] += gb_months
        by_entity[item["entity"]] = by_entity.get(item["entity"], 0.0) + gb_months
        if item["table"] in pitr:
            stored["pitr"] += gb_months
        if item["table"] in infrequent:
            stored["dynamodb_ia"] += gb_months
    return {**stored, **{f"entity:{name}": value for name, value in by_entity.items()}}


def infrequent_access_premium(run: PipelineRun, template: dict[str, Any]) -> dict[str, float]:
    """USD per touchpoint that requests to Standard-IA tables cost beyond the Standard price the
    functions' lines use."""
    physical = {run.tables.get(logical_id) for logical_id in infrequent_access_tables(template)}
    writes = sum(units for table, units in run.meter.write_units_by_table.items() if table in physical)
    reads = sum(units for table, units in run.meter.read_units_by_table.items() if table in physical)
    write_premium = PRICE["dynamodb_ia_per_million_write_units"] - PRICE["dynamodb_per_million_write_units"]
    read_premium = PRICE["dynamodb_ia_per_million_read_units"] - PRICE["dynamodb_per_million_read_units"]
    return {
        "dynamodb_writes": write_premium * writes / 1e6 / run.touchpoints,
        "dynamodb_reads": read_premium * reads / 1e6 / run.touchpoints,
    }


def per_million_touchpoints(
    run: PipelineRun, template: dict[str, Any], init_ms: dict[str, float]
) -> dict[str, float]:
    """USD that a million touchpoints cause, by line (fixed monthly costs not included)."""
    log_months = _log_months(template)
    specs = function_specs(template)
    per = 1e6 / run.touchpoints
    lines: dict[str, float] = {}
    invocations = 0
    for name, use in run.functions.items():
        if name.startswith(SCHEDULED):
            continue
        if name == EVENT_SOURCES:
            _add(lines, {"sqs": PRICE["sqs_per_million_requests"] * _requests(use, "sqs") / 1e6}, per)
            continue
        invocations += use.invocations
        _add(
            lines,
            _usage_cost(use, specs[name].memory, init_ms.get(name, 0.0), log_months=log_months),
            per,
        )
    deliveries = sum(run.deliveries.values())
    lines["sqs"] += PRICE["sqs_per_million_requests"] * deliveries / 1e6 * per
    api_requests = run.functions[INGEST].invocations
    lines["api_gateway"] = PRICE["api_gateway_http_per_million_requests"] * api_requests / 1e6 * per
    access_gb = api_requests * (len(access_log_line(template)) + LOG_EVENT_OVERHEAD_BYTES) / 1e9 * per
    lines["logs_ingest"] += PRICE["logs_ingest_per_gb"] * access_gb
    lines["logs_storage"] += PRICE["logs_storage_per_gb_month"] * access_gb * log_months
    lines["xray"] = PRICE["xray_per_million_traces"] * ASSUMED.xray_rate * invocations / 1e6 * per
    _add(lines, infrequent_access_premium(run, template), 1e6)
    storage = storage_gb_months(run, template)
    standard = storage["dynamodb"] - storage["dynamodb_ia"]
    lines["dynamodb_storage"] = (
        PRICE["dynamodb_storage_per_gb_month"] * standard
        + PRICE["dynamodb_ia_storage_per_gb_month"] * storage["dynamodb_ia"]
    ) * 1e6
    lines["dynamodb_pitr"] = PRICE["dynamodb_pitr_per_gb_month"] * storage["pitr"] * 1e6
    lines["total"] = sum(lines.values())
    return lines


def fixed_per_month(
    run: PipelineRun, template: dict[str, Any], init_ms: dict[str, float]
) -> dict[str, float]:
    """USD a month whatever the traffic: schedules, idle polling, metrics, alarms, keys, traces."""
    specs = function_specs(template)
    log_months = _log_months(template)
    schedules: dict[str, float] = {}
    for spec in specs.values():
        for schedule in spec.schedules:
            use = run.functions[f"{SCHEDULED}{spec.logical_id}"]
            _add(
                schedules,
                _usage_cost(use, spec.memory, init_ms.get(spec.logical_id, 0.0), log_months=log_months),
                runs_per_month(schedule.expression) / max(use.invocations, 1),
            )
    event_sources = sum(len(spec.sqs_triggers) for spec in specs.values())
    polls = (
        event_sources * ASSUMED.idle_pollers_per_event_source * SECONDS_PER_MONTH / ASSUMED.long_poll_seconds
    )
    lines = {
        "scheduled_functions": sum(schedules.values()),
        "idle_polling": PRICE["sqs_per_million_requests"] * polls / 1e6,
        "custom_metrics": PRICE["metric_per_month"] * len(run.metrics),
        "alarms": PRICE["alarm_per_month"] * len(resources_of(template, "AWS::CloudWatch::Alarm")),
        "kms_keys": PRICE["kms_key_per_month"] * len(resources_of(template, "AWS::KMS::Key")),
        "xray_reservoir": PRICE["xray_per_million_traces"]
        * ASSUMED.xray_reservoir_per_second
        * SECONDS_PER_MONTH
        / 1e6,
    }
    lines["total"] = sum(lines.values())
    return lines


def reference_touchpoints_per_month() -> float:
    return float(ASSUMED.customers * ASSUMED.touchpoints_per_customer_month)


def all_in_per_million(variable: dict[str, float], fixed: dict[str, float]) -> float:
    return variable["total"] + fixed["total"] / (reference_touchpoints_per_month() / 1e6)


def _per_touchpoint_usage(run: PipelineRun) -> dict[str, dict[str, float]]:
    per = 1 / run.touchpoints
    usage = {}
    for name, use in sorted(run.functions.items()):
        if name.startswith(SCHEDULED):
            continue
        usage[name] = {
            "invocations": use.invocations * per,
            "cpu_ms": use.cpu_seconds * 1000 * per,
            "log_bytes": use.log_bytes * per,
            **{call: count * per for call, count in sorted(use.calls.items())},
        }
    return usage


def per_message_usd(campaigns: dict[str, Any]) -> float:
    """A campaign message: its request units, its handler's CPU and the waits for its requests
    (one request per unit, a lower bound), on a 512 MB function."""
    return _per_operation_usd(campaigns["per_message"])


def per_recommendation_usd(recommendations: dict[str, Any]) -> float:
    """A recommendation call, counted as a message is (the API function: 512 MB)."""
    return _per_operation_usd(recommendations["per_call"])


def _per_operation_usd(line: dict[str, Any]) -> float:
    requests = line["dynamodb_wru"] + line["dynamodb_rru"]
    ms = line["handler_cpu_ms"] + requests * ASSUMED.round_trip_ms["dynamodb"]
    return float(
        PRICE["dynamodb_per_million_write_units"] * line["dynamodb_wru"] / 1e6
        + PRICE["dynamodb_per_million_read_units"] * line["dynamodb_rru"] / 1e6
        + ms / 1000 * 0.5 * PRICE["lambda_arm_per_gb_second"]
    )


def scale_table(
    batched: PipelineRun,
    template: dict[str, Any],
    variable: dict[str, float],
    fixed: dict[str, float],
    message_usd: float,
) -> list[dict[str, Any]]:
    """Monthly cost and the load against each default quota at the peak second, for 1, 10 and
    100 million customers (touchpoints in batches of 100; campaigns to every customer)."""
    rows = []
    for customers in (1_000_000, 10_000_000, 100_000_000):
        touchpoints = customers * ASSUMED.touchpoints_per_customer_month
        messages = customers * ASSUMED.campaigns_per_month
        peak = (
            touchpoints / SECONDS_PER_MONTH * ASSUMED.peak_over_average / batched.touchpoints
        )  # runs per second
        concurrency = sum(
            use.invocations * peak * _duration_ms(use) / 1000
            for name, use in batched.functions.items()
            if not name.startswith(SCHEDULED) and name != EVENT_SOURCES
        )
        load = {
            "api_gateway_http_requests_per_second": batched.functions[INGEST].invocations * peak,
            "lambda_concurrent_executions": concurrency,
            "eventbridge_put_events_per_second": batched.meter.calls.get("events:PutEvents", 0) * peak,
            "dynamodb_table_write_units_per_second": batched.meter.write_units * peak,
        }
        share = {name: load[name] / QUOTA[name] for name in QUOTA}
        first = max(share, key=lambda name: share[name])
        rows.append(
            {
                "customers": customers,
                "touchpoints_per_month": touchpoints,
                "messages_per_month": messages,
                "usd_per_month": variable["total"] * touchpoints / 1e6
                + fixed["total"]
                + message_usd * messages,
                "peak_load": load,
                "share_of_quota": share,
                "first_limit": first,
            }
        )
    return rows


def cost_figures(
    single: PipelineRun,
    batched: PipelineRun,
    template: dict[str, Any],
    init_ms: dict[str, float],
    operations: dict[str, Any],
) -> dict[str, Any]:
    """Everything `make bench` reports about cost, as JSON (docs/figures/cost.json); `operations`:
    the membership, inventory, segment and campaign figures, kept with them for docs/cost.md."""
    variable_single = per_million_touchpoints(single, template, init_ms)
    variable_batched = per_million_touchpoints(batched, template, init_ms)
    fixed = fixed_per_month(batched, template, init_ms)
    message_usd = per_message_usd(operations["campaigns"])
    return {
        "touchpoints": batched.touchpoints,
        "prices": {"region": REGION, "checked": CHECKED},
        "reference_touchpoints_per_month": reference_touchpoints_per_month(),
        "per_touchpoint_batched_100": {
            "functions": _per_touchpoint_usage(batched),
            "eventbridge_deliveries_to_sqs": sum(batched.deliveries.values()) / batched.touchpoints,
            "eventbridge_events": batched.meter.events / batched.touchpoints,
            "dynamodb_wru": batched.meter.write_units / batched.touchpoints,
            "dynamodb_rru": batched.meter.read_units / batched.touchpoints,
            "storage_gb_months_per_million": {
                name: value * 1e6 for name, value in storage_gb_months(batched, template).items()
            },
        },
        "custom_metrics": len(batched.metrics),
        "usd_per_million_single": variable_single,
        "usd_per_million_batched_100": variable_batched,
        "usd_fixed_per_month": fixed,
        "usd_all_in_per_million_single": all_in_per_million(variable_single, fixed),
        "usd_all_in_per_million_batched_100": all_in_per_million(variable_batched, fixed),
        "goal_usd_per_million": GOAL_USD_PER_MILLION,
        "usd_per_campaign_message": message_usd,
        "usd_per_million_recommendation_calls": per_recommendation_usd(operations["recommendations"]) * 1e6,
        "scale": scale_table(batched, template, variable_batched, fixed, message_usd),
        "operations": operations,
    }


GOAL_USD_PER_MILLION = 2.50

QUOTA_ORDER = (
    "lambda_concurrent_executions",
    "eventbridge_put_events_per_second",
    "dynamodb_table_write_units_per_second",
    "api_gateway_http_requests_per_second",
)
QUOTA_NAMES = {
    "lambda_concurrent_executions": f"Lambda's concurrent executions"
    f" ({QUOTA['lambda_concurrent_executions']:,} per account)",
    "eventbridge_put_events_per_second": f"EventBridge's PutEvents rate"
    f" ({QUOTA['eventbridge_put_events_per_second']:,} a second)",
    "dynamodb_table_write_units_per_second": f"a table's on-demand write throughput"
    f" ({QUOTA['dynamodb_table_write_units_per_second']:,} units a second)",
    "api_gateway_http_requests_per_second": f"the HTTP API's request rate"
    f" ({QUOTA['api_gateway_http_requests_per_second']:,} a second)",
}
REMEDIES = {
    "lambda_concurrent_executions": "the consumers spend most of their time waiting on their"
    " DynamoDB writes, one after another. The quota is raised on request, and each event source's"
    " batch size keeps invocations to about one per 100 touchpoints.",
    "eventbridge_put_events_per_second": "the quota is raised on request, and announcing touchpoints"
    " per batch instead of one by one would divide the requests.",
    "dynamodb_table_write_units_per_second": "the figure adds up every table, so it is an upper bound;"
    " the table's maximum is raised on request, and every key is per person or per touchpoint, so"
    " no partition is hot.",
    "api_gateway_http_requests_per_second": "batches of 100 keep the API at one request per 100"
    " touchpoints, and the throttle is raised on request.",
}

LINE_NAMES = {
    "api_gateway": "HTTP API requests",
    "lambda_requests": "Lambda requests",
    "lambda_duration": "Lambda duration (our CPU + AWS round trips)",
    "lambda_init": "Lambda init (cold starts)",
    "sqs": "SQS (sends, event sources, EventBridge deliveries)",
    "eventbridge": "EventBridge events",
    "dynamodb_writes": "DynamoDB writes",
    "dynamodb_reads": "DynamoDB reads",
    "dynamodb_storage": "DynamoDB storage over the items' lives",
    "dynamodb_pitr": "point-in-time recovery over the items' lives",
    "logs_ingest": "CloudWatch Logs ingestion",
    "logs_storage": "CloudWatch Logs storage (retention)",
    "xray": "X-Ray traces (5 % sampled)",
    "kms": "KMS requests",
    "scheduled_functions": "scheduled functions",
    "idle_polling": "SQS event sources' empty long polls",
    "custom_metrics": "custom metrics",
    "alarms": "alarms",
    "kms_keys": "KMS keys",
    "xray_reservoir": "X-Ray reservoir (1 trace a second)",
}


def cost_lines(figures: dict[str, Any]) -> list[str]:
    """The README's cost section, written from the figures (a test keeps them equal)."""
    single, batched = figures["usd_per_million_single"], figures["usd_per_million_batched_100"]
    fixed = figures["usd_fixed_per_month"]
    reference = figures["reference_touchpoints_per_month"] / 1e6
    lines = [
        f"USD per million touchpoints at {figures['prices']['region']} list prices"
        f" (checked {figures['prices']['checked']}), from a `make bench` run of"
        f" {figures['touchpoints']:,} touchpoints through every function they reach:",
        "",
        "| line | single calls | batches of 100 |",
        "|---|---:|---:|",
    ]
    for name in sorted(batched, key=lambda n: -batched[n]):
        if name != "total":
            lines.append(f"| {LINE_NAMES[name]} | {single[name]:.3f} | {batched[name]:.3f} |")
    lines.append(
        f"| **what the touchpoints cause** | **{single['total']:.2f}** | **{batched['total']:.2f}** |"
    )
    fixed_share = fixed["total"] / reference
    lines.append(
        f"| fixed costs (USD {fixed['total']:.2f} a month) over {reference:,.0f} million touchpoints a month"
        f" | {fixed_share:.3f} | {fixed_share:.3f} |"
    )
    lines.append(
        f"| **all in** | **{figures['usd_all_in_per_million_single']:.2f}**"
        f" | **{figures['usd_all_in_per_million_batched_100']:.2f}** |"
    )
    goal = figures["goal_usd_per_million"]
    ratio = figures["usd_all_in_per_million_batched_100"] / goal
    ordered = sorted(fixed.items(), key=lambda kv: -kv[1])
    monthly = ", ".join(f"{LINE_NAMES[n]} {v:.2f}" for n, v in ordered if n != "total")
    lines += [
        "",
        f"All in, batches of 100 cost {ratio:.1f} times the goal of USD {goal:.2f}."
        f" Fixed costs a month: {monthly}.",
        "",
        "| customers | touchpoints a month | USD a month | Lambda concurrency | EventBridge PutEvents"
        " | DynamoDB writes (all tables) | HTTP API requests |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in figures["scale"]:
        share = row["share_of_quota"]
        lines.append(
            f"| {row['customers']:,} | {row['touchpoints_per_month']:,} | {row['usd_per_month']:,.0f}"
            + "".join(f" | {share[name]:.0%}" for name in QUOTA_ORDER)
            + " |"
        )
    first = figures["scale"][-1]["first_limit"]
    lines += [
        "",
        "The shares are of each default quota at the peak second (10 times the month's average),"
        f" with campaigns of {ASSUMED.campaigns_per_month} a month to every customer in the cost."
        f" The first to give way is {QUOTA_NAMES[first]}: {REMEDIES[first]}",
    ]
    found = figures["operations"]["recommendations"]
    call = found["per_call"]
    lines += [
        "",
        f"Recommendations, on the demo shop's history ({found['customers']} customers,"
        f" {found['orders']:,} orders, {found['products']} products), each customer's last order held out:"
        f" hit rate at 5 of {found['hit_rate_at_5']:.1%} against {found['popularity_hit_rate_at_5']:.1%}"
        f" for the most popular products. A call for one store costs {call['dynamodb_rru']:.2f} read units"
        f" (USD {figures['usd_per_million_recommendation_calls']:.2f} per million calls with Lambda time);"
        f" an order joins a purchase history for {found['per_order_recorded']['dynamodb_wru']:.2f} write"
        f" and {found['per_order_recorded']['dynamodb_rru']:.2f} read units.",
    ]
    return lines
