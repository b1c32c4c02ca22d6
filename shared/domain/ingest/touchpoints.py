"""The one versioned `Touchpoint` schema every channel is normalised into, the sources they come
from, and the Segment calls (the public contract of the Segment HTTP Tracking API)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.domain.ingest.payloads import as_utc, decimal, items, mapping
from shared.domain.kernel.identifiers import Identifier, IdentifierType, collect

# Segment's limits: one event, one batch request, events per batch. Over them is a clear 4xx.
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500
MAX_ID_LENGTH = 255

# Bounds every touchpoint holds, whichever channel it came from, so that no accepted value can
# break what reads it later (sums into profiles, scores, DynamoDB's 38-digit numbers).
MAX_AMOUNT = Decimal("1000000000000")  # 10^12 in the order's currency
AMOUNT_DECIMAL_PLACES = 4
MAX_QUANTITY = 1_000_000
OCCURRED_AT_MOST_BEFORE = timedelta(days=3650)  # a backfill may bring ten years of history
OCCURRED_AT_MOST_AFTER = timedelta(days=1)  # a device clock a day fast, after skew correction
Money = Annotated[Decimal, Field(ge=0, le=MAX_AMOUNT, decimal_places=AMOUNT_DECIMAL_PLACES)]


class Channel(StrEnum):
    WEB = "web"
    APP = "app"
    POS = "pos"
    ECOMMERCE = "ecommerce"
    MARKETPLACE = "marketplace"
    WECHAT = "wechat"
    CALLCENTER = "callcenter"
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    OTHER = "other"


class SourceKind(StrEnum):
    """How a source talks to us: its wire format and signature standard."""

    SEGMENT = "segment"
    SHOPIFY = "shopify"
    STANDARD_WEBHOOKS = "standard_webhooks"
    WECHAT = "wechat"
    SES = "ses"


class SourceTrust(StrEnum):
    """What a source's credential may cause. Trust follows the key:

    - `client`: the key ships in a browser or an app, so anyone can read it and send anything
      with it. It reports behaviour (views, carts, identifies, orders *as reported*); it never
      creates an order that earns points or moves stock, and never acts on a member's account.
    - `server`: the key or secret stays on the brand's servers (a backend's Segment source, POS
      tills, signed platform webhooks). Its orders and refunds are real: they earn and take back
      points and move stock, and its key may act for a till on any member's account.
    """

    CLIENT = "client"
    SERVER = "server"


class Source(BaseModel):
    """Where touchpoints come from: one per connected channel account."""

    model_config = ConfigDict(frozen=True)

    source_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    name: str = Field(min_length=1, max_length=200)
    kind: SourceKind = SourceKind.SEGMENT
    channel: Channel = Channel.WEB
    enabled: bool = True
    default_country_code: str | None = Field(default=None, pattern=r"^[1-9][0-9]{0,2}$")
    app_id: str | None = Field(default=None, max_length=300)  # WeChat AppID; SNS topic ARN for SES
    # A Segment write key is client-side unless declared otherwise when the source is created;
    # every other kind is a platform's signed webhook, sent from its servers.
    trust: SourceTrust = SourceTrust.CLIENT

    @model_validator(mode="before")
    @classmethod
    def _signed_webhooks_are_server_side(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("kind", SourceKind.SEGMENT) != SourceKind.SEGMENT:
            return {**data, "trust": SourceTrust.SERVER}
        return data

    @property
    def creates_value(self) -> bool:
        """Whether this source's orders are real (points, stock) and its key may act for a till."""
        return self.trust is SourceTrust.SERVER


@dataclass(frozen=True)
class SourceSecrets:
    """Never logged, never returned after creation. `signing` is newest first (rotation)."""

    signing: list[str] = field(default_factory=list)
    encryption_key: str | None = None
    app_secret: str | None = None  # WeChat: the AppSecret, for the user-info API (unionid)


class TouchpointType(StrEnum):
    IDENTIFY = "identify"
    TRACK = "track"
    PAGE = "page"
    SCREEN = "screen"
    GROUP = "group"
    ALIAS = "alias"
    ORDER = "order"
    REFUND = "refund"
    CART = "cart"
    CUSTOMER = "customer"
    INVENTORY = "inventory"
    MESSAGE = "message"
    CONTACT = "contact"
    EMAIL_EVENT = "email_event"


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    name: str | None = Field(default=None, max_length=1000)
    quantity: Decimal = Field(default=Decimal(1), gt=0, le=MAX_QUANTITY)
    unit_price: Money | None = None

    @field_validator("quantity")
    @classmethod
    def _whole(cls, value: Decimal) -> Decimal:
        if value != value.to_integral_value():
            raise ValueError("a quantity is a whole number")
        return value


