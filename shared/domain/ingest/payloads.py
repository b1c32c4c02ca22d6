"""Reading payloads from channels: the JSON body itself, then objects, lists, amounts and times
that may be missing or malformed (those helpers answer with an empty or None, never raise)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.domain.kernel.errors import InvalidInputError, MalformedJsonError, PayloadTooLargeError


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


def _refuse_constant(name: str) -> None:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def parse_json_object(raw_body: bytes, *, max_bytes: int) -> dict[str, Any]:
    """A request body: size first, then JSON (NaN and Infinity are not JSON), then an object."""
    if len(raw_body) > max_bytes:
        raise PayloadTooLargeError(
            f"The body is {len(raw_body)} bytes; the limit is {max_bytes}",
            details={"size": len(raw_body), "limit": max_bytes},
        )
    try:
        payload = json.loads(raw_body, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedJsonError(f"The body is not valid JSON: {error}") from error
    if not isinstance(payload, dict):
        raise InvalidInputError("The body must be a JSON object")
    return payload
