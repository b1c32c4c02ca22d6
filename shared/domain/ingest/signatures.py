"""Webhook signature standards, verified on the raw body in constant time. Every function raises
AuthenticationError on any doubt and names no secret in its message."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime

from shared.domain.kernel.errors import AuthenticationError

STANDARD_WEBHOOKS_TOLERANCE_SECONDS = 5 * 60


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise AuthenticationError(f"Missing {name} header")


def verify_shopify(raw_body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> None:
    """`X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body keyed with the app secret."""
    presented = _header(headers, "x-shopify-hmac-sha256").strip().encode()
    for secret in secrets:
        expected = base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest())
        if hmac.compare_digest(expected, presented):
            return
    raise AuthenticationError("The Shopify signature does not match")


def _standard_webhooks_key(secret: str) -> bytes:
    encoded = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        return secret.encode()


def verify_standard_webhooks(
    raw_body: bytes, headers: Mapping[str, str], secrets: Sequence[str], *, now: datetime
) -> str:
    """Standard Webhooks 1.0: HMAC-SHA256 over `{id}.{timestamp}.{body}`, timestamp within ±5 min,
    any of the space-separated `v1,<base64>` signatures (secret rotation). Returns webhook-id."""
    webhook_id = _header(headers, "webhook-id").strip()
    timestamp_text = _header(headers, "webhook-timestamp").strip()
    signatures = _header(headers, "webhook-signature").split()
    try:
        timestamp = int(timestamp_text)
    except ValueError as error:
        raise AuthenticationError("webhook-timestamp is not a unix time") from error
    if abs(now.timestamp() - timestamp) > STANDARD_WEBHOOKS_TOLERANCE_SECONDS:
        raise AuthenticationError("webhook-timestamp is outside the 5 minute tolerance")
    if not webhook_id:
        raise AuthenticationError("Missing webhook-id header")
    signed = f"{webhook_id}.{timestamp_text}.".encode() + raw_body
    presented = [
        value.encode() for version, _, value in (s.partition(",") for s in signatures) if version == "v1"
    ]
    for secret in secrets:
        expected = base64.b64encode(hmac.new(_standard_webhooks_key(secret), signed, hashlib.sha256).digest())
        if any(hmac.compare_digest(expected, candidate) for candidate in presented):
            return webhook_id
    raise AuthenticationError("No webhook-signature matches")


def wechat_signature(*parts: str) -> str:
    """WeChat's SHA-1 over the lexicographically sorted, concatenated parts."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 (WeChat's standard)


def verify_wechat(
    token: str, *, timestamp: str, nonce: str, signature: str, now: datetime, extra: str | None = None
) -> None:
    """`signature` over token/timestamp/nonce, or (safe mode) `msg_signature` with `extra`, the
    encrypted body, among the sorted parts."""
    try:
        sent = int(timestamp)
    except ValueError as error:
        raise AuthenticationError("timestamp is not a unix time") from error
    if abs(now.timestamp() - sent) > STANDARD_WEBHOOKS_TOLERANCE_SECONDS:
        raise AuthenticationError("timestamp is outside the 5 minute tolerance")
    parts = (token, timestamp, nonce) if extra is None else (token, timestamp, nonce, extra)
    presented = signature.strip().lower().encode("utf-8")  # bytes: any text compares, in constant time
    if not hmac.compare_digest(wechat_signature(*parts).encode(), presented):
        raise AuthenticationError("The WeChat signature does not match")