class Order(BaseModel):
    """Money is Decimal: amounts are summed into profiles and must not drift."""

    model_config = ConfigDict(frozen=True)

    order_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    total: Money | None = None
    discount: Money | None = None
    lines: list[OrderLine] = Field(default_factory=list, max_length=1000)
    location_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    REVOKED = "revoked"


class ConsentSignal(BaseModel):
    model_config = ConfigDict(frozen=True)

    channel: Channel
    status: ConsentStatus
    reason: str
    purpose: str = Field(default="marketing", pattern=r"^[a-z][a-z0-9_]{0,39}$")


class Touchpoint(BaseModel):
    """Schema version 1 of a touchpoint, as it travels on the queue and is archived."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    touchpoint_id: str  # the dedupe key: the same id is one touchpoint
    type: TouchpointType
    source_id: str
    channel: Channel
    event: str | None = None
    identifiers: list[Identifier] = Field(default_factory=list)
    traits: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    order: Order | None = None
    consent: list[ConsentSignal] = Field(default_factory=list)
    group_id: str | None = None
    previous_id: str | None = None
    occurred_at: datetime
    received_at: datetime
    sent_at: datetime | None = None
    original_timestamp: datetime | None = None

    @model_validator(mode="after")
    def _occurred_near_receipt(self) -> Touchpoint:
        if not (
            self.received_at - OCCURRED_AT_MOST_BEFORE
            <= self.occurred_at
            <= self.received_at + OCCURRED_AT_MOST_AFTER
        ):
            raise ValueError(
                "timestamp: a touchpoint happens at most 10 years before it is received and at most "
                "a day after (after clock-skew correction)"
            )
        return self

    def identifier(self, identifier_type: IdentifierType) -> str | None:
        return next((i.value for i in self.identifiers if i.type is identifier_type), None)


def corrected_occurrence(
    *, received_at: datetime, sent_at: datetime | None, device_timestamp: datetime | None
) -> datetime:
    """Segment's clock-skew correction: `receivedAt - (sentAt - originalTimestamp)`.

    Both `sentAt` and the device timestamp come from the same (possibly wrong) device clock, so
    their difference is trustworthy even when the clock is not; it is applied to our clock.
    """
    if device_timestamp is None:
        return received_at
    if sent_at is None:
        return device_timestamp
    try:
        return received_at - (sent_at - device_timestamp)
    except OverflowError:  # a device clock this far off tells us nothing: use ours
        return received_at


def archive_expiry(touchpoint: Touchpoint, retention: timedelta) -> datetime:
    """An archived touchpoint is kept `retention` after it was received."""
    return touchpoint.received_at + retention


# ------------------------------------------------------------------------------------ Segment


class SegmentCallType(StrEnum):
    IDENTIFY = "identify"
    TRACK = "track"
    PAGE = "page"
    SCREEN = "screen"
    GROUP = "group"
    ALIAS = "alias"


class SegmentCall(BaseModel):
    """One Segment call (camelCase on the wire). The route or the batch item gives its type."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    type: SegmentCallType
    event: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    name: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    user_id: str | None = Field(default=None, alias="userId", max_length=MAX_ID_LENGTH)
    anonymous_id: str | None = Field(default=None, alias="anonymousId", max_length=MAX_ID_LENGTH)
    previous_id: str | None = Field(default=None, alias="previousId", max_length=MAX_ID_LENGTH)
    group_id: str | None = Field(default=None, alias="groupId", max_length=MAX_ID_LENGTH)
    message_id: str | None = Field(default=None, alias="messageId", min_length=1, max_length=MAX_ID_LENGTH)
    timestamp: datetime | None = None
    original_timestamp: datetime | None = Field(default=None, alias="originalTimestamp")
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    traits: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    integrations: dict[str, Any] = Field(default_factory=dict)
    write_key: str | None = Field(
        default=None, validation_alias=AliasChoices("writeKey", "write_key"), exclude=True, repr=False
    )

    @field_validator("user_id", "anonymous_id", "previous_id", "group_id", mode="before")
    @classmethod
    def _ids_are_text(cls, value: Any) -> Any:
        # Segment clients send numeric ids; keep them as their text.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("timestamp", "original_timestamp", "sent_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    @model_validator(mode="after")
    def _required_by_type(self) -> SegmentCall:
        if self.type is SegmentCallType.ALIAS:
            if not (self.previous_id and self.user_id):
                raise ValueError("alias needs previousId and userId")
        elif not (self.user_id or self.anonymous_id):
            raise ValueError("userId or anonymousId is required")
        if self.type is SegmentCallType.TRACK and not self.event:
            raise ValueError("track needs event")
        if self.type is SegmentCallType.GROUP and not self.group_id:
            raise ValueError("group needs groupId")
        return self


