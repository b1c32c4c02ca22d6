"""Reading loosely typed payloads from channels: objects, lists, amounts and times that may be
missing or malformed. Nothing here raises for a bad value; it answers with an empty or None."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


def as_utc(value: datetime) -> datetime:
    """Timestamps without an offset are read as UTC (as Segment does)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def decimal(value: Any) -> Decimal | None:
    """Money as Decimal: amounts are summed into profiles and must not drift."""
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
