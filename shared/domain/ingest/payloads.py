"""Reading payloads from channels: the JSON body itself, then objects, lists, amounts and times
that may be missing or malformed (those helpers answer with an empty or None, never raise)."""

from __future__ import annotations

import json
import math
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
        try:
            return datetime.fromtimestamp(value, UTC) if value > 0 else default
        except (OverflowError, OSError, ValueError):  # beyond what a date can hold
            return default
    if isinstance(value, str) and value:
        try:
            return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return default
    return default


MAX_JSON_DEPTH = 32  # objects and arrays inside one another; channel payloads use fewer than 10
MAX_NUMBER_DIGITS = 40  # beyond any amount, quantity, id or timestamp a channel sends


def _refuse_constant(name: str) -> None:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise InvalidInputError(f"A number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _real(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS + 10:
        raise InvalidInputError(f"A number has more than {MAX_NUMBER_DIGITS} digits")
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInputError(f"A number is out of range: {text[:20]}")
    return value


def _depth_within(value: Any, limit: int) -> bool:
    """Iteratively, so a deep value cannot exhaust the stack here either."""
    if not isinstance(value, dict | list):
        return True
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        children = (
            current.values() if isinstance(current, dict) else current if isinstance(current, list) else ()
        )
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return False
                stack.append((child, depth + 1))
    return True


def loads_json(raw: bytes | str) -> Any:
    """JSON as a request may carry it, refused with a 4xx whenever it could hurt later: NaN and
    Infinity, numbers with more than 40 digits or out of a double's range, and nesting deeper
    than 32 levels (a deep value would exhaust the stack of whatever reads it next)."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_int=_integer, parse_float=_real)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedJsonError(f"The body is not valid JSON: {error}") from error
    except RecursionError as error:
        raise InvalidInputError(f"The body is nested deeper than {MAX_JSON_DEPTH} levels") from error
    except ValueError as error:  # a number Python will not read (e.g. over its digit limit)
        raise InvalidInputError(f"The body holds a number that cannot be read: {str(error)[:80]}") from error
    if not _depth_within(value, MAX_JSON_DEPTH):
        raise InvalidInputError(f"The body is nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def parse_json_object(raw_body: bytes, *, max_bytes: int) -> dict[str, Any]:
    """A request body: size first, then JSON (see `loads_json`), then an object."""
    if len(raw_body) > max_bytes:
        raise PayloadTooLargeError(
            f"The body is {len(raw_body)} bytes; the limit is {max_bytes}",
            details={"size": len(raw_body), "limit": max_bytes},
        )
    payload = loads_json(raw_body)
    if not isinstance(payload, dict):
        raise InvalidInputError("The body must be a JSON object")
    return payload
