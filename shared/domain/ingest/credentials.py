"""Secrets are stored and compared as SHA-256 digests, in constant time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from shared.domain.kernel.errors import AuthenticationError


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def matches_digest(presented: str, expected_digest: str) -> bool:
    return hmac.compare_digest(secret_digest(presented), expected_digest)


def basic_auth_username(authorization: str | None) -> str | None:
    """The username of an HTTP Basic `Authorization` header (Segment sends the write key there,
    with an empty password). None when the header is absent; an error when it is unreadable."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise AuthenticationError("Authorization must be HTTP Basic with the write key as the username")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise AuthenticationError("Authorization header is not valid base64") from error
    username, _, _password = decoded.partition(":")
    return username or None


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationError("An admin API key is required: Authorization: Bearer <key>")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("Authorization must be: Bearer <admin API key>")
    return token.strip()
