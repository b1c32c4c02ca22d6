"""Admin routes take `Authorization: Bearer <admin API key>`; only its SHA-256 is deployed."""

from __future__ import annotations

from shared.domain.ingest.credentials import basic_auth_username, bearer_token
from shared.domain.ingest.intake import authenticate_source, check_admin_key
from shared.domain.ingest.touchpoints import Source
from shared.domain.kernel.errors import PermissionDeniedError
from shared.settings import get_settings
from shared.wiring import commerce as commerce_wiring
from shared.wiring import ingest as ingest_wiring


def require_admin(authorization: str | None) -> None:
    presented = bearer_token(authorization)
    check_admin_key(presented, expected_digest=get_settings().require("admin_api_key_sha256"))


def require_channel_or_admin(authorization: str | None) -> str | None:
    """Tills and checkouts call with their source's write key (HTTP Basic): the answer is the
    channel the key belongs to. The admin key (Bearer) answers None: the caller names the channel."""
    if authorization and authorization.strip().lower().startswith("basic "):
        write_key = basic_auth_username(authorization)
        return authenticate_source(write_key, registry=ingest_wiring.get_source_registry()).channel.value
    require_admin(authorization)
    return None


def sales_caller(authorization: str | None) -> Source | None:
    """Who calls a sales-channel route: a till's or checkout's source (its write key, HTTP Basic),
    or None for the admin key. Authenticated before anything in the request is read."""
    if authorization and authorization.strip().lower().startswith("basic "):
        write_key = basic_auth_username(authorization)
        return authenticate_source(write_key, registry=ingest_wiring.get_source_registry())
    require_admin(authorization)
    return None


def acts_for(caller: Source | None, channel_id: str) -> bool:
    """A till or checkout acts for the sales channel whose `source_id` is its key's source; the
    admin key (None) acts for any channel."""
    if caller is None:
        return True
    channel = commerce_wiring.get_catalog().channel(channel_id)
    return channel is not None and channel.source_id == caller.source_id


def require_sales_channel_or_admin(authorization: str | None, channel_id: str) -> None:
    caller = sales_caller(authorization)
    if not acts_for(caller, channel_id):
        assert caller is not None
        raise PermissionDeniedError(
            f"This key does not act for channel {channel_id!r}", details={"source_id": caller.source_id}
        )
