"""`make bench`: run every measurement and print (or write) the results."""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal

from infra.bench.campaigns import measure_campaigns
from infra.bench.cold_start import measure_cold_starts
from infra.bench.cost import ASSUMED_AWS_CALL_MS, PRICE, cost_per_million
from infra.bench.inventory import measure_inventory
from infra.bench.local_stack import figures_lines, measure_local_stack, write_figures
from infra.bench.membership import measure_membership
from infra.bench.segments import measure_segments
from infra.bench.touchpoints import measure_batches, measure_cpu, measure_requests


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
    requests = measure_requests(args.touchpoints)
    batched = measure_requests(args.touchpoints, batch=100)
    cpu = measure_cpu(args.touchpoints)
    batches = measure_batches()
    cold = measure_cold_starts()
    segments = measure_segments(args.touchpoints)
    membership = measure_membership()
    inventory = measure_inventory()
    campaigns = measure_campaigns()
    cost = cost_per_million(requests, cpu)
    batched_cost = cost_per_million(batched, cpu, api_cpu_ms_per_touchpoint=batches["api_cpu_ms_per_event"])
    live = segments["live_per_touchpoint"]
    segments_usd = (
        PRICE["dynamodb_wru_per_million"] * live["dynamodb_wru"]
        + PRICE["dynamodb_rru_per_million"] * live["dynamodb_rru"]
        + PRICE["eventbridge_events_per_million"] * live["eventbridge_events"]
        + PRICE["sqs_requests_per_million"] * live["sqs_requests"]
    )
    for table in (cost, batched_cost):
        table["segments_live"] = segments_usd
        table["total"] += segments_usd
    figures = {
        "touchpoints": args.touchpoints,
        "requests": requests,
        "requests_batched_100": batched,
        "batches": batches,
        "usd_per_million_touchpoints_batched_100": batched_cost,
        "cpu": cpu,
        "cold_start_ms": cold,
        "segments": segments,
        "membership": membership,
        "inventory": inventory,
        "campaigns": campaigns,
        "usd_per_million_touchpoints": cost,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    mix = "30 % first visits, 55 % known customers browsing, 15 % orders"
    print(f"Omnireach bench: {args.touchpoints} Segment calls ({mix})")
    print("through API -> queue -> consumer (identity, profile, events) -> archive\n")
    print("AWS requests per touchpoint")
    for name, value in requests["calls_per_touchpoint"].items():
        print(f"  {name:34} {value:8.3f}")
    print(f"  {'DynamoDB write request units':34} {requests['dynamodb_wru_per_touchpoint']:8.3f}")
    for entity, units in requests["dynamodb_wru_by_entity_per_touchpoint"].items():
        print(f"    {entity:32} {units:8.3f}")
    minimum = requests["dynamodb_minimum_wru_per_touchpoint"]
    print(f"  {'  minimum (store once + profile once)':34} {minimum:8.3f}")
    print(f"  {'  actual / minimum':34} {requests['dynamodb_wru_over_minimum']:8.3f}")
    print(f"  {'DynamoDB read request units':34} {requests['dynamodb_rru_per_touchpoint']:8.3f}")
    print(f"  {'SQS requests (incl. event source)':34} {requests['sqs_requests_per_touchpoint']:8.3f}")
    print(f"  {'EventBridge events':34} {requests['eventbridge_events_per_touchpoint']:8.3f}")
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
    print("\nOur CPU per touchpoint (in-memory ports; emulator excluded)")
    print(f"  {'API function':34} {cpu['api_cpu_ms']:8.3f} ms   logs {cpu['api_log_bytes']:6.0f} B")
    consumer = f"  {'touchpoint consumer':34} {cpu['consumer_cpu_ms']:8.3f} ms"
    print(f"{consumer}   logs {cpu['consumer_log_bytes']:6.0f} B")
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
    sqs_per_touchpoint = batched["sqs_requests_per_touchpoint"]
    print(f"  {'SQS requests per touchpoint':34} {sqs_per_touchpoint:8.3f}   (batches of 100)")
    largest = f"{batches['max_events_accepted']} events, {batches['max_bytes_accepted']} B"
    print(f"  {'max accepted batch':34} {largest}")
    print(f"  {'over the limits':34} {batches['over_max_events']} / {batches['over_max_bytes']}")
    assumption = f"AWS calls assumed {ASSUMED_AWS_CALL_MS:g} ms each"
    print(f"\nUSD per million touchpoints (us-east-1 list prices; {assumption})")
    print(f"  {'':34} {'single calls':>12} {'batches of 100':>15}")
    for name, usd in cost.items():
        single = Decimal(usd).quantize(Decimal("0.0001"))
        batch = Decimal(batched_cost[name]).quantize(Decimal("0.0001"))
        print(f"  {name:34} {single:>12} {batch:>15}")
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
