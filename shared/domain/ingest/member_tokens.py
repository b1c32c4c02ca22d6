"""Member tokens: how a member's own app or web page acts on their own account.

A write key that ships in an app or a browser is public, so it can never say *which* member is
asking. The brand's backend, which has signed the member in, signs a short-lived token for that
one member instead: a JSON Web Token (RFC 7519), HS256 with a secret it shares with Omnireach.

    header   {"alg": "HS256", "typ": "JWT"}
    claims   {"sub": "<the member's userId>", "aud": "omnireach", "iat": 1764000000,
              "exp": 1764000900, "scope": "member:read member:exchange"}

`sub` is the member's `userId`, the id the brand's apps send in Segment calls. `aud` must be
the audience this deployment expects; `exp` may be at most an hour after `iat`. `scope` names what
the token may do (`MEMBER_SCOPES`). Any JWT library signs one (PyJWT: `jwt.encode(claims,
secret, algorithm="HS256")`). Only HS256 is accepted: a token naming another algorithm, `none`
included, is refused before its signature is looked at.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.kernel.errors import AuthenticationError, PermissionDeniedError

MEMBER_SCOPES = frozenset(
    {
        "member:read",  # the account: balance, tier, coupons; the inbox
        "member:redeem",  # spend points at a checkout
        "member:exchange",  # points for a coupon
        "member:referral",  # one's referral code; naming who referred one
        "member:book",  # one's service appointments: book, reschedule, cancel
    }
)
MAX_LIFETIME = timedelta(hours=1)
CLOCK_LEEWAY = timedelta(seconds=60)
MAX_TOKEN_BYTES = 4096
_HEADER_FIELDS = {"alg", "typ", "kid"}


class MemberTokenError(AuthenticationError):
    code = "invalid_member_token"


@dataclass(frozen=True)
class MemberClaims:
    user_id: str
    scopes: frozenset[str]
    expires_at: datetime

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise PermissionDeniedError(f"This member token does not allow {scope}", details={"scope": scope})


def looks_like_member_token(token: str) -> bool:
    """A JWT has three dot-separated parts; an admin key has none."""
    return token.count(".") == 2


def _decode_part(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (ValueError, TypeError) as error:
        raise MemberTokenError("The member token is not a JWT") from error


def _json_part(part: str) -> dict[str, Any]:
    try:
        value = json.loads(_decode_part(part))
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise MemberTokenError("The member token is not a JWT") from error
    if not isinstance(value, dict):
        raise MemberTokenError("The member token is not a JWT")
    return value


def _signature(secret: str, signing_input: bytes) -> bytes:
    return hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()


def _time(claims: dict[str, Any], name: str) -> datetime:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**33:
        raise MemberTokenError(f"The member token needs {name} (seconds since the epoch)")
    return datetime.fromtimestamp(value, UTC)


def read_member_token(token: str, *, secrets: Sequence[str], audience: str, now: datetime) -> MemberClaims:
    """The claims of a valid token signed with any of `secrets` (newest first: rotation)."""
    if not secrets:
        raise MemberTokenError("Member tokens are not configured for this deployment (MEMBER_TOKEN_SECRETS)")
    if len(token) > MAX_TOKEN_BYTES or not looks_like_member_token(token):
        raise MemberTokenError("The member token is not a JWT")
    header_part, claims_part, signature_part = token.split(".")
    header = _json_part(header_part)
    if header.get("alg") != "HS256" or not set(header) <= _HEADER_FIELDS:
        raise MemberTokenError("Member tokens are signed with HS256")
    signing_input = f"{header_part}.{claims_part}".encode("ascii", errors="replace")
    presented = _decode_part(signature_part)
    if not any(hmac.compare_digest(presented, _signature(secret, signing_input)) for secret in secrets):
        raise MemberTokenError("The member token's signature does not verify")
    claims = _json_part(claims_part)

    audiences = claims.get("aud")
    if audience not in (audiences if isinstance(audiences, list) else [audiences]):
        raise MemberTokenError(f"The member token is not for this audience ({audience!r})")
    issued, expires = _time(claims, "iat"), _time(claims, "exp")
    if expires - issued > MAX_LIFETIME:
        raise MemberTokenError("A member token lives at most an hour (exp - iat)")
    if issued > now + CLOCK_LEEWAY:
        raise MemberTokenError("The member token is issued in the future")
    if expires <= now - CLOCK_LEEWAY:
        raise MemberTokenError("The member token has expired")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 1 <= len(subject) <= 255:
        raise MemberTokenError("The member token needs sub: the member's userId")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise MemberTokenError("scope: space-separated scopes")
    return MemberClaims(user_id=subject, scopes=frozenset(scope.split()) & MEMBER_SCOPES, expires_at=expires)


def sign_member_token(
    user_id: str, *, secret: str, audience: str, now: datetime, scopes: Sequence[str], lifetime: timedelta
) -> str:
    """What a brand's backend does (any JWT library does the same); the local stack's demo and
    tests use it to act as that backend."""

    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    issued = int(now.timestamp())
    signing_input = (
        part({"alg": "HS256", "typ": "JWT"})
        + "."
        + part(
            {
                "sub": user_id,
                "aud": audience,
                "iat": issued,
                "exp": issued + int(lifetime.total_seconds()),
                "scope": " ".join(scopes),
            }
        )
    )
    signature = base64.urlsafe_b64encode(_signature(secret, signing_input.encode())).rstrip(b"=").decode()
    return f"{signing_input}.{signature}"
