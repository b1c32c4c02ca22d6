"""Appointments' composition root: the appointment store (in the engagement table) and the
announcer that records each booking change as a touchpoint on the customer's profile."""

from __future__ import annotations

from datetime import datetime

from shared import wiring
from shared.adapters.dynamo.appointments_table import DynamoAppointments
from shared.domain.appointments.bookings import Appointments, Booking, announcement
from shared.domain.ingest.touchpoints import Channel
from shared.domain.kernel.errors import NotFoundError
from shared.settings import get_settings
from shared.wiring import built_once, server_touchpoints

SOURCE_ID = "appointments"
CHANNELS = {
    "web": Channel.WEB,
    "app": Channel.APP,
    "wechat": Channel.WECHAT,
    "callcenter": Channel.CALLCENTER,
    "pos": Channel.POS,
    "ecommerce": Channel.ECOMMERCE,
    "console": Channel.OTHER,
}


@built_once
def get_appointment_store() -> DynamoAppointments:
    settings = get_settings()
    return DynamoAppointments(
        settings.require("engagement_table"), cache_seconds=settings.catalog_cache_seconds
    )


class TouchpointAnnouncer:
    """A booking's change, as a server-side touchpoint (source `appointments`) on the customer's
    profile."""

    def knows(self, profile_id: str) -> bool:
        try:
            server_touchpoints.known_profile(profile_id)
        except NotFoundError:
            return False
        return True

    def announce(self, booking: Booking, change: str, *, at: datetime) -> None:
        said = announcement(booking, change)
        server_touchpoints.record_about(
            booking.profile_id,
            touchpoint_id=said["touchpoint_id"],
            source_id=SOURCE_ID,
            event=said["event"],
            channel=CHANNELS.get(booking.channel, Channel.OTHER),
            at=at,
            properties=said["properties"],
        )


def get_appointments() -> Appointments:
    return Appointments(
        store=get_appointment_store(),
        announcer=TouchpointAnnouncer(),
        clock=wiring.get_clock(),
    )


def latest_open(location_id: str, moment: datetime) -> datetime | None:
    """When a reminder due at `moment` goes out so that it arrives in the location's hours."""
    location = get_appointment_store().location(location_id)
    return location.latest_open_at_or_before(moment) if location else moment
