"""Inventory and pricing: locations, sales channels and their rules, stock counts and adjustments,
availability per location and per channel, reservations (checkout and pick-up in store), the
movement ledger, the price book, promotions, and the reconciliation reports.

Reservation and availability routes take the admin key or a channel key (the write key of the
source a sales channel names as its `source_id`, HTTP Basic); everything else is admin only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalice.app import Blueprint, Response
from pydantic import ValidationError

from functions.api.access import acts_for, require_admin, require_channel_reader_or_admin, sales_caller
from functions.api.errors import BEARER_CHALLENGE, http_errors
from functions.api.request_body import json_object
from functions.api.routes.sources import ADMIN_BODY_BYTES
from shared import wiring
from shared.domain.commerce.pricing import PriceChange, PriceEntry, Promotion, effective_price
from shared.domain.commerce.sales_channels import (
    ChannelChange,
    Location,
    LocationChange,
    SalesChannel,
    new_signing_secret,
)
from shared.domain.commerce.stock import (
    ID_PATTERN,
    SKU_PATTERN,
    AdjustmentRequest,
    CommitRequest,
    CountRequest,
    ReservationRequest,
    StockSettingsChange,
)
from shared.domain.kernel.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from shared.wiring import commerce as commerce_wiring

routes = Blueprint(__name__)
MAX_PAGE = 200


def _body() -> dict[str, Any]:
    return json_object(routes.current_request.raw_body or b"", max_bytes=ADMIN_BODY_BYTES)


def _authorization() -> str | None:
    return routes.current_request.headers.get("authorization")


def _admin() -> None:
    require_admin(_authorization())


def _params() -> dict[str, str]:
    return dict(routes.current_request.query_params or {})


def _check(value: str, pattern: str, name: str) -> str:
    import re

    if not re.fullmatch(pattern, value):
        raise InvalidInputError(f"{name}: {value!r} is not a valid {name}")
    return value


def _limit(params: dict[str, str], default: int = 50) -> int:
    try:
        limit = int(params.get("limit", str(default)))
    except ValueError as error:
        raise InvalidInputError("limit is a whole number") from error
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit: between 1 and {MAX_PAGE}")
    return limit


# ------------------------------------------------------------------ locations and channels
@routes.route("/inventory/locations/{location_id}", methods=["PUT"])
@http_errors(challenge=BEARER_CHALLENGE)
def put_location(location_id: str) -> dict[str, Any]:
    _admin()
    _check(location_id, ID_PATTERN, "location_id")
    change = LocationChange.model_validate(_body())
    location = Location(location_id=location_id, **change.model_dump())
    commerce_wiring.get_catalog().save_location(location)
    return location.model_dump(mode="json")


@routes.route("/inventory/locations", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_locations() -> dict[str, Any]:
    _admin()
    return {
        "locations": [
            location.model_dump(mode="json") for location in commerce_wiring.get_catalog().locations()
        ]
    }


@routes.route("/inventory/channels/{channel_id}", methods=["PUT"])
@http_errors(challenge=BEARER_CHALLENGE)
def put_channel(channel_id: str) -> dict[str, Any]:
    _admin()
    _check(channel_id, ID_PATTERN, "channel_id")
    change = ChannelChange.model_validate(_body())
    catalog = commerce_wiring.get_catalog()
    unknown = [location_id for location_id in change.locations if catalog.location(location_id) is None]
    if unknown:
        raise InvalidInputError("locations: create these locations first", details={"unknown": unknown})
    existing = catalog.channel(channel_id)
    made_secret = existing is None or change.rotate_secret or not existing.signing_secret
    channel = SalesChannel(
        channel_id=channel_id,
        **change.model_dump(mode="json", exclude={"rotate_secret", "rules"}),
        rules=change.rules,
        signing_secret=new_signing_secret() if made_secret else existing.signing_secret,  # type: ignore[union-attr]
        updated_at=wiring.get_clock().now(),
    )
    catalog.save_channel(channel)
    view = channel.public()
    if made_secret:
        view["signing_secret"] = channel.signing_secret  # shown once; pushes are signed with it
    return view


@routes.route("/inventory/channels", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_channels() -> dict[str, Any]:
    _admin()
    return {"channels": [channel.public() for channel in commerce_wiring.get_catalog().channels()]}


# ------------------------------------------------------------------ stock
def _sku_and_location(sku: str, location_id: str) -> None:
    _check(sku, SKU_PATTERN, "sku")
    _check(location_id, ID_PATTERN, "location_id")


@routes.route("/inventory/stock/{sku}/{location_id}", methods=["PUT"])
@http_errors(challenge=BEARER_CHALLENGE)
def put_count(sku: str, location_id: str) -> dict[str, Any]:
    _admin()
    _sku_and_location(sku, location_id)
    count = CountRequest.model_validate(_body())
    if count.counted_at is not None and count.counted_at.tzinfo is None:
        raise InvalidInputError("counted_at needs a timezone offset")
    inventory = commerce_wiring.get_inventory()
    movement = inventory.count(
        sku,
        location_id,
        count.on_hand,
        op_id=f"count:{count.request_id}",
        source=count.source,
        expected_on_hand=count.expected_on_hand,
        counted_at=count.counted_at,
    )
    level = inventory.level(sku, location_id)
    return {
        "applied": movement is not None,
        "movement": movement.model_dump(mode="json") if movement else None,
        "level": level.model_dump(mode="json") if level else None,
    }


@routes.route("/inventory/stock/{sku}/{location_id}/adjustments", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_adjustment(sku: str, location_id: str) -> Response:
    _admin()
    _sku_and_location(sku, location_id)
    change = AdjustmentRequest.model_validate(_body())
    inventory = commerce_wiring.get_inventory()
    movement = inventory.adjust(
        sku,
        location_id,
        change.quantity,
        op_id=f"adjust:{change.request_id}",
        reason=change.reason,
        source=change.source,
        reference=change.reference,
    )
    level = inventory.level(sku, location_id)
    return Response(
        body={
            "movement": movement.model_dump(mode="json"),
            "level": level.model_dump(mode="json") if level else None,
        },
        status_code=201,
    )


@routes.route("/inventory/stock/{sku}/{location_id}/settings", methods=["PUT"])
@http_errors(challenge=BEARER_CHALLENGE)
def put_stock_settings(sku: str, location_id: str) -> dict[str, Any]:
    _admin()
    _sku_and_location(sku, location_id)
    change = StockSettingsChange.model_validate(_body())
    settings = commerce_wiring.get_inventory().configure(
        sku, location_id, safety_stock=change.safety_stock, incoming=change.incoming, buckets=change.buckets
    )
    return settings.model_dump(mode="json")


@routes.route("/inventory/stock/{sku}/{location_id}/movements", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_movements(sku: str, location_id: str) -> dict[str, Any]:
    _admin()
    _sku_and_location(sku, location_id)
    params = _params()
    movements, cursor = commerce_wiring.get_catalog().movements(
        sku, location_id, before=params.get("before"), limit=_limit(params)
    )
    return {"movements": [movement.model_dump(mode="json") for movement in movements], "next_before": cursor}


@routes.route("/inventory/availability/{sku}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_availability(sku: str) -> dict[str, Any]:
    """Per location (on hand, reserved, available, sellable) and per channel (published, price,
    and what was last pushed to it, when).
    `?channel=` limits it to one channel (and lets that channel's key ask)."""
    _check(sku, SKU_PATTERN, "sku")
    params = _params()
    catalog = commerce_wiring.get_catalog()
    channel_id = params.get("channel")
    if channel_id is not None:
        require_channel_reader_or_admin(_authorization(), channel_id)
        channel = catalog.channel(channel_id)
        if channel is None:
            raise NotFoundError(f"No channel {channel_id!r}")
        channels = [channel]
    else:
        _admin()
        channels = catalog.channels()
    sync = commerce_wiring.get_channel_sync()
    location_ids = sorted({location_id for channel in channels for location_id in channel.locations})
    if channel_id is None:
        location_ids = sorted(set(location_ids) | {location.location_id for location in catalog.locations()})
    levels = [sync.inventory.level(sku, location_id) for location_id in location_ids]
    pushed = catalog.last_pushes([channel.channel_id for channel in channels], sku)

    def last_push(channel_id: str) -> dict[str, Any] | None:
        state = pushed.get(channel_id)
        if state is None or state.sent_at is None:
            return None
        price = None if state.price is None else str(state.price)
        return {"available": state.available, "price": price, "sent_at": state.sent_at.isoformat()}

    return {
        "sku": sku,
        "locations": [level.model_dump(mode="json") for level in levels if level is not None],
        "channels": [
            sync.view(channel, sku).model_dump(mode="json", exclude={"changed_at"})
            | {"last_push": last_push(channel.channel_id)}
            for channel in channels
        ],
    }


# ------------------------------------------------------------------ reservations
@routes.route("/inventory/reservations", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_reservation() -> Response:
    caller = sales_caller(_authorization())  # who asks comes before what they send
    body = _body()
    channel_id = body.get("channel_id")
    if not isinstance(channel_id, str):
        raise InvalidInputError("channel_id: name the sales channel reserving")
    if not acts_for(caller, channel_id):
        raise PermissionDeniedError(f"This key does not act for channel {channel_id!r}")
    request = ReservationRequest.model_validate(body)
    if commerce_wiring.get_catalog().channel(request.channel_id) is None:
        raise NotFoundError(f"No channel {request.channel_id!r}")
    inventory = commerce_wiring.get_inventory()
    reservation, replayed = inventory.reserve(request)
    return Response(body=reservation.view(inventory.clock.now()), status_code=200 if replayed else 201)


def _reservation_for_caller(reservation_id: str) -> Any:
    """Authenticated first; another channel's reservation answers as an unknown one does, so
    neither a stranger nor another channel learns which ids exist."""
    caller = sales_caller(_authorization())
    _check(reservation_id, r"^r[0-9a-f]{24}$", "reservation_id")
    inventory = commerce_wiring.get_inventory()
    reservation = inventory.get(reservation_id)
    if not acts_for(caller, reservation.channel_id):
        raise NotFoundError(f"No reservation {reservation_id!r}")
    return inventory, reservation


@routes.route("/inventory/reservations/{reservation_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_reservation(reservation_id: str) -> dict[str, Any]:
    inventory, reservation = _reservation_for_caller(reservation_id)
    return reservation.view(inventory.clock.now())  # type: ignore[no-any-return]


@routes.route("/inventory/reservations/{reservation_id}/commit", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_commit(reservation_id: str) -> dict[str, Any]:
    inventory, _ = _reservation_for_caller(reservation_id)
    request = CommitRequest.model_validate(_body())
    return inventory.commit(reservation_id, order_id=request.order_id).view(inventory.clock.now())  # type: ignore[no-any-return]


@routes.route("/inventory/reservations/{reservation_id}/release", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_release(reservation_id: str) -> dict[str, Any]:
    inventory, _ = _reservation_for_caller(reservation_id)
    _body()
    return inventory.release(reservation_id, reason="released").view(inventory.clock.now())  # type: ignore[no-any-return]


@routes.route("/inventory/reconciliation", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_reconciliation() -> dict[str, Any]:
    _admin()
    return {"reports": commerce_wiring.get_catalog().reports(limit=_limit(_params(), default=10))}


# ------------------------------------------------------------------ prices and promotions
@routes.route("/prices/{sku}", methods=["PUT"])
@http_errors(challenge=BEARER_CHALLENGE)
def put_price(sku: str) -> dict[str, Any]:
    _admin()
    _check(sku, SKU_PATTERN, "sku")
    change = PriceChange.model_validate(_body())
    entry = PriceEntry(sku=sku, **change.model_dump(), updated_at=wiring.get_clock().now())
    commerce_wiring.get_catalog().save_entry(entry)
    commerce_wiring.get_sync_fan_out().price_changed([sku])
    return entry.model_dump(mode="json")


@routes.route("/prices", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def list_prices() -> dict[str, Any]:
    """Every priced SKU (the catalog's products), a page at a time: `?limit=` (1-100, default 50),
    `?after=` (the `next` of the page before)."""
    params = _params()
    _admin()
    raw_limit = params.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise InvalidInputError("limit must be 1 to 100", details={"limit": raw_limit[:20]})
    after = params.get("after")
    if after is not None:
        _check(after, SKU_PATTERN, "after")
    entries, following = commerce_wiring.get_catalog().price_entries(after=after, limit=int(raw_limit))
    return {"prices": [entry.model_dump(mode="json") for entry in entries], "next": following}


@routes.route("/prices/{sku}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_price(sku: str) -> dict[str, Any]:
    """The effective price on every channel (or `?channel=`), now or `?at=` (ISO time)."""
    _check(sku, SKU_PATTERN, "sku")
    params = _params()
    catalog = commerce_wiring.get_catalog()
    channel_id = params.get("channel")
    if channel_id is not None:
        require_channel_reader_or_admin(_authorization(), channel_id)
        channel_ids = [channel_id]
    else:
        _admin()
        channel_ids = [channel.channel_id for channel in catalog.channels()]
    at = wiring.get_clock().now()
    if "at" in params:
        try:
            at = datetime.fromisoformat(params["at"])
        except ValueError as error:
            raise InvalidInputError("at: an ISO 8601 time with an offset") from error
        if at.tzinfo is None:
            raise InvalidInputError("at: an ISO 8601 time with an offset")
    entry = catalog.entry(sku)
    if entry is None:
        raise NotFoundError(f"No price for {sku!r}")
    promotions = catalog.promotions()
    return {
        "sku": sku,
        "at": at.isoformat(),
        "base": str(entry.base),
        "currency": entry.currency,
        "channels": [
            effective_price(entry, promotions, channel_id, at).model_dump(mode="json")
            for channel_id in channel_ids
        ],
    }


@routes.route("/promotions/{promotion_id}", methods=["PUT"])
@http_errors(challenge=BEARER_CHALLENGE)
def put_promotion(promotion_id: str) -> dict[str, Any]:
    _admin()
    _check(promotion_id, ID_PATTERN, "promotion_id")
    body = _body()
    try:
        promotion = Promotion.model_validate({**body, "promotion_id": promotion_id})
    except ValidationError:
        raise
    catalog = commerce_wiring.get_catalog()
    before = next((p for p in catalog.promotions() if p.promotion_id == promotion_id), None)
    catalog.save_promotion(promotion)
    _push_if_live(promotion, before)
    return promotion.model_dump(mode="json")


def _push_if_live(promotion: Promotion | None, before: Promotion | None) -> None:
    """A change to a promotion that is running (or was) reprices now; future ones wait for their start."""
    from shared.domain.commerce.pricing import covered_skus

    now = wiring.get_clock().now()
    live = [p for p in (promotion, before) if p is not None and p.starts_at <= now]
    if live:
        skus = covered_skus(commerce_wiring.get_catalog(), live)
        if skus:
            commerce_wiring.get_sync_fan_out().price_changed(skus)


@routes.route("/promotions", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_promotions() -> dict[str, Any]:
    _admin()
    return {"promotions": [p.model_dump(mode="json") for p in commerce_wiring.get_catalog().promotions()]}


@routes.route("/promotions/{promotion_id}", methods=["DELETE"])
@http_errors(challenge=BEARER_CHALLENGE)
def delete_promotion(promotion_id: str) -> Response:
    _admin()
    _check(promotion_id, ID_PATTERN, "promotion_id")
    catalog = commerce_wiring.get_catalog()
    before = next((p for p in catalog.promotions() if p.promotion_id == promotion_id), None)
    if before is None or not catalog.delete_promotion(promotion_id):
        raise NotFoundError(f"No promotion {promotion_id!r}")
    _push_if_live(None, before)
    return Response(body="", status_code=204)
