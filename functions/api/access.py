"""Who may call what. Trust follows the key:

- the admin key (`Authorization: Bearer <admin key>`; only its SHA-256 is deployed): everything;
- a server-side source's write key (HTTP Basic): acts for its till or checkout, on any member;
- a member token (`Authorization: Bearer <JWT>`, signed by the brand's backend for one member):
  that member's own account, within the token's scopes;
- a client-side source's write key (it ships in a browser or app): sends touchpoints only. It is
  refused on every route that reads a person or moves value.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import wiring
from shared.domain.customers.admin import find_by_identifier, survivor_id
from shared.domain.ingest.credentials import basic_auth_username, bearer_token
from shared.domain.ingest.intake import authenticate_source, check_admin_key
from shared.domain.ingest.member_tokens import MemberClaims, looks_like_member_token, read_member_token
from shared.domain.ingest.touchpoints import Source
from shared.domain.kernel.errors import PermissionDeniedError
from shared.domain.kernel.identifiers import IdentifierType, normalise
from shared.settings import get_settings
from shared.wiring import commerce as commerce_wiring
from shared.wiring import customers as customers_wiring
from shared.wiring import ingest as ingest_wiring

ME = "me"  # `/members/me/...` with a member token: the token's own member


class ClientKeyRefusedError(PermissionDeniedError):
    code = "client_key_refused"


def require_admin(authorization: str | None) -> None:
    presented = bearer_token(authorization)
    check_admin_key(presented, expected_digest=get_settings().require("admin_api_key_sha256"))


def _is_basic(authorization: str | None) -> bool:
    return bool(authorization) and str(authorization).strip().lower().startswith("basic ")


def server_source(authorization: str | None) -> Source:
    """The source of a write key that may act for a till or checkout: a server-side one."""
    source = authenticate_source(
        basic_auth_username(authorization), registry=ingest_wiring.get_source_registry()
    )
    if not source.creates_value:
        raise ClientKeyRefusedError(
            "This write key belongs to a client-side source (it ships in browsers and apps): it "
            "sends touchpoints only. Call with a server-side source's key, or a member token.",
            details={"source_id": source.source_id},
        )
    return source


def sales_caller(authorization: str | None) -> Source | None:
    """Who calls a till or checkout route: a server-side source (its write key, HTTP Basic), or
    None for the admin key. Authenticated before anything in the request is read."""
    if _is_basic(authorization):
        return server_source(authorization)
    require_admin(authorization)
    return None


def acts_for(caller: Source | None, channel_id: str) -> bool:
    """A till or checkout acts for the sales channel whose `source_id` is its key's source; the
    admin key (None) acts for any channel."""
    if caller is None:
        return True
    channel = commerce_wiring.get_catalog().channel(channel_id)
    return channel is not None and channel.source_id == caller.source_id


def require_channel_reader_or_admin(authorization: str | None, channel_id: str) -> None:
    """What a channel shows to everyone (its availability and prices) may be read with any of
    its keys, a browser's included: reading it moves nothing and names nobody."""
    if not _is_basic(authorization):
        require_admin(authorization)
        return
    source = authenticate_source(
        basic_auth_username(authorization), registry=ingest_wiring.get_source_registry()
    )
    if not acts_for(source, channel_id):
        raise PermissionDeniedError(
            f"This key does not act for channel {channel_id!r}", details={"source_id": source.source_id}
        )


@dataclass(frozen=True)
class MemberAccess:
    """Who acts on a member's account, and which account (merges followed for a member)."""

    profile_id: str
    till: Source | None = None  # a server-side source acting for a till
    member: MemberClaims | None = None  # the member themself

    @property
    def is_admin(self) -> bool:
        return self.till is None and self.member is None


def member_claims(authorization: str | None) -> MemberClaims | None:
    """The claims of a member token, or None when the Bearer token is not one (the admin key)."""
    if _is_basic(authorization):
        return None
    token = bearer_token(authorization)
    if not looks_like_member_token(token):
        return None
    settings = get_settings()
    return read_member_token(
        token,
        secrets=[secret for secret in settings.member_token_secrets.split(",") if secret.strip()],
        audience=settings.member_token_audience,
        now=wiring.get_clock().now(),
    )


def member_profile_id(claims: MemberClaims) -> str:
    identifier = normalise(IdentifierType.USER_ID, claims.user_id)
    if identifier is None:
        raise PermissionDeniedError("The member token's sub is not a usable userId")
    return find_by_identifier(identifier, graph=customers_wiring.get_customer_graph()).profile_id


def member_access(authorization: str | None, profile_id: str, *, scope: str) -> MemberAccess:
    """The admin key, a server-side till's key, or the member's own token with `scope`."""
    claims = member_claims(authorization)
    if claims is None:
        till = sales_caller(authorization)
        return MemberAccess(profile_id=profile_id, till=till)
    claims.require(scope)
    own = member_profile_id(claims)
    if profile_id != ME and survivor_id(profile_id, graph=customers_wiring.get_customer_graph()) != own:
        raise PermissionDeniedError("A member token acts on its own member's account only")
    return MemberAccess(profile_id=own, member=claims)
