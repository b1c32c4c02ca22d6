"""Shopify-style webhooks: topic in `X-Shopify-Topic`, one resource per delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.domain.ingest.payloads import decimal, items, mapping, timestamp
from shared.domain.ingest.touchpoints import (
    Channel,
    ConsentSignal,
    ConsentStatus,
    Order,
    OrderLine,
    Source,
    Touchpoint,
    TouchpointType,
)
from shared.domain.kernel.errors import InvalidInputError
from shared.domain.kernel.identifiers import IdentifierType, collect

# topic → (touchpoint type, event name)
TOPICS: dict[str, tuple[TouchpointType, str]] = {
    "orders/create": (TouchpointType.ORDER, "Order Created"),
    "orders/paid": (TouchpointType.ORDER, "Order Paid"),
    "refunds/create": (TouchpointType.REFUND, "Order Refunded"),
    "customers/create": (TouchpointType.CUSTOMER, "Customer Created"),
    "customers/update": (TouchpointType.CUSTOMER, "Customer Updated"),
    "checkouts/create": (TouchpointType.CART, "Checkout Created"),
    "checkouts/update": (TouchpointType.CART, "Checkout Updated"),
    "inventory_levels/update": (TouchpointType.INVENTORY, "Inventory Level Updated"),
}


def _lines(line_items: list[Any]) -> list[OrderLine]:
    return [
        OrderLine(
            sku=str(line.get("sku")) if line.get("sku") else None,
            name=line.get("title") or line.get("name"),
            quantity=decimal(line.get("quantity")) or 1,
            unit_price=decimal(line.get("price")),
        )
        for line in (mapping(raw) for raw in line_items)
    ]


def _consent(customer: dict[str, Any]) -> list[ConsentSignal]:
    signals = []
    for field, channel in (
        ("email_marketing_consent", Channel.EMAIL),
        ("sms_marketing_consent", Channel.SMS),
    ):
        state = mapping(customer.get(field)).get("state")
        if state == "subscribed":
            signals.append(ConsentSignal(channel=channel, status=ConsentStatus.GRANTED, reason="subscribed"))
        elif state in ("unsubscribed", "redacted"):
            signals.append(ConsentSignal(channel=channel, status=ConsentStatus.REVOKED, reason=str(state)))
    return signals


# What a body of each kind of topic always carries. The topic header is not signed, so a body
# that lacks its topic's fields (an order sent as a refund) is refused.
REQUIRED_FIELDS = {
    TouchpointType.ORDER: ("id", "line_items"),
    TouchpointType.REFUND: ("order_id", "refund_line_items"),
    TouchpointType.CUSTOMER: ("id",),
    TouchpointType.CART: ("token",),
    TouchpointType.INVENTORY: ("inventory_item_id", "location_id"),
}


_NO_LINE_ITEMS = (TouchpointType.REFUND, TouchpointType.CUSTOMER, TouchpointType.INVENTORY)


def touchpoint_from_shopify(
    topic: str, body_id: str, payload: dict[str, Any], *, source: Source, received_at: datetime
) -> Touchpoint | None:
    """None for a topic we don't use (answered 200 so Shopify keeps the subscription).
    `body_id` names the touchpoint (a digest of the signed body)."""
    if topic not in TOPICS:
        return None
    kind, event = TOPICS[topic]
    missing = [name for name in REQUIRED_FIELDS[kind] if name not in payload]
    if missing or (kind in _NO_LINE_ITEMS and "line_items" in payload):
        raise InvalidInputError(
            f"The body is not a {topic} resource", details={"missing": missing, "topic": topic}
        )
    customer = mapping(payload.get("customer")) if topic.startswith(("orders/", "checkouts/")) else payload
    if topic.startswith("customers/"):
        customer = payload
    identifiers = collect(
        [
            (IdentifierType.SHOP_CUSTOMER_ID, customer.get("id") if customer else None),
            (IdentifierType.EMAIL, payload.get("email") or customer.get("email")),
            (IdentifierType.PHONE, payload.get("phone") or customer.get("phone")),
        ]
        if topic != "inventory_levels/update"
        else [],
        default_country_code=source.default_country_code,
    )
    order = None
    if kind is TouchpointType.ORDER or topic.startswith("checkouts/"):
        order = Order(
            order_id=str(payload["id"])
            if payload.get("id") is not None and kind is TouchpointType.ORDER
            else None,
            currency=payload.get("currency"),
            total=decimal(payload.get("total_price")),
            discount=decimal(payload.get("total_discounts")),
            lines=_lines(items(payload.get("line_items"))),
            location_id=str(payload["location_id"]) if payload.get("location_id") else None,
        )
    elif kind is TouchpointType.REFUND:
        refunded = [
            mapping(mapping(raw).get("line_item")) | {"quantity": mapping(raw).get("quantity")}
            for raw in items(payload.get("refund_line_items"))
        ]
        amount = sum(
            (decimal(mapping(t).get("amount")) or 0 for t in items(payload.get("transactions"))),
            start=decimal(0) or 0,
        )
        order = Order(
            order_id=str(payload["order_id"]) if payload.get("order_id") is not None else None,
            total=amount or None,
            lines=_lines(refunded),
        )
    occurred = timestamp(
        payload.get("processed_at") or payload.get("updated_at") or payload.get("created_at"), received_at
    )
    properties = {
        key: payload[key]
        for key in (
            "id",
            "name",
            "token",
            "source_name",
            "abandoned_checkout_url",
            "inventory_item_id",
            "location_id",
            "available",
            "financial_status",
        )
        if key in payload
    }
    traits = (
        {
            key: customer[key]
            for key in ("first_name", "last_name", "tags", "state", "verified_email")
            if key in customer
        }
        if topic.startswith("customers/")
        else {}
    )
    return Touchpoint(
        touchpoint_id=f"shopify:{source.source_id}:{body_id}",
        type=kind,
        source_id=source.source_id,
        channel=source.channel,
        event=event,
        identifiers=identifiers,
        traits=traits,
        properties={"topic": topic, **properties},
        order=order,
        consent=_consent(customer) if topic.startswith("customers/") else [],
        occurred_at=occurred,
        received_at=received_at,
    )
