"""The bench's touchpoints (a realistic mix of Segment calls), and what /v1/batch costs in our CPU
per request and per event with in-memory ports, with the largest batch it accepts."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from infra.bench.meter import (
    captured_output,
    replace_factories,
)

KNOWN_CUSTOMERS = 200


def mixed_call(index: int) -> tuple[str, dict[str, Any]]:
    """A realistic mix: 30 % first visits (anonymous page views), 55 % known customers browsing,
    15 % orders; customers return several times over the run."""
    common = {
        "messageId": f"bench-{index}",
        "timestamp": "2026-11-24T08:00:00Z",
        "sentAt": "2026-11-24T08:00:02Z",
        "context": {"ip": "203.0.113.9", "library": {"name": "analytics-python", "version": "2.3.4"}},
    }
    slot = index % 20
    user = f"user-{(index * 7) % KNOWN_CUSTOMERS}"
    if slot < 6:
        return "page", {**common, "anonymousId": f"visitor-{index}", "name": "Home"}
    if slot < 17:
        return "track", {
            **common,
            "userId": user,
            "event": "Product Viewed",
            "properties": {"sku": f"sku-{index % 50}"},
        }
    return "track", {
        **common,
        "userId": user,
        "event": "Order Completed",
        "properties": {
            "order_id": f"o-{index}",
            "total": 129.9,
            "currency": "CNY",
            "products": [  # two of the viewed products: an order names what it sold
                {"sku": f"sku-{index % 50}", "price": 99.9, "quantity": 1},
                {"sku": f"sku-{(index * 3) % 50}", "price": 30.0, "quantity": 1},
            ],
        },
    }


def is_order(call: tuple[str, dict[str, Any]]) -> bool:
    """An order of the mix, which the shop's backend reports (server-side) rather than the page."""
    return call[1].get("event") == "Order Completed"


def _batch_body(start: int, size: int) -> str:
    events = []
    for index in range(start, start + size):
        call_type, body = mixed_call(index)
        events.append({"type": call_type, **body})
    return json.dumps({"batch": events, "sentAt": "2026-11-24T08:00:02Z"})


def measure_batches(batch: int = 100, batches: int = 20) -> dict[str, Any]:
    """/v1/batch with in-memory ports: CPU per request and per event, and the largest batch the
    API accepts (probed at and just over each limit)."""
    from chalice.test import Client

    from functions.api.app import app
    from shared.domain.ingest.touchpoints import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, Source
    from tests.fakes import FakeClock, InMemorySourceRegistry, InMemoryTouchpointQueue

    registry, queue = InMemorySourceRegistry(), InMemoryTouchpointQueue()
    registry.add(Source(source_id="web", name="Web"), write_key="wk")
    restore = replace_factories(
        get_source_registry=lambda: registry, get_touchpoint_queue=lambda: queue, get_clock=FakeClock
    )
    auth = {"Authorization": "Basic " + base64.b64encode(b"wk:").decode(), "Content-Type": "application/json"}
    tiny = {"type": "track", "userId": "u", "event": "E"}

    def post(body: str) -> tuple[int, dict[str, Any]]:
        response = client.http.post("/v1/batch", headers=auth, body=body)
        return response.status_code, json.loads(response.body)

    try:
        with Client(app) as client, captured_output():
            post(_batch_body(0, batch))  # warm
            started = time.process_time()
            for index in range(batches):
                post(_batch_body(index * batch, batch))
            cpu = time.process_time() - started
            at_count, _ = post(json.dumps({"batch": [tiny] * MAX_BATCH_EVENTS}))
            over_count, over_count_body = post(json.dumps({"batch": [tiny] * (MAX_BATCH_EVENTS + 1)}))
            padding = "x" * (MAX_BATCH_BYTES - 200)
            at_bytes, _ = post(
                json.dumps({"batch": [tiny], "context": {"pad": padding[: MAX_BATCH_BYTES - 100]}})
            )
            over_bytes, over_bytes_body = post(
                json.dumps({"batch": [tiny], "context": {"pad": "x" * MAX_BATCH_BYTES}})
            )
    finally:
        restore()
    return {
        "batch_size": batch,
        "api_cpu_ms_per_request": cpu * 1000 / batches,
        "api_cpu_ms_per_event": cpu * 1000 / (batches * batch),
        "max_events_accepted": MAX_BATCH_EVENTS if at_count == 200 else None,
        "over_max_events": f"{over_count} {over_count_body.get('error', {}).get('code')}",
        "max_bytes_accepted": MAX_BATCH_BYTES if at_bytes == 200 else None,
        "over_max_bytes": f"{over_bytes} {over_bytes_body.get('error', {}).get('code')}",
    }
