"""Service appointments: service types and locations (admin), available slots (any key: they name
nobody), bookings from every channel (the admin key, a server-side channel's key, or the member's
own token with `member:book`), and how an appointment went (the console with the admin key, or
the location's system through a Standard Webhooks-signed webhook)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from functions.api.access import member_access, member_claims, require_admin
from functions.api.errors import BEARER_CHALLENGE, http_errors
from functions.api.request_body import json_object
from functions.api.routes.sources import ADMIN_BODY_BYTES
from shared import wiring
from shared.domain.appointments.bookings import Booking, BookingRequest
from shared.domain.appointments.schedule import ID, Location, ServiceType
from shared.domain.ingest.credentials import basic_auth_username
from shared.domain.ingest.intake import authenticate_source
from shared.domain.ingest.signatures import verify_standard_webhooks
from shared.domain.ingest.touchpoints import SourceKind
from shared.domain.ingest.webhooks import registered_source
from shared.domain.kernel.errors import InvalidInputError
from shared.wiring import appointments as appointments_wiring
from shared.wiring import engagement as engagement_wiring
from shared.wiring import ingest as ingest_wiring

routes = Blueprint(__name__)
BOOKING_BODY_BYTES = 8 * 1024
SIGNATURE_CHALLENGE = 'Signature realm="omnireach-webhooks"'


class Move(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: datetime


class Outcome(BaseModel):
    """The location's system: `{"type": "appointment.attended" | "appointment.no_show",
    "data": {"booking_id"}}`."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["appointment.attended", "appointment.no_show"]
    timestamp: datetime | None = None
    data: dict[str, str] = Field(default_factory=dict)


def _authorization() -> str | None:
    return routes.current_request.headers.get("authorization")


def _body(max_bytes: int = ADMIN_BODY_BYTES) -> dict[str, Any]:
    return json_object(routes.current_request.raw_body or b"", max_bytes=max_bytes)


def _any_caller() -> None:
    """Slots, services and locations name nobody and move nothing: any valid key reads them."""
    authorization = _authorization()
    if authorization and authorization.strip().lower().startswith("basic "):
        authenticate_source(basic_auth_username(authorization), registry=ingest_wiring.get_source_registry())
    elif member_claims(authorization) is None:
        require_admin(authorization)


def _id(value: str, name: str) -> str:
    if not re.fullmatch(ID, value):
        raise InvalidInputError(f"{name}: {value!r} is not a valid id")
    return value


def _view(booking: Booking) -> dict[str, Any]:
    return booking.model_dump(mode="json", exclude={"slot"})


def _may_change(booking_id: str) -> tuple[Booking, bool]:
    """The booking and whether the caller may bypass the cut-off (the admin key only)."""
    booking = appointments_wiring.get_appointments().get(_id(booking_id, "booking_id"))
    # a member token acts on its own member's bookings only (member_access refuses the others)
    access = member_access(_authorization(), booking.profile_id, scope="member:book")
    return booking, access.is_admin


# ------------------------------------------------------------------ services and locations
@routes.route("/appointment-services/{service_id}", methods=["PUT"])
@http_errors(challenge=BEARER_CHALLENGE)
def put_service(service_id: str) -> dict[str, Any]:
    require_admin(_authorization())
    service = ServiceType.model_validate({**_body(), "service_id": _id(service_id, "service_id")})
    appointments_wiring.get_appointment_store().save_service(service)
    return service.model_dump(mode="json")


@routes.route("/appointment-services", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_services() -> dict[str, Any]:
    _any_caller()
    return {
        "services": [
            s.model_dump(mode="json") for s in appointments_wiring.get_appointment_store().services()
        ]
    }


@routes.route("/appointment-locations/{location_id}", methods=["PUT"])
@http_errors(challenge=BEARER_CHALLENGE)
def put_location(location_id: str) -> dict[str, Any]:
    require_admin(_authorization())
    location = Location.model_validate({**_body(), "location_id": _id(location_id, "location_id")})
    appointments_wiring.get_appointment_store().save_location(location)
    return location.model_dump(mode="json")


@routes.route("/appointment-locations", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_locations() -> dict[str, Any]:
    _any_caller()
    return {
        "locations": [
            place.model_dump(mode="json") for place in appointments_wiring.get_appointment_store().locations()
        ]
    }


# ------------------------------------------------------------------ slots and bookings
def _day(params: dict[str, str], name: str) -> date:
    text = params.get(name)
    if not text:
        raise InvalidInputError(f"{name} (YYYY-MM-DD, the location's local date) is required")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise InvalidInputError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from error


@routes.route("/appointments/slots", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_slots() -> dict[str, Any]:
    _any_caller()
    params: dict[str, str] = dict(routes.current_request.query_params or {})
    service_id = _id(params.get("service_id", ""), "service_id")
    location_id = _id(params.get("location_id", ""), "location_id")
    first = _day(params, "from")
    last = _day(params, "to") if params.get("to") else first
    slots = appointments_wiring.get_appointments().available(service_id, location_id, first, last)
    return {"service_id": service_id, "location_id": location_id, "slots": slots}


@routes.route("/appointments", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_booking() -> Response:
    body = _body(BOOKING_BODY_BYTES)
    claims = member_claims(_authorization())
    if claims is not None:  # a member books for themself: the token names them
        access = member_access(_authorization(), "me", scope="member:book")
        body = {**body, "profile_id": access.profile_id}
    else:
        member_access(_authorization(), str(body.get("profile_id") or ""), scope="member:book")
        if body.get("channel") == "console":
            require_admin(_authorization())
    booking, made = appointments_wiring.get_appointments().book(BookingRequest.model_validate(body))
    return Response(body=_view(booking), status_code=201 if made else 200)


@routes.route("/appointments", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_bookings() -> dict[str, Any]:
    params: dict[str, str] = dict(routes.current_request.query_params or {})
    profile_id = params.get("profile_id") or "me"
    access = member_access(_authorization(), profile_id, scope="member:read")
    if access.profile_id == "me":
        raise InvalidInputError("profile_id is required with this key")
    bookings = appointments_wiring.get_appointment_store().bookings_of(access.profile_id)
    return {"profile_id": access.profile_id, "appointments": [_view(b) for b in bookings]}


@routes.route("/appointments/{booking_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_booking(booking_id: str) -> dict[str, Any]:
    """The booking, and what its journeys will do next (a reminder's time, a follow-up's)."""
    booking, _ = _may_change(booking_id)
    planned = [
        {"journey_id": instance.journey_id, "next_at": instance.wake_at.isoformat()}
        for instance in engagement_wiring.get_engagement().instances(booking.profile_id)
        if instance.context.get("booking_id") == booking.booking_id and instance.status == "waiting"
    ]
    return {**_view(booking), "journeys": planned}


@routes.route("/appointments/{booking_id}/reschedule", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_reschedule(booking_id: str) -> dict[str, Any]:
    booking, admin = _may_change(booking_id)
    move = Move.model_validate(_body(BOOKING_BODY_BYTES))
    if move.starts_at.tzinfo is None:
        raise InvalidInputError("starts_at needs a timezone offset (or Z)")
    moved = appointments_wiring.get_appointments().reschedule(
        booking.booking_id, move.starts_at, override=admin
    )
    return _view(moved)


@routes.route("/appointments/{booking_id}/cancel", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_cancel(booking_id: str) -> dict[str, Any]:
    booking, admin = _may_change(booking_id)
    return _view(appointments_wiring.get_appointments().cancel(booking.booking_id, override=admin))


@routes.route("/appointments/{booking_id}/attended", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_attended(booking_id: str) -> dict[str, Any]:
    require_admin(_authorization())
    return _view(appointments_wiring.get_appointments().record(_id(booking_id, "booking_id"), "attended"))


@routes.route("/appointments/{booking_id}/no-show", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_no_show(booking_id: str) -> dict[str, Any]:
    require_admin(_authorization())
    return _view(appointments_wiring.get_appointments().record(_id(booking_id, "booking_id"), "no_show"))


@routes.route("/appointments/outcomes/{source_id}", methods=["POST"], content_types=["application/json"])
@http_errors(challenge=SIGNATURE_CHALLENGE)
def post_outcome_webhook(source_id: str) -> dict[str, Any]:
    """The location's system says how an appointment went, signed as Standard Webhooks sign."""
    raw = routes.current_request.raw_body or b""
    raw_body = raw if isinstance(raw, bytes) else raw.encode()
    _source, secrets = registered_source(
        source_id, SourceKind.STANDARD_WEBHOOKS, registry=ingest_wiring.get_source_registry()
    )
    verify_standard_webhooks(
        raw_body, dict(routes.current_request.headers), secrets.signing, now=wiring.get_clock().now()
    )
    outcome = Outcome.model_validate(json_object(raw_body, max_bytes=BOOKING_BODY_BYTES))
    booking_id = _id(outcome.data.get("booking_id", ""), "data.booking_id")
    booking = appointments_wiring.get_appointments().record(
        booking_id, "attended" if outcome.type == "appointment.attended" else "no_show"
    )
    return {"received": True, "booking_id": booking.booking_id, "status": booking.status}
