"""docs/cost.md's per-operation tables, written from the figures `make bench` saves (a test keeps
the document equal to them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MEMBERSHIP = (
    ("an order earning points", "per_earn"),
    ("a points redemption", "per_points_redemption"),
    ("a coupon issued", "per_coupon_issued"),
    ("a coupon redeemed at a till", "per_coupon_redemption"),
)
INVENTORY = (
    ("a reservation, one SKU", "per_reservation"),
    ("a reservation, 3-line cart", "per_reservation_3_lines"),
    ("a reservation, hot SKU in buckets", "per_reservation_hot_sku"),
    ("a commit (order placed)", "per_commit"),
    ("a release (3 lines)", "per_release"),
    ("a stock adjustment", "per_stock_adjustment"),
    ("an outbound push", "per_push"),
)
SEGMENTS = (
    ("nightly recompute, per 10,000 profiles", "recompute_per_10k_profiles"),
    ("a new segment everyone joins, per 10,000", "new_segment_everyone_joins_per_10k_profiles"),
    ("reading an audience, per 1,000 members", "audience_per_1k_members"),
)

RECOMMENDATIONS = (
    ("an order joining its customer's purchase history", "per_order_recorded"),
    ("the nightly rebuild, per 1,000 customers", "nightly_per_1k_customers"),
    ("a call (one store's stock asked)", "per_call"),
)


def operation_lines(operations: dict[str, Any]) -> list[str]:
    membership, inventory = operations["membership"], operations["inventory"]
    segments, campaigns = operations["segments"], operations["campaigns"]["per_message"]
    lines = ["| membership operation | write units | read units | events |", "|---|---:|---:|---:|"]
    for label, key in MEMBERSHIP:
        line = membership[key]
        lines.append(
            f"| {label} | {line['dynamodb_wru']:.2f} | {line['dynamodb_rru']:.2f}"
            f" | {line['eventbridge_events']:.2f} |"
        )
    lines += ["", "| inventory operation | write units | read units | pushes asked |", "|---|---:|---:|---:|"]
    for label, key in INVENTORY:
        line = inventory[key]
        lines.append(
            f"| {label} | {line['dynamodb_wru']:.2f} | {line['dynamodb_rru']:.2f}"
            f" | {line['sync_requests_queued']:.2f} |"
        )
    hot = inventory["hot_sku_reservations_per_second"]
    lines += [
        "",
        f"A hot SKU sustains {hot['sustainable']:,.0f} reservations/s in {hot['buckets']} buckets"
        f" ({hot['counter_writes_per_reservation']:.1f} counter writes each; one counter:"
        f" {hot['one_counter']:,.0f}/s).",
        "",
        "| segments | write units | read units | events | SQS requests |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, key in SEGMENTS:
        line = segments[key]
        lines.append(
            f"| {label} | {line['dynamodb_wru']:.1f} | {line['dynamodb_rru']:.1f}"
            f" | {line['eventbridge_events']:.1f} | {line['sqs_requests']:.1f} |"
        )
    lines += [
        "",
        f"A campaign message, decided and sent: {campaigns['dynamodb_wru']:.2f} write units,"
        f" {campaigns['dynamodb_rru']:.2f} read units, {campaigns['handler_cpu_ms']:.2f} ms of our CPU.",
        "",
        "| recommendations | write units | read units |",
        "|---|---:|---:|",
    ]
    found = operations["recommendations"]
    for label, key in RECOMMENDATIONS:
        line = found[key]
        lines.append(f"| {label} | {line['dynamodb_wru']:.2f} | {line['dynamodb_rru']:.2f} |")
    return lines


README_BEGIN = "<!-- cost: generated from docs/figures/cost.json by make bench (infra/bench/cost.py) -->"
DOCS_BEGIN = "<!-- generated from figures/cost.json by make bench (infra/bench/report.py) -->"
END = "<!-- end of generated -->"


def replace_generated(text: str, begin: str, lines: list[str]) -> str:
    """`text` with what lies between `begin` and the next END marker replaced by `lines`."""
    start = text.index(begin) + len(begin)
    stop = text.index(END, start)
    return text[:start] + "\n" + "\n".join(lines) + "\n" + text[stop:]


def write_documents(root: Path, figures: dict[str, Any]) -> None:
    """Carry the figures into the README's cost section and docs/cost.md's tables."""
    from infra.bench.cost import cost_lines

    for path, begin, lines in (
        (root / "README.md", README_BEGIN, cost_lines(figures)),
        (root / "docs" / "cost.md", DOCS_BEGIN, operation_lines(figures["operations"])),
    ):
        path.write_text(replace_generated(path.read_text(), begin, lines))
