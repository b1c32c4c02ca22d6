"""Reading request bodies at the edge: size first, then JSON, then shape."""

from __future__ import annotations

import json
import zlib
from typing import Any

from shared.domain.errors import InvalidInputError, MalformedJsonError, PayloadTooLargeError


def _refuse_constant(name: str) -> None:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def decoded(raw_body: bytes, content_encoding: str | None, *, max_bytes: int) -> bytes:
    """Undo `Content-Encoding: gzip` (Segment's clients may compress), never inflating past the
    limit (a small bomb must not become a large body)."""
    if not content_encoding or content_encoding.strip().lower() == "identity":
        return raw_body
    if content_encoding.strip().lower() != "gzip":
        raise InvalidInputError(f"Content-Encoding {content_encoding!r} is not supported; use gzip or none")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw_body, max_bytes + 1)
    except zlib.error as error:
        raise InvalidInputError("The body is not valid gzip") from error
    if len(body) > max_bytes or inflater.unconsumed_tail:
        raise PayloadTooLargeError(
            f"The uncompressed body is over the limit of {max_bytes} bytes", details={"limit": max_bytes}
        )
    return body


def json_object(
    raw_body: bytes | str, *, max_bytes: int, content_encoding: str | None = None
) -> dict[str, Any]:
    if isinstance(raw_body, str):
        raw_body = raw_body.encode("utf-8")
    raw_body = decoded(raw_body, content_encoding, max_bytes=max_bytes)
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
