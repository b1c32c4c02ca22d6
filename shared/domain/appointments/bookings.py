"""Booking, rescheduling, cancelling and closing appointments.

A slot's places are a counter per (location, service, local date, local time) with the ids of the
bookings holding them, raised by one write conditional on staying within the location's capacity
and on the booking not holding a place there yet: concurrent bookers of the last place get
exactly one success, the others a `slot_taken` refusal with alternatives, and a retried booking
takes its place once. The booking is stored after its place is taken; its id is the caller's, or
follows from the request (an order line's, or the customer, service, location and time), so a
retry after a crash between the two completes it. Rescheduling moves the place in one
transaction (the old counter down, the new one up within capacity, the booking's version
checked); cancelling gives the place back in one transaction with the booking's new state.

Each change is announced as a touchpoint on the customer's profile (`Appointment Booked`,
`Appointment Rescheduled`, `Appointment Cancelled`, `Appointment Attended`, `Appointment Missed`),
named by the booking and its version, so announcing it again after a crash is one touchpoint.
Journeys start reminders and follow-ups from them; segments see them as behaviour.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.domain.appointments.schedule import (
    ID,
    Location,
    ServiceType,
    Slot,
    bookable_window,
    slot_at,
    slots_between,
)
from shared.domain.kernel.errors import ConflictError, InvalidInputError, NotFoundError, RuleRefusedError
from shared.domain.kernel.ports import Clock

Status = Literal["booked", "cancelled", "attended", "no_show"]
BookingChannel = Literal["web", "app", "wechat", "callcenter", "pos", "ecommerce", "console"]
EVENTS = {
    "booked": "Appointment Booked",
    "rescheduled": "Appointment Rescheduled",
    "cancelled": "Appointment Cancelled",
    "attended": "Appointment Attended",
    "no_show": "Appointment Missed",
}
ALTERNATIVES = 5


class SlotTakenError(ConflictError):
    code = "slot_taken"


class TooLateError(RuleRefusedError):
    code = "past_cutoff"


class SlotKey(BaseModel):
    """A slot's counter: (location, service, local date, local time)."""

    model_config = ConfigDict(frozen=True)

    location_id: str
    service_id: str
    local_day: date
    local_time: str

    @classmethod
    def of(cls, location: Location, service: ServiceType, slot: Slot) -> SlotKey:
        return cls(
            location_id=location.location_id,
            service_id=service.service_id,
            local_day=slot.local_day,
            local_time=slot.local_time,
        )


class Booking(BaseModel):
    booking_id: str
    profile_id: str
    service_id: str
    location_id: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    local_time: str  # as the customer is told it: "2026-12-05 10:00" at the location
    slot: SlotKey
    status: Status = "booked"
    channel: str
    order_id: str | None = None
    sku: str | None = None
    created_at: datetime
    updated_at: datetime
    history: list[str] = Field(default_factory=list)
    version: int = 1

    @property
    def holds_place(self) -> bool:
        return self.status == "booked"


class BookingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    booking_id: str | None = Field(default=None, pattern=ID)  # the caller's key: a retry books once
    profile_id: str = Field(min_length=1, max_length=128)
    service_id: str = Field(pattern=ID)
    location_id: str = Field(pattern=ID)
    starts_at: datetime
    channel: BookingChannel = "web"
    order_id: str | None = Field(default=None, min_length=1, max_length=128)
    sku: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("starts_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("starts_at needs a timezone offset (or Z)")
        return value.astimezone(UTC)


class AppointmentStore(Protocol):
    def services(self) -> list[ServiceType]: ...

    def service(self, service_id: str) -> ServiceType | None: ...

    def save_service(self, service: ServiceType) -> None: ...

    def locations(self) -> list[Location]: ...

    def location(self, location_id: str) -> Location | None: ...

    def save_location(self, location: Location) -> None: ...

    def booked(self, location_id: str, service_id: str, local_day: date) -> dict[str, int]:
        """Places taken per local time on that day."""
        ...

    def take(self, slot: SlotKey, booking_id: str, *, capacity: int) -> Literal["taken", "held", "full"]:
        """One place of the slot for the booking, if fewer than `capacity` are taken (`held`: the
        booking already holds one there; `full`: nothing was written)."""
        ...

    def create(self, booking: Booking) -> bool:
        """Store a new booking; False when one with this id is stored (nothing is written)."""
        ...

    def change(
        self,
        booking: Booking,
        *,
        expected_version: int,
        release: SlotKey | None,
        take: SlotKey | None,
        capacity: int = 0,
    ) -> Literal["saved", "full", "changed"]:
        """Save the booking if still at `expected_version`, giving back the place of `release` and
        taking one of `take` (within `capacity`), all or nothing."""
        ...

    def booking(self, booking_id: str) -> Booking | None: ...

    def bookings_of(self, profile_id: str) -> list[Booking]: ...


class BookingAnnouncer(Protocol):
    def knows(self, profile_id: str) -> bool:
        """The customer has a profile the booking can be recorded on."""
        ...

    def announce(self, booking: Booking, change: str, *, at: datetime) -> None:
        """Record the change as a touchpoint on the customer's profile (idempotent per booking,
        change and version)."""
        ...


def booking_id_for(request: BookingRequest, attempt: int = 0) -> str:
    """The caller's id; else one per order line (an order's installation is booked once); else
    one per customer, service, location and start (the same request twice is one booking)."""
    if request.booking_id:
        return request.booking_id
    if request.order_id and request.sku:
        parts = [request.order_id, request.sku]
    else:
        parts = [request.profile_id, request.service_id, request.location_id, request.starts_at.isoformat()]
    if attempt:  # the same slot booked again after a cancellation
        parts.append(str(attempt))
    return "bk-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


@dataclass
class Appointments:
    store: AppointmentStore
    announcer: BookingAnnouncer
    clock: Clock

    # ------------------------------------------------------------------ configuration
    def _service(self, service_id: str) -> ServiceType:
        service = self.store.service(service_id)
        if service is None:
            raise NotFoundError(f"No service {service_id!r}", details={"service_id": service_id})
        return service

    def _location(self, location_id: str) -> Location:
        location = self.store.location(location_id)
        if location is None:
            raise NotFoundError(f"No location {location_id!r}", details={"location_id": location_id})
        return location

    def _offered(self, service: ServiceType, location: Location) -> int:
        capacity = location.capacity.get(service.service_id, 0)
        if capacity < 1:
            raise NotFoundError(
                f"{location.location_id!r} does not offer {service.service_id!r}",
                details={"location_id": location.location_id, "service_id": service.service_id},
            )
        return capacity

    # ------------------------------------------------------------------ availability
    def available(self, service_id: str, location_id: str, first: date, last: date) -> list[dict[str, Any]]:
        service, location = self._service(service_id), self._location(location_id)
        capacity = self._offered(service, location)
        try:
            slots = slots_between(service, location, first, last, now=self.clock.now())
        except ValueError as error:
            raise InvalidInputError(str(error)) from error
        taken: dict[date, dict[str, int]] = {}
        answer = []
        for slot in slots:
            if slot.local_day not in taken:
                taken[slot.local_day] = self.store.booked(location_id, service_id, slot.local_day)
            remaining = capacity - taken[slot.local_day].get(slot.local_time, 0)
            if remaining > 0:
                answer.append(_slot_view(slot, location, remaining))
        return answer

    def _alternatives(
        self, service: ServiceType, location: Location, after: datetime
    ) -> list[dict[str, Any]]:
        day = location.local(after).date()
        found = self.available(service.service_id, location.location_id, day, day + timedelta(days=13))

        def nearness(slot: dict[str, Any]) -> tuple[float, bool]:  # closest first; later on a tie
            gap = (datetime.fromisoformat(slot["starts_at"]) - after).total_seconds()
            return abs(gap), gap < 0

        return sorted((s for s in found if s["starts_at"] != after.isoformat()), key=nearness)[:ALTERNATIVES]

    def _check_slot(self, service: ServiceType, location: Location, starts_at: datetime) -> Slot:
        slot = slot_at(service, location, starts_at)
        if slot is None:
            raise InvalidInputError(
                "starts_at is not a slot of this service at this location (opening hours, closures, "
                "duration and buffer decide the slots: GET /appointments/slots lists them)",
                details={"starts_at": starts_at.isoformat()},
            )
        earliest, latest = bookable_window(service, self.clock.now())
        if not earliest <= slot.starts_at <= latest:
            raise RuleRefusedError(
                "This slot is not bookable now (too soon, past, or beyond the booking horizon)",
                details={"earliest": earliest.isoformat(), "latest": latest.isoformat()},
            )
        return slot

    # ------------------------------------------------------------------ booking
    def book(self, request: BookingRequest) -> tuple[Booking, bool]:
        """The booking, and whether this call made it (False: the same booking was made before)."""
        service, location = self._service(request.service_id), self._location(request.location_id)
        capacity = self._offered(service, location)
        if request.sku is not None and service.skus and request.sku not in service.skus:
            raise InvalidInputError(
                f"{request.sku!r} is not a product {service.service_id!r} is booked for",
                details={"skus": service.skus},
            )
        if not self.announcer.knows(request.profile_id):
            raise NotFoundError(
                f"No customer {request.profile_id!r}", details={"profile_id": request.profile_id}
            )
        booking_id = booking_id_for(request)
        for attempt in range(20):
            booking_id = booking_id_for(request, attempt)
            existing = self.store.booking(booking_id)
            if existing is None or existing.status != "cancelled" or request.booking_id:
                break
        if existing is not None:
            return self._same_again(existing, request)
        slot = self._check_slot(service, location, request.starts_at)
        now = self.clock.now()
        booking = Booking(
            booking_id=booking_id,
            profile_id=request.profile_id,
            service_id=service.service_id,
            location_id=location.location_id,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            timezone=location.timezone,
            local_time=slot.local_label(location),
            slot=SlotKey.of(location, service, slot),
            channel=request.channel,
            order_id=request.order_id,
            sku=request.sku,
            created_at=now,
            updated_at=now,
            history=[f"booked:{now.isoformat()}:{request.channel}"],
        )
        if self.store.take(booking.slot, booking_id, capacity=capacity) == "full":
            raise SlotTakenError(
                "This slot has just been taken",
                details={"alternatives": self._alternatives(service, location, slot.starts_at)},
            )
        if not self.store.create(booking):  # the same booking, made by a concurrent retry
            stored = self.store.booking(booking_id)
            if stored is None:
                raise ConflictError("The booking is being written; retry")
            return self._same_again(stored, request)
        self.announcer.announce(booking, "booked", at=now)
        return booking, True

    def _same_again(self, existing: Booking, request: BookingRequest) -> tuple[Booking, bool]:
        same = (
            existing.profile_id == request.profile_id
            and existing.service_id == request.service_id
            and existing.location_id == request.location_id
        )
        if not same:
            raise ConflictError(
                "A different booking has this id", details={"booking_id": existing.booking_id}
            )
        # A retry after a crash between the write and the announcement completes the announcement
        # (the touchpoint is named by booking, change and version: one however often it is sent).
        self.announcer.announce(existing, _last_change(existing), at=existing.updated_at)
        return existing, False

    def get(self, booking_id: str) -> Booking:
        booking = self.store.booking(booking_id)
        if booking is None:
            raise NotFoundError(f"No booking {booking_id!r}", details={"booking_id": booking_id})
        return booking

    def _check_cutoff(self, booking: Booking, service: ServiceType, *, override: bool) -> None:
        if override:
            return
        cutoff = booking.starts_at - timedelta(hours=service.cutoff_hours)
        if self.clock.now() > cutoff:
            raise TooLateError(
                f"Changes close {service.cutoff_hours:g} hours before the appointment; call the location",
                details={"cutoff": cutoff.isoformat()},
            )

    def _open(self, booking_id: str) -> tuple[Booking, ServiceType, Location]:
        booking = self.get(booking_id)
        if booking.status != "booked":
            raise RuleRefusedError(
                f"The booking is {booking.status}",
                details={"booking_id": booking_id, "status": booking.status},
            )
        return booking, self._service(booking.service_id), self._location(booking.location_id)

    def reschedule(self, booking_id: str, starts_at: datetime, *, override: bool = False) -> Booking:
        booking, service, location = self._open(booking_id)
        self._check_cutoff(booking, service, override=override)
        slot = self._check_slot(service, location, starts_at.astimezone(UTC))
        key = SlotKey.of(location, service, slot)
        if key == booking.slot:
            return booking
        now = self.clock.now()
        moved = booking.model_copy(
            update={
                "starts_at": slot.starts_at,
                "ends_at": slot.ends_at,
                "local_time": slot.local_label(location),
                "slot": key,
                "updated_at": now,
                "history": [*booking.history, f"rescheduled:{now.isoformat()}:{booking.local_time}"],
                "version": booking.version + 1,
            }
        )
        outcome = self.store.change(
            moved,
            expected_version=booking.version,
            release=booking.slot,
            take=key,
            capacity=self._offered(service, location),
        )
        if outcome == "full":
            raise SlotTakenError(
                "This slot has just been taken",
                details={"alternatives": self._alternatives(service, location, slot.starts_at)},
            )
        if outcome == "changed":
            raise ConflictError("The booking changed meanwhile; read it again")
        self.announcer.announce(moved, "rescheduled", at=now)
        return moved

    def cancel(self, booking_id: str, *, override: bool = False) -> Booking:
        booking, service, _ = self._open(booking_id)
        self._check_cutoff(booking, service, override=override)
        return self._close(booking, "cancelled", release=True)

    def record(self, booking_id: str, outcome: Literal["attended", "no_show"]) -> Booking:
        """The location's system (signed webhook) or the console records how it went; recording
        the same outcome again changes nothing."""
        booking = self.get(booking_id)
        if booking.status == outcome:
            return booking
        if booking.status != "booked":
            raise RuleRefusedError(
                f"The booking is {booking.status}",
                details={"booking_id": booking_id, "status": booking.status},
            )
        if self.clock.now() < booking.starts_at:
            raise RuleRefusedError(
                "The appointment has not started yet", details={"starts_at": booking.starts_at.isoformat()}
            )
        return self._close(booking, outcome, release=False)

    def _close(self, booking: Booking, status: Status, *, release: bool) -> Booking:
        now = self.clock.now()
        closed = booking.model_copy(
            update={
                "status": status,
                "updated_at": now,
                "history": [*booking.history, f"{status}:{now.isoformat()}"],
                "version": booking.version + 1,
            }
        )
        outcome = self.store.change(
            closed, expected_version=booking.version, release=booking.slot if release else None, take=None
        )
        if outcome != "saved":
            raise ConflictError("The booking changed meanwhile; read it again")
        self.announcer.announce(closed, status, at=now)
        return closed


def _last_change(booking: Booking) -> str:
    if booking.status != "booked":
        return booking.status
    return "rescheduled" if booking.version > 1 else "booked"


def _slot_view(slot: Slot, location: Location, remaining: int) -> dict[str, Any]:
    return {
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
        "local": slot.local_label(location),
        "timezone": location.timezone,
        "remaining": remaining,
    }


def announcement(booking: Booking, change: str) -> dict[str, Any]:
    """The touchpoint's event and properties for a change of a booking."""
    return {
        "event": EVENTS[change],
        "touchpoint_id": f"appointment:{booking.booking_id}:{booking.version}:{change}",
        "properties": {
            "booking_id": booking.booking_id,
            "version": booking.version,
            "service_id": booking.service_id,
            "sku": booking.service_id,  # segment rules name it like a product: "did ...|installation"
            "location_id": booking.location_id,
            "starts_at": booking.starts_at.isoformat(),
            "local_time": booking.local_time,
            "timezone": booking.timezone,
            "status": booking.status,
            **({"order_id": booking.order_id} if booking.order_id else {}),
        },
    }
