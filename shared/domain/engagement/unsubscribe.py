"""One-click unsubscribe links (RFC 8058): the token in the link is the credential.

A token is sealed with AES-256-GCM under a key derived from the deployment's link secret (a
random secret of its own, never the admin key): nobody can make one without the secret, reading
one reveals nothing (the profile id, channel and expiry are inside the ciphertext), and an
altered one does not open. A link works for `LINK_LIFETIME` after it was sent, long enough for
mail read late. The secrets are newest first: links sealed with a secret being rotated out keep
working while it is still listed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.domain.kernel.errors import InvalidInputError

LINK_LIFETIME = timedelta(days=400)
VERSION = b"\x01"
NONCE_BYTES = 12


class InvalidLinkError(InvalidInputError):
    code = "invalid_link"


def _key(secret: str) -> bytes:
    return hashlib.sha256(f"omnireach unsubscribe link key\n{secret}".encode()).digest()


def seal_link(
    secrets: Sequence[str], profile_id: str, channel: str, *, now: datetime, nonce: bytes | None = None
) -> str:
    """The token for one person's link on one channel (`*`: every channel)."""
    if not secrets:
        raise ValueError("no link secret")
    expires = int((now + LINK_LIFETIME).timestamp())
    plain = json.dumps({"p": profile_id, "c": channel, "e": expires}, separators=(",", ":")).encode()
    nonce = nonce or os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(secrets[0])).encrypt(nonce, plain, VERSION)
    return base64.urlsafe_b64encode(VERSION + nonce + sealed).decode().rstrip("=")


def open_link(secrets: Sequence[str], token: str, *, now: datetime) -> tuple[str, str]:
    """(profile id, channel) of a link sealed with any of `secrets` that has not expired."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError) as error:
        raise InvalidLinkError("This unsubscribe link is not valid") from error
    if len(raw) < 1 + NONCE_BYTES + 16 or raw[:1] != VERSION:
        raise InvalidLinkError("This unsubscribe link is not valid")
    nonce, sealed = raw[1 : 1 + NONCE_BYTES], raw[1 + NONCE_BYTES :]
    for secret in secrets:
        try:
            plain = AESGCM(_key(secret)).decrypt(nonce, sealed, VERSION)
        except InvalidTag:
            continue
        content = json.loads(plain)
        if now.timestamp() >= content["e"]:
            raise InvalidLinkError("This unsubscribe link has expired; use the newest message's link")
        return str(content["p"]), str(content["c"])
    raise InvalidLinkError("This unsubscribe link is not valid")
