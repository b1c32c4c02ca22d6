"""Touchpoints the system itself records about a known customer (a booking's change, a one-click
unsubscribe): named by the profile's strongest identifier, so they land on that profile, and
sent to the touchpoint queue like any other (the pipeline archives and folds them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared import wiring
from shared.domain.customers.identity import DEFAULT_PRIORITY
from shared.domain.customers.profiles import Profile
from shared.domain.ingest.touchpoints import Channel, ConsentSignal, Touchpoint, TouchpointType
from shared.domain.kernel.errors import NotFoundError
from shared.wiring import customers as customers_wiring
from shared.wiring import ingest as ingest_wiring

RANK = {kind: index for index, kind in enumerate(DEFAULT_PRIORITY)}


def known_profile(profile_id: str) -> Profile:
    profile = customers_wiring.get_customer_graph().profiles([profile_id]).get(profile_id)
    if profile is None or not profile.exists or not profile.identifiers:
        raise NotFoundError(f"No customer {profile_id!r}", details={"profile_id": profile_id})
    return profile


def record_about(
    profile_id: str,
    *,
    touchpoint_id: str,
    source_id: str,
    event: str,
    channel: Channel,
    at: datetime,
    properties: dict[str, Any] | None = None,
    consent: Sequence[ConsentSignal] = (),
) -> Touchpoint:
    touchpoint = touchpoint_about(
        known_profile(profile_id),
        touchpoint_id=touchpoint_id,
        source_id=source_id,
        event=event,
        channel=channel,
        at=at,
        properties=properties,
        consent=consent,
    )
    ingest_wiring.get_touchpoint_queue().send_all([touchpoint])
    return touchpoint


def touchpoint_about(
    profile: Profile,
    *,
    touchpoint_id: str,
    source_id: str,
    event: str,
    channel: Channel,
    at: datetime,
    properties: dict[str, Any] | None = None,
    consent: Sequence[ConsentSignal] = (),
) -> Touchpoint:
    """A track touchpoint named by the profile's strongest identifier (not sent)."""
    strongest = min(profile.identifiers, key=lambda i: RANK.get(i.type, len(RANK)))
    return Touchpoint(
        touchpoint_id=touchpoint_id,
        type=TouchpointType.TRACK,
        source_id=source_id,
        channel=channel,
        event=event,
        identifiers=[strongest],
        properties=properties or {},
        consent=list(consent),
        occurred_at=at,
        received_at=wiring.get_clock().now(),
    )
