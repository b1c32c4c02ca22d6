"""Helpers shared by the channel mappings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.domain.identifiers import Identifier, IdentifierType, collect
from shared.domain.touchpoints import as_utc


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def timestamp(value: Any, default: datetime) -> datetime:
    """An ISO-8601 or unix-seconds time from a payload, or `default` when absent or unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC) if value > 0 else default
    if isinstance(value, str) and value:
        try:
            return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return default
    return default


class CustomerRef(BaseModel):
    """How generic sources (POS, call center, ...) name the customer."""

    model_config = ConfigDict(extra="ignore")

    user_id: str | int | None = None
    email: str | None = None
    phone: str | None = None
    anonymous_id: str | None = None
    device_id: str | None = None
    pos_customer_id: str | int | None = None
    loyalty_card: str | int | None = None
    shop_customer_id: str | int | None = None
    wechat_openid: str | None = None
    wechat_unionid: str | None = None

    def identifiers(self, *, default_country_code: str | None) -> list[Identifier]:
        return collect(
            [(IdentifierType(name), value) for name, value in self.model_dump().items()],
            default_country_code=default_country_code,
        )
