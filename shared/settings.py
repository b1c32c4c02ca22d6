"""The one place that reads the environment.

`template.yaml` sets every variable; the local stack resolves the same variables from the
template deployed into the emulator. Resource names are optional here because each function
only receives the variables of the resources its IAM policy names (least privilege); an adapter
asks for the one it needs with `require`, which fails with a clear message when it is missing.
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.domain.kernel.errors import ConfigurationError

ResourceSetting = Literal[
    "touchpoints_table",
    "customers_table",
    "touchpoint_queue_url",
    "event_bus_name",
    "privacy_queue_url",
    "recompute_queue_url",
    "export_queue_url",
    "exports_bucket",
    "admin_api_key_sha256",
    "catalog_table",
    "channel_sync_queue_url",
    "engagement_table",
    "dispatch_queue_url",
    "recommendations_table",
    "plan_queue_url",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    stage: str = "dev"
    # Resources (set per function by template.yaml).
    touchpoints_table: str | None = None
    customers_table: str | None = None
    touchpoint_queue_url: str | None = None
    event_bus_name: str | None = None
    privacy_queue_url: str | None = None
    recompute_queue_url: str | None = None
    export_queue_url: str | None = None
    exports_bucket: str | None = None
    catalog_table: str | None = None
    channel_sync_queue_url: str | None = None
    engagement_table: str | None = None
    dispatch_queue_url: str | None = None
    recommendations_table: str | None = None
    plan_queue_url: str | None = None
    # The KMS key that seals the sources' and channels' signing secrets at rest; unset = stored
    # as given (the in-memory tests).
    signing_secrets_key_id: str | None = None
    # Messaging: senders' addresses and the base of one-click unsubscribe links.
    ses_from_address: str = "marketing@example.com"
    wechat_gateway_url: str = ""  # the official account's template-message endpoint (or a relay)
    wechat_api_url: str = "https://api.weixin.qq.com"  # access tokens and user info (unionid)
    message_webhook_url: str = ""
    public_api_url: str = ""
    # Queues the monitor watches: `name=url` pairs, comma-separated; a name ending in -dlq is a DLQ.
    monitored_queues: str = ""
    # Credentials: only the SHA-256 of the admin key is deployed, never the key.
    admin_api_key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    # Member tokens (HS256 JWTs the brand's backend signs for one member): the shared secrets,
    # comma-separated, newest first (rotation); empty = member tokens are refused. The audience
    # (`aud`) a token must name.
    member_token_secrets: str = Field(default="", repr=False)
    member_token_audience: str = Field(default="omnireach", min_length=1, max_length=200)
    # Unsubscribe links are sealed with these random secrets (comma-separated, newest first; the
    # older ones still open links already sent). Empty = messages carry no unsubscribe link.
    link_signing_secrets: str = Field(default="", repr=False)
    # Behaviour.
    touchpoint_retention_days: int = Field(default=395, ge=1, le=3650)
    source_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Identity resolution (merge protection). Lists are comma-separated; limits are `type=n`.
    identity_blocked_values: str = ""
    identity_limits: str = ""
    identity_priority: str = ""
    identity_shared_device_user_limit: int = Field(default=1, ge=1, le=100)
    # Privacy: the erasure's second sweep (catches touchpoints in flight at the first one).
    erasure_second_sweep_seconds: int = Field(default=60, ge=0, le=900)
    # Value and lifecycle: ClassificationRules as JSON (lifecycle, tiers, price); empty = defaults.
    classification_rules: str = ""
    recompute_parts: int = Field(default=8, ge=1, le=256)
    segment_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Membership: LoyaltyRules as JSON (earning, tiers, expiry, referrals, birthday perk); empty = defaults.
    loyalty_rules: str = ""
    identity_max_identifiers: int = Field(default=60, ge=2, le=60)
    # Inventory: how long channels, locations, stock settings and promotions are cached per process.
    catalog_cache_seconds: float = Field(default=30.0, ge=0, le=3600)

    def require(self, name: ResourceSetting) -> str:
        value = getattr(self, name)
        if not value:
            raise ConfigurationError(f"{name.upper()} is not set for this function")
        return str(value)


@functools.cache
def get_settings() -> Settings:
    return Settings()
