"""Reading request bodies at the edge: size first, then JSON, then shape."""

from __future__ import annotations

import json
from typing import Any

from shared.domain.errors import InvalidInputError, MalformedJsonError, PayloadTooLargeError


def json_object(raw_body: bytes | str, *, max_bytes: int) -> dict[str, Any]:
    if isinstance(raw_body, str):
        raw_body = raw_body.encode("utf-8")
    if len(raw_body) > max_bytes:
        raise PayloadTooLargeError(
            f"The body is {len(raw_body)} bytes; the limit is {max_bytes}",
            details={"size": len(raw_body), "limit": max_bytes},
        )
    try:
        payload = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedJsonError(f"The body is not valid JSON: {error}") from error
    if not isinstance(payload, dict):
        raise InvalidInputError("The body must be a JSON object")
    return payload