# Segment's e-commerce spec: these track events carry an order or cart.
_ORDER_EVENTS = {"Order Completed": TouchpointType.ORDER, "Order Refunded": TouchpointType.REFUND}
_CART_EVENTS = {
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Checkout Step Completed",
}
_TYPE_BY_CALL = {
    SegmentCallType.IDENTIFY: TouchpointType.IDENTIFY,
    SegmentCallType.TRACK: TouchpointType.TRACK,
    SegmentCallType.PAGE: TouchpointType.PAGE,
    SegmentCallType.SCREEN: TouchpointType.SCREEN,
    SegmentCallType.GROUP: TouchpointType.GROUP,
    SegmentCallType.ALIAS: TouchpointType.ALIAS,
}


def segment_order(properties: dict[str, Any]) -> Order:
    products = items(properties.get("products"))
    return Order(
        order_id=str(properties["order_id"]) if properties.get("order_id") is not None else None,
        currency=str(properties["currency"]).upper() if properties.get("currency") else None,
        total=decimal(properties.get("total", properties.get("revenue"))),
        discount=decimal(properties.get("discount")),
        lines=[
            OrderLine(
                sku=str(p.get("sku") or p.get("product_id") or "") or None,
                name=p.get("name"),
                quantity=Decimal(1) if (quantity := decimal(p.get("quantity"))) is None else quantity,
                unit_price=decimal(p.get("price")),
            )
            for p in products
            if isinstance(p, dict)
        ],
        location_id=str(properties.get("location_id") or properties.get("store_id") or "") or None,
    )


def touchpoint_from_segment(
    call: SegmentCall, *, source: Source, received_at: datetime, fallback_id: str | None = None
) -> Touchpoint:
    """`fallback_id` names a call that carries no messageId (`intake.content_id`: the same call
    retried gets the same id, so the retry is recognised as a duplicate)."""
    device_timestamp = call.original_timestamp or call.timestamp
    traits = {**mapping(call.context.get("traits")), **call.traits}
    device = mapping(call.context.get("device"))
    external = items(call.context.get("externalIds"))
    known_types = {t.value for t in IdentifierType}
    identifiers = collect(
        [
            (IdentifierType.USER_ID, call.user_id),
            (IdentifierType.ANONYMOUS_ID, call.anonymous_id),
            # alias links the id a visitor had before (their anonymous id) to their user id; a
            # previous *user* id never merges into another one (one user_id per profile).
            (IdentifierType.ANONYMOUS_ID, call.previous_id if call.type is SegmentCallType.ALIAS else None),
            (IdentifierType.EMAIL, traits.get("email")),
            (IdentifierType.PHONE, traits.get("phone")),
            (IdentifierType.DEVICE_ID, device.get("id")),
            *[
                (IdentifierType(item["type"]), item.get("id"))
                for item in external
                if isinstance(item, dict) and item.get("type") in known_types
            ],
        ],
        default_country_code=source.default_country_code,
    )
    kind = _TYPE_BY_CALL[call.type]
    order = None
    if call.type is SegmentCallType.TRACK and call.event in _ORDER_EVENTS and source.creates_value:
        # From a client-side key an order is behaviour as reported: a plain track touchpoint.
        kind, order = _ORDER_EVENTS[call.event], segment_order(call.properties)
    elif call.type is SegmentCallType.TRACK and call.event in _CART_EVENTS:
        kind = TouchpointType.CART
    return Touchpoint(
        touchpoint_id=call.message_id or fallback_id or f"api-{uuid.uuid4()}",
        type=kind,
        source_id=source.source_id,
        channel=source.channel,
        event=call.event or call.name,
        identifiers=identifiers,
        traits=traits,
        properties=call.properties,
        context=call.context,
        order=order,
        group_id=call.group_id,
        previous_id=call.previous_id,
        occurred_at=corrected_occurrence(
            received_at=received_at, sent_at=call.sent_at, device_timestamp=device_timestamp
        ),
        received_at=received_at,
        sent_at=call.sent_at,
        original_timestamp=device_timestamp,
    )
