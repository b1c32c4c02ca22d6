"""Inventory consumer: bus events (via InventoryQueue). `OrderPlaced` takes the order's stock once
(from the till's store when the order names a location, else from the first location of the
channel it came through), unless a reservation already sold it; `OrderRefunded` puts returned
units back where they were taken from; a `TouchpointRecorded` of type `inventory` (Shopify's
`inventory_levels/update`) is a level the channel reports for one of its locations: applied as a
count, ordered by its time, so an older report never rolls back a newer one. A failed record is
retried; an unreadable one ends on the DLQ."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.commerce.inventory import Inventory, restock_refund, sell_order
from shared.domain.commerce.stock import SaleLine
from shared.domain.kernel.events import ORDER_PLACED, ORDER_REFUNDED, TOUCHPOINT_RECORDED
from shared.observability import logger, metrics, tracer
from shared.triggers import BusEvent, consume_bus_records
from shared.wiring import commerce as commerce_wiring


def sale_lines(raw_lines: Any) -> list[SaleLine]:
    lines = []
    for raw in raw_lines if isinstance(raw_lines, list) else []:
        if not isinstance(raw, dict) or not raw.get("sku"):
            continue
        try:
            quantity = Decimal(str(raw.get("quantity", 1)))
        except InvalidOperation:
            continue
        if quantity > 0 and quantity == quantity.to_integral_value():
            lines.append(SaleLine(sku=str(raw["sku"]), quantity=int(quantity)))
    return lines


def _sale_location(inventory: Inventory, detail: dict[str, Any]) -> str | None:
    order = detail.get("order") or {}
    named = order.get("location_id")
    if isinstance(named, str) and inventory.directory.location_exists(named):
        return named
    locations = inventory.directory.channel_locations(str(detail.get("channel") or ""))
    return locations[0] if locations else None


def _reported_level(inventory: Inventory, detail: dict[str, Any]) -> str:
    """The channel says how many are available at its location: on hand becomes that plus what
    our reservations hold there, as of the report's time."""
    properties = detail.get("properties") or {}
    sku = str(properties.get("sku") or properties.get("inventory_item_id") or "")
    external = properties.get("location_id")
    try:
        available = int(properties["available"])
        counted_at = datetime.fromisoformat(str(detail["occurred_at"]))
    except (KeyError, TypeError, ValueError):
        return "ignored"
    location_id = (
        inventory.directory.location_known_as(str(detail.get("source_id")), str(external))
        if external is not None
        else None
    )
    if not sku or location_id is None or available < 0:
        return "ignored"
    level = inventory.level(sku, location_id)
    moved = inventory.count(
        sku,
        location_id,
        available + (level.reserved if level else 0),
        op_id=f"level:{detail.get('touchpoint_id')}",
        source=str(detail.get("source_id")),
        counted_at=counted_at,
    )
    return "counted" if moved else "unchanged"


def _handle(inventory: Inventory, event: BusEvent) -> str:
    detail = event.detail
    if event.detail_type == TOUCHPOINT_RECORDED:
        return _reported_level(inventory, detail) if detail.get("type") == "inventory" else "ignored"
    order_id = detail.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        return "ignored"
    if event.detail_type == ORDER_PLACED:
        lines = sale_lines((detail.get("order") or {}).get("lines"))
        location_id = _sale_location(inventory, detail)
        if not lines or location_id is None:
            return "ignored"
        moved = sell_order(
            inventory,
            order_id=order_id,
            lines=lines,
            location_id=location_id,
            source=str(detail.get("channel")),
        )
        return "sold" if moved else "already_sold"
    if event.detail_type == ORDER_REFUNDED:
        lines = sale_lines(detail.get("lines"))
        refund_id = str(detail.get("refund_id") or "")
        if not lines or not refund_id:
            return "ignored"
        moved = restock_refund(
            inventory, order_id=order_id, refund_id=refund_id, lines=lines, source=str(detail.get("channel"))
        )
        return "restocked" if moved else "ignored"
    return "ignored"


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    inventory = commerce_wiring.get_inventory()
    return consume_bus_records(
        event["Records"], lambda bus_event: _handle(inventory, bus_event), consumer="Inventory"
    )
