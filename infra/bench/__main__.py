"""`make bench`: run every measurement and print (or write) the results."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from infra.bench.campaigns import measure_campaigns
from infra.bench.cold_start import measure_cold_starts
from infra.bench.cost import cost_figures, cost_lines
from infra.bench.inventory import measure_inventory
from infra.bench.local_stack import figures_lines, measure_local_stack, write_figures
from infra.bench.membership import measure_membership
from infra.bench.pipeline import measure_pipeline
from infra.bench.recommendations import measure_recommendations
from infra.bench.report import write_documents
from infra.bench.segments import measure_segments
from infra.bench.touchpoints import measure_batches
from infra.template import load_template

COST_FIGURES = Path(__file__).resolve().parents[2] / "docs" / "figures" / "cost.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench ARGS=...", description=__doc__.split("\n\n")[0])
    parser.add_argument("--touchpoints", type=int, default=1000, help="touchpoints per measurement")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--campaign-size", type=int, default=10_000, help="customers in the local-stack campaign (0: skip it)"
    )
    parser.add_argument(
        "--local-touchpoints",
        type=int,
        default=20_000,
        help="touchpoints ingested by the local stack (0: skip it)",
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=60, help="how long the idle local stack is watched"
    )
    parser.add_argument(
        "--only-local-stack", action="store_true", help="measure the local stack only (and write its figures)"
    )
    args = parser.parse_args(argv)
    if args.only_local_stack:
        return _local_stack(args)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 (moto takes any credentials)
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="omnireach",
        POWERTOOLS_METRICS_NAMESPACE="Omnireach",
        POWERTOOLS_TRACE_DISABLED="true",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    single = measure_pipeline(args.touchpoints)
    batched = measure_pipeline(args.touchpoints, batch=100)
    batches = measure_batches()
    cold = measure_cold_starts()
    segments = measure_segments(args.touchpoints)
    membership = measure_membership()
    inventory = measure_inventory()
    campaigns = measure_campaigns()
    recommendations = measure_recommendations()
    operations = {
        "membership": membership,
        "inventory": inventory,
        "segments": segments,
        "campaigns": campaigns,
        "recommendations": recommendations,
    }
    cost = cost_figures(single, batched, load_template(), cold["init_ms"], operations)
    COST_FIGURES.write_text(json.dumps(cost, indent=2, sort_keys=True) + "\n")
    write_documents(COST_FIGURES.parents[2], cost)
    figures = {
        "touchpoints": args.touchpoints,
        "cost": cost,
        "batches": batches,
        "cold_start_ms": cold,
        "segments": segments,
        "membership": membership,
        "inventory": inventory,
        "campaigns": campaigns,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    mix = "30 % first visits, 55 % known customers browsing, 15 % orders"
    print(f"Omnireach bench: {args.touchpoints} Segment calls ({mix}), in batches of 100,")
    print("through the API, the queue and every function their events reach\n")
    usage = cost["per_touchpoint_batched_100"]
    print("Per touchpoint, by function (invocations, our CPU, log bytes, AWS requests)")
    for name, line in usage["functions"].items():
        requests = ", ".join(f"{call} {n:.3f}" for call, n in line.items() if ":" in call)
        print(
            f"  {name:28} {line['invocations']:7.3f} inv  {line['cpu_ms']:7.3f} ms"
            f"  {line['log_bytes']:6.0f} B  {requests}"
        )
    print(f"  {'EventBridge events':28} {usage['eventbridge_events']:7.3f}")
    print(f"  {'EventBridge deliveries to SQS':28} {usage['eventbridge_deliveries_to_sqs']:7.3f}")
    print(f"  {'DynamoDB write request units':28} {usage['dynamodb_wru']:7.3f}")
    print(f"  {'DynamoDB read request units':28} {usage['dynamodb_rru']:7.3f}")
    for name, value in usage["storage_gb_months_per_million"].items():
        print(f"  {'GB-months stored per million, ' + name:28} {value:7.3f}")
    print(f"  {'custom metrics emitted':28} {cost['custom_metrics']:7d}")
    print(f"\nSegments ({segments['segments']} defined; {segments['profiles']} profiles)")
    for label, key in (
        ("kept live, per touchpoint", "live_per_touchpoint"),
        ("nightly recompute, per 10k profiles", "recompute_per_10k_profiles"),
        ("a new segment all join, per 10k", "new_segment_everyone_joins_per_10k_profiles"),
        ("audience read, per 1k members", "audience_per_1k_members"),
    ):
        figures_line = segments[key]
        print(
            f"  {label:38} WRU {figures_line['dynamodb_wru']:9.2f}  RRU {figures_line['dynamodb_rru']:9.2f}"
            f"  events {figures_line['eventbridge_events']:7.2f}  SQS {figures_line['sqs_requests']:7.2f}"
        )
    print(f"\nMembership ({membership['members']} members; request units per operation)")
    for label, key in (
        ("an order earning points", "per_earn"),
        ("a points redemption", "per_points_redemption"),
        ("a coupon issued", "per_coupon_issued"),
        ("a coupon redeemed at a till", "per_coupon_redemption"),
    ):
        line = membership[key]
        print(
            f"  {label:38} WRU {line['dynamodb_wru']:9.2f}  RRU {line['dynamodb_rru']:9.2f}"
            f"  events {line['eventbridge_events']:7.2f}"
        )
    print(
        f"\nInventory ({inventory['operations']} each; 2 channels with endpoints;"
        " request units per operation)"
    )
    for label, key in (
        ("a reservation, 1 SKU", "per_reservation"),
        ("a reservation, 3-line cart", "per_reservation_3_lines"),
        (f"a reservation, hot SKU in {inventory['hot_sku_buckets']} buckets", "per_reservation_hot_sku"),
        ("a commit (order placed)", "per_commit"),
        ("a release", "per_release"),
        ("a stock adjustment", "per_stock_adjustment"),
        ("an outbound push", "per_push"),
    ):
        line = inventory[key]
        print(
            f"  {label:38} WRU {line['dynamodb_wru']:9.2f}  RRU {line['dynamodb_rru']:9.2f}"
            f"  pushes asked {line['sync_requests_queued']:5.2f}  SQS {line['sqs_requests']:5.2f}"
        )
    hot = inventory["hot_sku_reservations_per_second"]
    print(
        f"  {'hot SKU reservations/s (per-item limit)':38} {hot['sustainable']:9.0f}"
        f"  ({hot['buckets']} buckets x 1000 WCU/s"
        f" / {hot['counter_writes_per_reservation']:.1f} counter writes;"
        f" one counter: {hot['one_counter']:.0f}/s)"
    )
    line = campaigns["per_message"]
    print(f"\nCampaigns ({campaigns['messages']} messages on moto; per dispatched message)")
    print(
        f"  {'a message decided and sent':38} WRU {line['dynamodb_wru']:9.2f}"
        f"  RRU {line['dynamodb_rru']:9.2f}"
        f"  handler CPU {line['handler_cpu_ms']:.2f} ms"
    )
    found = recommendations
    print(
        f"\nRecommendations ({found['customers']} customers, {found['orders']} orders of the demo shop;"
        " last order held out)"
    )
    print(
        f"  {'hit rate at 5':38} {found['hit_rate_at_5']:.3f}"
        f"  (popularity {found['popularity_hit_rate_at_5']:.3f}, coverage {found['coverage']:.2f})"
    )
    for label, key in (
        ("an order recorded", "per_order_recorded"),
        ("nightly rebuild, per 1k customers", "nightly_per_1k_customers"),
        ("a call for one store", "per_call"),
    ):
        line = found[key]
        print(f"  {label:38} WRU {line['dynamodb_wru']:9.2f}  RRU {line['dynamodb_rru']:9.2f}")
    print(
        f"\nCold start from the built artifacts (init: the handler's import; median of {cold['runs']},"
        " tracing on as deployed)"
    )
    print(f"  {'reference Powertools handler':34} {cold['reference_ms']:8.1f} ms")
    for name, ms in cold["init_ms"].items():
        print(f"  {name:34} {ms:8.1f} ms   {cold['ratio_to_reference'][name]:5.2f}x the reference")
    print("\nArtifacts (arm64, as `make package` builds them)")
    for name, size in cold["artifact_sizes"].items():
        print(
            f"  {name:34} {size['unzipped_bytes'] / 1e6:6.2f} MB unzipped"
            f"  {size['zipped_bytes'] / 1e6:6.2f} MB zipped  {size['files']:5} files"
        )
    print("\nIngest batches (/v1/batch, in-memory ports)")
    print(f"  {'API CPU per request (100 events)':34} {batches['api_cpu_ms_per_request']:8.3f} ms")
    print(f"  {'API CPU per event':34} {batches['api_cpu_ms_per_event']:8.3f} ms")
    largest = f"{batches['max_events_accepted']} events, {batches['max_bytes_accepted']} B"
    print(f"  {'max accepted batch':34} {largest}")
    print(f"  {'over the limits':34} {batches['over_max_events']} / {batches['over_max_bytes']}")
    print(
        f"\nCost (written to {COST_FIGURES.relative_to(COST_FIGURES.parents[2])}, README.md and docs/cost.md)"
    )
    for line in cost_lines(cost):
        print(f"  {line}")
    return _local_stack(args) if args.local_touchpoints else 0


def _local_stack(args: argparse.Namespace) -> int:
    """The local stack in its own process (`make run`), measured from outside; the figures are
    written to docs/figures/local-stack.json, which the README quotes."""
    print(
        f"\nLocal stack (`make run` in its own process; {args.local_touchpoints} touchpoints,"
        f" {args.campaign_size} campaign customers; a few minutes)",
        flush=True,
    )
    figures = measure_local_stack(args.local_touchpoints, args.campaign_size, args.idle_seconds)
    write_figures(figures)
    for line in figures_lines(figures):
        print(f"  {line}")
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
