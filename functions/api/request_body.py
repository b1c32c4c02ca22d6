"""Reading request bodies at the edge: undo the content encoding, then parse the JSON object."""

from __future__ import annotations

import zlib
from typing import Any

from shared.domain.ingest.payloads import parse_json_object
from shared.domain.kernel.errors import InvalidInputError, PayloadTooLargeError


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
    return parse_json_object(decoded(raw_body, content_encoding, max_bytes=max_bytes), max_bytes=max_bytes)
