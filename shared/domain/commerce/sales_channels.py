"""Sales channels and locations: which stock feeds which channel, and how much of it is published.

A channel's published availability of a SKU is derived, never stored as a truth of its own:

    pool      = Σ over the channel's locations of (available - the location's safety stock, >= 0)
    after     = pool - the channel's safety stock (>= 0)
    published = 0                          if after < zero_below
              = floor(after * percent / 100), at most `cap`, otherwise
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from shared.domain.commerce.stock import ID_PATTERN


class ChannelRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    safety_stock: int = Field(default=0, ge=0, le=100_000_000)
    percent: int = Field(default=100, ge=0, le=100)
    cap: int | None = Field(default=None, ge=0, le=100_000_000)
    zero_below: int = Field(default=0, ge=0, le=100_000_000)


def publish(pool: int, rules: ChannelRules) -> int:
    after = max(0, pool - rules.safety_stock)
    if after < rules.zero_below:
        return 0
    published = after * rules.percent // 100
    return min(published, rules.cap) if rules.cap is not None else published


EXTERNAL_ID = r"^[A-Za-z0-9_-]{1,63}:[A-Za-z0-9._-]{1,100}$"


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["warehouse", "store"]
    timezone: str | None = Field(default=None, max_length=64)
    external_ids: list[str] = Field(default_factory=list)


class LocationChange(BaseModel):
    """`external_ids`: `<source_id>:<the source's id for this location>` (a Shopify location id),
    so levels a channel reports for its location land on this one."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["warehouse", "store"]
    timezone: str | None = Field(default=None, max_length=64)
    external_ids: list[Annotated[str, Field(pattern=EXTERNAL_ID)]] = Field(
        default_factory=list, max_length=20
    )


class ChannelChange(BaseModel):
    """What an admin sends to create or replace a channel (the signing secret is kept unless
    `rotate_secret`; it is shown once, when made)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["web", "app", "marketplace", "pos", "other"]
    locations: list[str] = Field(min_length=1, max_length=50)
    rules: ChannelRules = Field(default_factory=ChannelRules)
    endpoint_url: HttpUrl | None = None
    read_url: HttpUrl | None = None
    source_id: str | None = Field(default=None, max_length=63)
    rotate_secret: bool = False

    @field_validator("locations")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        import re

        for location_id in value:
            if not re.fullmatch(ID_PATTERN, location_id):
                raise ValueError(f"{location_id!r} is not a location id")
        if len(set(value)) != len(value):
            raise ValueError("a location is listed twice")
        return value


class SalesChannel(BaseModel):
    channel_id: str = Field(pattern=ID_PATTERN)
    name: str
    kind: Literal["web", "app", "marketplace", "pos", "other"]
    locations: list[str]
    rules: ChannelRules = Field(default_factory=ChannelRules)
    endpoint_url: str | None = None
    read_url: str | None = None
    source_id: str | None = None
    signing_secret: str = Field(default="", repr=False)
    updated_at: datetime | None = None

    def public(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude={"signing_secret"}) | {
            "has_endpoint": self.endpoint_url is not None
        }


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 24 random bytes."""
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class ChannelRegistry(Protocol):
    def channels(self) -> list[SalesChannel]:
        """Every channel (a short list, cached by the adapter)."""
        ...

    def channel(self, channel_id: str) -> SalesChannel | None: ...

    def save_channel(self, channel: SalesChannel) -> None: ...

    def locations(self) -> list[Location]: ...

    def location(self, location_id: str) -> Location | None: ...

    def save_location(self, location: Location) -> None: ...


class RegistryDirectory:
    """The inventory's view of the registry: a channel's locations, and whether a location exists."""

    def __init__(self, registry: ChannelRegistry) -> None:
        self._registry = registry

    def channel_locations(self, channel_id: str) -> list[str]:
        channel = self._registry.channel(channel_id)
        return list(channel.locations) if channel else []

    def location_exists(self, location_id: str) -> bool:
        return self._registry.location(location_id) is not None

    def location_known_as(self, source_id: str, external_id: str) -> str | None:
        wanted = f"{source_id}:{external_id}"
        return next(
            (
                location.location_id
                for location in self._registry.locations()
                if wanted in location.external_ids
            ),
            None,
        )
