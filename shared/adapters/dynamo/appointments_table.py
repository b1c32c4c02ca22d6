"""Appointments in the engagement table.

| entity        | pk                                      | sk              | notes                        |
|---------------|-----------------------------------------|-----------------|------------------------------|
| service type  | APPT                                    | SERVICE#<id>    | body                         |
| location      | APPT                                    | LOCATION#<id>   | body                         |
| slot's places | SLOTS#<location>#<service>#<local date> | <local HH:MM>   | booked (count), holders (the |
|               |                                         |                 | booking ids holding them)    |
| booking       | BOOKING#<booking_id>                    | BOOKING         | body; version; profile_id    |
| per customer  | PERSON#<profile_id>                     | BOOKING#<id>    | the customer's bookings      |

A place is taken by one UpdateItem whose condition states the invariant (`booked < capacity`)
and that the booking holds no place there yet; it is given back by one whose condition is that
the booking holds it. A booking's change of slot or state and the places it moves are one
TransactWriteItems. Slot items live until a day after the slot (TTL).
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from shared.adapters.dynamo.low_level import LowLevelTable, condition_failed, dump, epoch
from shared.domain.appointments.bookings import Booking, SlotKey
from shared.domain.appointments.schedule import Location, ServiceType
from shared.domain.kernel.errors import DependencyUnavailableError

SLOT_KEPT_AFTER = timedelta(days=2)


def _slot_pk(location_id: str, service_id: str, local_day: date) -> str:
    return f"SLOTS#{location_id}#{service_id}#{local_day.isoformat()}"


def _slot_key(slot: SlotKey) -> dict[str, str]:
    return {"pk": _slot_pk(slot.location_id, slot.service_id, slot.local_day), "sk": slot.local_time}


class DynamoAppointments(LowLevelTable):
    """Implements AppointmentStore."""

    name = "engagement"

    # ------------------------------------------------------------ configuration
    def services(self) -> list[ServiceType]:
        items = self._query_all("APPT", start="SERVICE#", end="SERVICE#~", consistent=True)
        return [ServiceType.model_validate_json(item["body"]) for item in items]

    def service(self, service_id: str) -> ServiceType | None:
        def load_service() -> ServiceType | None:
            item = self._get("APPT", f"SERVICE#{service_id}")
            return ServiceType.model_validate_json(item["body"]) if item else None

        return self._cached(("service", service_id), load_service)

    def save_service(self, service: ServiceType) -> None:
        self._put({"pk": "APPT", "sk": f"SERVICE#{service.service_id}", "body": service.model_dump_json()})
        self._cache.pop(("service", service.service_id), None)

    def locations(self) -> list[Location]:
        items = self._query_all("APPT", start="LOCATION#", end="LOCATION#~", consistent=True)
        return [Location.model_validate_json(item["body"]) for item in items]

    def location(self, location_id: str) -> Location | None:
        def load_location() -> Location | None:
            item = self._get("APPT", f"LOCATION#{location_id}")
            return Location.model_validate_json(item["body"]) if item else None

        return self._cached(("location", location_id), load_location)

    def save_location(self, location: Location) -> None:
        self._put(
            {"pk": "APPT", "sk": f"LOCATION#{location.location_id}", "body": location.model_dump_json()}
        )
        self._cache.pop(("location", location.location_id), None)

    # ------------------------------------------------------------ places
    def booked(self, location_id: str, service_id: str, local_day: date) -> dict[str, int]:
        items = self._query_all(_slot_pk(location_id, service_id, local_day), consistent=True)
        return {str(item["sk"]): int(item.get("booked", 0)) for item in items}

    def _take_update(self, slot: SlotKey, booking_id: str, capacity: int) -> dict[str, Any]:
        day_after = datetime.combine(slot.local_day, time(), tzinfo=UTC) + timedelta(days=1)
        return {
            "Key": dump(_slot_key(slot)),
            "UpdateExpression": "ADD booked :one, holders :ids SET expires_at = :expires",
            "ConditionExpression": (
                "(attribute_not_exists(booked) OR booked < :capacity) "
                "AND (attribute_not_exists(holders) OR NOT contains(holders, :id))"
            ),
            "ExpressionAttributeValues": dump(
                {
                    ":one": 1,
                    ":ids": {booking_id},
                    ":id": booking_id,
                    ":capacity": capacity,
                    ":expires": epoch(day_after + SLOT_KEPT_AFTER),
                }
            ),
        }

    @staticmethod
    def _release_update(slot: SlotKey, booking_id: str) -> dict[str, Any]:
        return {
            "Key": dump(_slot_key(slot)),
            "UpdateExpression": "ADD booked :minus_one DELETE holders :ids",
            "ConditionExpression": "contains(holders, :id)",
            "ExpressionAttributeValues": dump({":minus_one": -1, ":ids": {booking_id}, ":id": booking_id}),
        }

    def take(self, slot: SlotKey, booking_id: str, *, capacity: int) -> Literal["taken", "held", "full"]:
        try:
            self._call("update_item", **self._take_update(slot, booking_id, capacity))
        except ClientError:  # the condition: full, or this booking holds a place already
            key = _slot_key(slot)
            item = self._get(key["pk"], key["sk"])
            return "held" if item and booking_id in (item.get("holders") or set()) else "full"
        return "taken"

    # ------------------------------------------------------------ bookings
    @staticmethod
    def _booking_item(booking: Booking) -> dict[str, Any]:
        return {
            "pk": f"BOOKING#{booking.booking_id}",
            "sk": "BOOKING",
            "body": booking.model_dump_json(exclude={"version"}),
            "version": booking.version,
            "profile_id": booking.profile_id,
        }

    def create(self, booking: Booking) -> bool:
        # The customer's index first: a booking is never stored without it (erasure finds it).
        self._put({"pk": f"PERSON#{booking.profile_id}", "sk": f"BOOKING#{booking.booking_id}"})
        return self._put(self._booking_item(booking), condition="attribute_not_exists(pk)")

    def change(
        self,
        booking: Booking,
        *,
        expected_version: int,
        release: SlotKey | None,
        take: SlotKey | None,
        capacity: int = 0,
    ) -> Literal["saved", "full", "changed"]:
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": dump(self._booking_item(booking)),
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": dump({":expected": expected_version}),
                }
            }
        ]
        if release is not None:
            actions.append(
                {"Update": {"TableName": self._table, **self._release_update(release, booking.booking_id)}}
            )
        if take is not None:
            take_update = self._take_update(take, booking.booking_id, capacity)
            actions.append({"Update": {"TableName": self._table, **take_update}})
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code != "TransactionCanceledException" and not condition_failed(error):
                raise DependencyUnavailableError(
                    "The engagement table did not answer", details={"cause": code}
                ) from error
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if any(r == "TransactionConflict" for r in reasons):
                return "changed"
            if take is not None and len(reasons) == len(actions) and reasons[-1] == "ConditionalCheckFailed":
                return "full"
            return "changed"
        return "saved"

    def forget_person(self, profile_id: str) -> int:
        """An erased customer's bookings: a booked one gives its place back first, then the
        booking and its index item go. Idempotent (a place already given back is not again)."""
        removed = 0
        index = self._query_all(f"PERSON#{profile_id}", start="BOOKING#", end="BOOKING#~", consistent=True)
        for item in index:
            booking_id = str(item["sk"]).removeprefix("BOOKING#")
            booking = self.booking(booking_id)
            if booking is not None and booking.holds_place:
                with contextlib.suppress(ClientError):  # not holding it any more
                    self._call("update_item", **self._release_update(booking.slot, booking_id))
            self._delete(f"BOOKING#{booking_id}", "BOOKING")
            self._delete(f"PERSON#{profile_id}", f"BOOKING#{booking_id}")
            removed += 1
        return removed

    def booking(self, booking_id: str) -> Booking | None:
        item = self._get(f"BOOKING#{booking_id}", "BOOKING")
        if item is None:
            return None
        return Booking.model_validate({**json.loads(item["body"]), "version": int(item["version"])})

    def bookings_of(self, profile_id: str) -> list[Booking]:
        items = self._query_all(f"PERSON#{profile_id}", start="BOOKING#", end="BOOKING#~", consistent=True)
        found = [self.booking(str(item["sk"]).removeprefix("BOOKING#")) for item in items]
        return sorted((b for b in found if b is not None), key=lambda b: b.starts_at)
