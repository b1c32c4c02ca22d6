"""Admin routes take `Authorization: Bearer <admin API key>`; only its SHA-256 is deployed."""

from __future__ import annotations

from shared.domain.credentials import bearer_token
from shared.domain.ingest import check_admin_key
from shared.settings import get_settings


def require_admin(authorization: str | None) -> None:
    presented = bearer_token(authorization)
    check_admin_key(presented, expected_digest=get_settings().require("admin_api_key_sha256"))
