"""The cost model's arithmetic and what it reads from template.yaml (the run's own measurements
are covered by tests/integration/test_request_budget.py)."""

from collections import Counter

import pytest

from infra.bench.cost import (
    LINE_NAMES,
    access_log_line,
    fixed_per_month,
    infrequent_access_tables,
    per_million_touchpoints,
    platform_log_lines,
    runs_per_month,
    storage_gb_months,
)
from infra.bench.meter import RequestMeter
from infra.bench.pipeline import EVENT_SOURCES, INGEST, SCHEDULED, FunctionUse, PipelineRun
from infra.bench.prices import ASSUMED, PRICE, SECONDS_PER_MONTH
from infra.emulator import function_specs
from infra.template import load_template

TEMPLATE = load_template()


def _run(**functions: FunctionUse) -> PipelineRun:
    specs = function_specs(TEMPLATE)
    scheduled = {
        f"{SCHEDULED}{name}": FunctionUse(invocations=1) for name, spec in specs.items() if spec.schedules
    }
    return PipelineRun(
        touchpoints=1000,
        functions={
            INGEST: FunctionUse(invocations=10),
            EVENT_SOURCES: FunctionUse(),
            **scheduled,
            **functions,
        },
        meter=RequestMeter(),
        deliveries=Counter(),
        metrics=set(),
        stored=[],
    )


def test_schedules_fire_as_often_as_their_expressions_say():
    assert runs_per_month("rate(1 minute)") == pytest.approx(SECONDS_PER_MONTH / 60)
    assert runs_per_month("rate(15 minutes)") == pytest.approx(SECONDS_PER_MONTH / 900)
    assert runs_per_month("rate(1 hour)") == pytest.approx(SECONDS_PER_MONTH / 3600)
    assert runs_per_month("cron(30 17 * * ? *)") == pytest.approx(30.44)
    with pytest.raises(ValueError, match="unknown schedule"):
        runs_per_month("at(2026-12-24T00:00:00)")


def test_the_access_log_line_is_the_template_format_filled_in():
    line = access_log_line(TEMPLATE)
    assert line.startswith('{"requestId":"')
    assert "$context" not in line
    assert '"status":"200"' in line
    assert all("RequestId" in text or "TraceId" in text for text in platform_log_lines(512))


def test_each_line_is_its_measured_quantity_times_its_list_price():
    consumer = FunctionUse(
        invocations=10,
        cpu_seconds=2.0,
        calls=Counter({"dynamodb:PutItem": 2000, "sqs:SendMessageBatch": 100}),
        write_units=2000,
        read_units=3000,
        events=1500,
    )
    run = _run(TouchpointsFunction=consumer)
    run.deliveries["SegmentQueue"] = 1000
    run.stored.append({"table": "TouchpointsTable", "entity": "TOUCHPOINT", "bytes": 1e6, "months": 13.0})
    lines = per_million_touchpoints(run, TEMPLATE, {"TouchpointsFunction": 400.0})
    per = 1e6 / 1000
    assert lines["dynamodb_writes"] == pytest.approx(
        PRICE["dynamodb_per_million_write_units"] * 2000 / 1e6 * per
    )
    assert lines["eventbridge"] == pytest.approx(1.5 * PRICE["eventbridge_per_million_events"])
    assert lines["sqs"] == pytest.approx(PRICE["sqs_per_million_requests"] * (100 + 1000) / 1e6 * per)
    assert lines["api_gateway"] == pytest.approx(
        PRICE["api_gateway_http_per_million_requests"] * 10 / 1e6 * per
    )
    # 1 MB kept 13 months in a table with point-in-time recovery, per 1,000 touchpoints (the archive
    # is of the Standard-IA class)
    assert lines["dynamodb_storage"] == pytest.approx(
        PRICE["dynamodb_ia_storage_per_gb_month"] * 13 * 1e-3 * per
    )
    assert lines["dynamodb_pitr"] == pytest.approx(PRICE["dynamodb_pitr_per_gb_month"] * 13 * 1e-3 * per)
    waiting_ms = 2000 * ASSUMED.round_trip_ms["dynamodb"] + 100 * ASSUMED.round_trip_ms["sqs"]
    seconds = (2000 + waiting_ms) / 1000
    assert lines["lambda_duration"] == pytest.approx(seconds * 0.5 * PRICE["lambda_arm_per_gb_second"] * per)
    assert lines["total"] == pytest.approx(sum(v for k, v in lines.items() if k != "total"))
    assert set(lines) - {"total"} <= set(LINE_NAMES)


def test_state_without_a_ttl_is_charged_for_the_assumed_months_and_pitr_only_where_enabled():
    run = _run()
    run.stored.append({"table": "CustomersTable", "entity": "PROFILE", "bytes": 1e6, "months": None})
    stored = storage_gb_months(run, TEMPLATE)
    assert stored["dynamodb"] == pytest.approx(1e-3 * ASSUMED.state_months / 1000)
    assert stored["pitr"] == stored["dynamodb"]  # every table of the template has PITR on


def test_standard_ia_tables_are_priced_as_their_class_says():
    assert infrequent_access_tables(TEMPLATE) == {"TouchpointsTable"}
    run = _run(TouchpointsFunction=FunctionUse(invocations=10, write_units=3000, read_units=1000))
    run.tables = {"TouchpointsTable": "tp-physical", "CustomersTable": "c-physical"}
    run.meter.write_units_by_table.update({"tp-physical": 1000.0, "c-physical": 2000.0})
    run.meter.read_units_by_table.update({"tp-physical": 1000.0})
    run.stored += [
        {"table": "TouchpointsTable", "entity": "TOUCHPOINT", "bytes": 1e6, "months": 13.0},
        {"table": "CustomersTable", "entity": "PROFILE", "bytes": 1e6, "months": 13.0},
    ]
    lines = per_million_touchpoints(run, TEMPLATE, {})
    per = 1e6 / 1000
    assert lines["dynamodb_writes"] == pytest.approx(
        (
            PRICE["dynamodb_per_million_write_units"] * 2000
            + PRICE["dynamodb_ia_per_million_write_units"] * 1000
        )
        / 1e6
        * per
    )
    assert lines["dynamodb_reads"] == pytest.approx(
        PRICE["dynamodb_ia_per_million_read_units"] * 1000 / 1e6 * per
    )
    assert lines["dynamodb_storage"] == pytest.approx(
        (PRICE["dynamodb_storage_per_gb_month"] + PRICE["dynamodb_ia_storage_per_gb_month"]) * 13 * 1e-3 * per
    )
    assert lines["dynamodb_pitr"] == pytest.approx(PRICE["dynamodb_pitr_per_gb_month"] * 2 * 13 * 1e-3 * per)


def test_fixed_costs_count_the_template_s_alarms_keys_and_event_sources():
    fixed = fixed_per_month(_run(), TEMPLATE, {})
    alarms = sum(1 for r in TEMPLATE["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm")
    assert fixed["alarms"] == pytest.approx(PRICE["alarm_per_month"] * alarms)
    sources = sum(len(spec.sqs_triggers) for spec in function_specs(TEMPLATE).values())
    polls = sources * ASSUMED.idle_pollers_per_event_source * SECONDS_PER_MONTH / ASSUMED.long_poll_seconds
    assert fixed["idle_polling"] == pytest.approx(PRICE["sqs_per_million_requests"] * polls / 1e6)
    assert fixed["scheduled_functions"] > 0  # each schedule's invocations a month are billed
    assert fixed["total"] == pytest.approx(sum(v for k, v in fixed.items() if k != "total"))
