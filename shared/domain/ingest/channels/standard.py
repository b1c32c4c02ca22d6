"""Standard Webhooks sources (POS, call center, any system that can sign): the payload is
`{"type": ..., "timestamp": ..., "data": {...}}` with the customer in `data.customer`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.ingest.channels.customer_ref import CustomerRef
from shared.domain.ingest.payloads import decimal, items, mapping, timestamp
from shared.domain.ingest.touchpoints import (
    ConsentSignal,
    Order,
    OrderLine,
    Source,
    Touchpoint,
    TouchpointType,
)

TYPES = {
    "pos.transaction.completed": TouchpointType.ORDER,
    "pos.transaction.refunded": TouchpointType.REFUND,
    "callcenter.contact.completed": TouchpointType.CONTACT,
}


class StandardWebhookPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str = Field(min_length=1, max_length=200)
    timestamp: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


def _order(data: dict[str, Any]) -> Order:
    return Order(
        order_id=str(data["transaction_id"]) if data.get("transaction_id") is not None else None,
        currency=str(data["currency"]).upper() if data.get("currency") else None,
        total=decimal(data.get("total")),
        discount=decimal(data.get("discount")),
        lines=[
            OrderLine(
                sku=str(line["sku"]) if line.get("sku") else None,
                name=line.get("name"),
                quantity=decimal(line.get("quantity")) or 1,
                unit_price=decimal(line.get("unit_price")),
            )
            for line in (mapping(raw) for raw in items(data.get("lines")))
        ],
        location_id=str(data["store_id"]) if data.get("store_id") else None,
    )


def touchpoint_from_standard_webhook(
    webhook_id: str, payload: StandardWebhookPayload, *, source: Source, received_at: datetime
) -> Touchpoint:
    data = payload.data
    kind = TYPES.get(payload.type, TouchpointType.TRACK)
    customer = CustomerRef.model_validate(mapping(data.get("customer")))
    consent = [
        ConsentSignal.model_validate(signal)
        for signal in items(data.get("consent"))
        if isinstance(signal, dict)
    ]
    return Touchpoint(
        touchpoint_id=f"sw:{source.source_id}:{webhook_id}",
        type=kind,
        source_id=source.source_id,
        channel=source.channel,
        event=payload.type,
        identifiers=customer.identifiers(default_country_code=source.default_country_code),
        properties={key: value for key, value in data.items() if key not in ("customer", "lines", "consent")},
        order=_order(data) if kind in (TouchpointType.ORDER, TouchpointType.REFUND) else None,
        consent=consent,
        occurred_at=timestamp(data.get("occurred_at") or payload.timestamp, received_at),
        received_at=received_at,
    )
