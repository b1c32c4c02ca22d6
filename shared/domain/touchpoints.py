"""The one versioned `Touchpoint` schema every channel is normalised into, and the Segment
`track` call it is first built from (the public contract of the Segment HTTP Tracking API)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

# Segment's own limit for one event; over it is a clear 413, never a silent drop.
MAX_EVENT_BYTES = 32 * 1024
MAX_ID_LENGTH = 255


def as_utc(value: datetime) -> datetime:
    """Timestamps without an offset are read as UTC (as Segment does)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TrackCall(BaseModel):
    """A Segment `track` call as the HTTP Tracking API accepts it (camelCase on the wire)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    event: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    user_id: str | None = Field(default=None, alias="userId", max_length=MAX_ID_LENGTH)
    anonymous_id: str | None = Field(default=None, alias="anonymousId", max_length=MAX_ID_LENGTH)
    message_id: str | None = Field(default=None, alias="messageId", min_length=1, max_length=MAX_ID_LENGTH)
    timestamp: datetime | None = None
    original_timestamp: datetime | None = Field(default=None, alias="originalTimestamp")
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    properties: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    integrations: dict[str, Any] = Field(default_factory=dict)
    write_key: str | None = Field(
        default=None, validation_alias=AliasChoices("writeKey", "write_key"), exclude=True, repr=False
    )

    @field_validator("user_id", "anonymous_id", mode="before")
    @classmethod
    def _ids_are_text(cls, value: Any) -> Any:
        # Segment clients send numeric user ids; keep them as their text.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("timestamp", "original_timestamp", "sent_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    @model_validator(mode="after")
    def _someone(self) -> TrackCall:
        if not (self.user_id or self.anonymous_id):
            raise ValueError("userId or anonymousId is required")
        return self


class TouchpointType(StrEnum):
    TRACK = "track"


class Source(BaseModel):
    """Where touchpoints come from: one per connected channel account."""

    model_config = ConfigDict(frozen=True)

    source_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    channel: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True


class Touchpoint(BaseModel):
    """Schema version 1 of a touchpoint, as it travels on the queue and is archived."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    touchpoint_id: str
    type: TouchpointType
    source_id: str
    channel: str
    event: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime
    received_at: datetime
    sent_at: datetime | None = None
    original_timestamp: datetime | None = None


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
    return received_at - (sent_at - device_timestamp)


def touchpoint_from_track(call: TrackCall, *, source: Source, received_at: datetime) -> Touchpoint:
    device_timestamp = call.original_timestamp or call.timestamp
    return Touchpoint(
        touchpoint_id=call.message_id or f"api-{uuid.uuid4()}",
        type=TouchpointType.TRACK,
        source_id=source.source_id,
        channel=source.channel,
        event=call.event,
        user_id=call.user_id,
        anonymous_id=call.anonymous_id,
        properties=call.properties,
        context=call.context,
        occurred_at=corrected_occurrence(
            received_at=received_at, sent_at=call.sent_at, device_timestamp=device_timestamp
        ),
        received_at=received_at,
        sent_at=call.sent_at,
        original_timestamp=device_timestamp,
    )


def archive_expiry(touchpoint: Touchpoint, retention: timedelta) -> datetime:
    """An archived touchpoint is kept `retention` after it was received."""
    return touchpoint.received_at + retention
