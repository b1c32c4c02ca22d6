"""The README's cost section is the one `make bench` wrote last (docs/figures/cost.json): a figure
edited by hand, or a bench run whose figures were not carried into the README, fails here."""

import json

from infra.bench.__main__ import COST_FIGURES
from infra.bench.cost import GOAL_USD_PER_MILLION, cost_lines
from infra.bench.local_stack import ROOT
from infra.bench.report import END, README_BEGIN, operation_lines, replace_generated


def test_the_readme_states_the_cost_figures_of_the_last_bench():
    figures = json.loads(COST_FIGURES.read_text())
    assert figures["touchpoints"] >= 1000  # the documented run, not a quick one
    assert figures["goal_usd_per_million"] == GOAL_USD_PER_MILLION
    readme = (ROOT / "README.md").read_text()
    for line in cost_lines(figures):
        assert line in readme, f"README is missing the bench's line: {line}"


def test_the_cost_figures_cover_every_line_the_issue_names():
    figures = json.loads(COST_FIGURES.read_text())
    lines = figures["usd_per_million_batched_100"]
    for name in (
        "sqs",
        "eventbridge",
        "lambda_duration",
        "lambda_init",
        "logs_ingest",
        "logs_storage",
        "xray",
        "dynamodb_storage",
        "dynamodb_pitr",
    ):
        assert name in lines
    fixed = figures["usd_fixed_per_month"]
    for name in ("idle_polling", "custom_metrics", "scheduled_functions", "alarms"):
        assert fixed[name] > 0
    functions = figures["per_touchpoint_batched_100"]["functions"]
    for consumer in (
        "TouchpointsFunction",
        "SegmentsFunction",
        "LoyaltyFunction",
        "EngagementEventsFunction",
    ):
        assert functions[consumer]["invocations"] > 0, consumer
    assert figures["per_touchpoint_batched_100"]["eventbridge_deliveries_to_sqs"] > 0
    assert [row["customers"] for row in figures["scale"]] == [1_000_000, 10_000_000, 100_000_000]


def test_docs_cost_states_the_per_operation_figures_of_the_last_bench():
    figures = json.loads(COST_FIGURES.read_text())
    document = (ROOT / "docs" / "cost.md").read_text()
    for line in operation_lines(figures["operations"]):
        assert line in document, f"docs/cost.md is missing the bench's line: {line}"


def test_a_generated_section_is_replaced_whole_and_the_rest_kept():
    text = f"intro\n{README_BEGIN}\nold line\nolder line\n{END}\noutro\n"
    replaced = replace_generated(text, README_BEGIN, ["new 1", "new 2"])
    assert replaced == f"intro\n{README_BEGIN}\nnew 1\nnew 2\n{END}\noutro\n"
    assert replace_generated(replaced, README_BEGIN, ["new 1", "new 2"]) == replaced


def test_recommendations_beat_popularity_on_the_demo_history_in_the_last_bench():
    found = json.loads(COST_FIGURES.read_text())["operations"]["recommendations"]
    assert found["customers"] >= 500 and found["products"] >= 40
    assert found["hit_rate_at_5"] > found["popularity_hit_rate_at_5"] + 0.2
    assert found["per_call"]["returned"] == 5  # a full list for every customer measured
