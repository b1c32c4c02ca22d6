"""Cost per million touchpoints at AWS list prices."""

from __future__ import annotations

from typing import Any

# us-east-1 list prices, USD (checked 2026-11; the HTTP API's first 300 million requests a month).
PRICE = {
    "api_gateway_http_per_million": 1.00,
    "lambda_requests_per_million": 0.20,
    "lambda_arm_gb_second": 0.0000133334,
    "sqs_requests_per_million": 0.40,
    "dynamodb_wru_per_million": 0.625,
    "dynamodb_rru_per_million": 0.125,
    "eventbridge_events_per_million": 1.00,
    "cloudwatch_logs_ingest_per_gb": 0.50,
}


# Lambda bills wall time; our CPU is measured, AWS round trips are assumed at this latency.
ASSUMED_AWS_CALL_MS = 8.0


def cost_per_million(
    requests: dict[str, Any], cpu: dict[str, float], *, api_cpu_ms_per_touchpoint: float | None = None
) -> dict[str, float]:
    sends = requests["calls_per_touchpoint"].get("sqs:SendMessageBatch", 0)
    reads = requests["calls_per_touchpoint"].get("dynamodb:GetItem", 0)
    api_cpu = cpu["api_cpu_ms"] if api_cpu_ms_per_touchpoint is None else api_cpu_ms_per_touchpoint
    api_ms = api_cpu + ASSUMED_AWS_CALL_MS * (sends + reads)
    consumer_calls = sum(
        count
        for name, count in requests["calls_per_touchpoint"].items()
        if name.startswith(("dynamodb:", "events:")) and name != "dynamodb:GetItem"
    )
    consumer_ms = cpu["consumer_cpu_ms"] + ASSUMED_AWS_CALL_MS * consumer_calls
    gb = 512 / 1024
    lines = {
        "api_gateway": PRICE["api_gateway_http_per_million"] * requests["api_requests_per_touchpoint"],
        "lambda_requests": PRICE["lambda_requests_per_million"]
        * (requests["api_requests_per_touchpoint"] + requests["consumer_invocations_per_touchpoint"]),
        "lambda_duration": 1e6 * (api_ms + consumer_ms) / 1000 * gb * PRICE["lambda_arm_gb_second"],
        "sqs": PRICE["sqs_requests_per_million"] * requests["sqs_requests_per_touchpoint"],
        "dynamodb_writes": PRICE["dynamodb_wru_per_million"] * requests["dynamodb_wru_per_touchpoint"],
        "dynamodb_reads": PRICE["dynamodb_rru_per_million"] * requests["dynamodb_rru_per_touchpoint"],
        "eventbridge": PRICE["eventbridge_events_per_million"]
        * requests["eventbridge_events_per_touchpoint"],
        "logs": PRICE["cloudwatch_logs_ingest_per_gb"]
        * 1e6
        * (cpu["api_log_bytes"] + cpu["consumer_log_bytes"])
        / 1e9,
    }
    lines["total"] = sum(lines.values())
    return lines
