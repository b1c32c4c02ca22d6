"""The source registry: each connected channel account, its kind and its credentials.
Credentials are shown once, when created or rotated, and never again."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.ingest.ports import SourceRegistry
from shared.domain.ingest.touchpoints import Channel, Source, SourceKind, SourceTrust
from shared.domain.kernel.errors import InvalidInputError, NotFoundError

SNS_TOPIC_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
MAX_SIGNING_SECRETS = 2  # the current one and the one being rotated out


class SourceNotFoundError(NotFoundError):
    code = "source_not_found"


class NewSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    name: str = Field(min_length=1, max_length=200)
    kind: SourceKind
    channel: Channel
    default_country_code: str | None = Field(default=None, pattern=r"^[1-9][0-9]{0,2}$")
    signing_secret: str | None = Field(default=None, min_length=3, max_length=512, repr=False)
    encryption_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9+/]{43}$", repr=False)
    # WeChat: the account's AppSecret, so a subscriber's unionid is fetched from WeChat's API
    app_secret: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{16,64}$", repr=False)
    app_id: str | None = Field(default=None, min_length=1, max_length=300)
    # Segment sources only: `server` for a key that never leaves the brand's servers.
    trust: SourceTrust | None = None


class SourceChange(BaseModel):
    """A partial update: a field left out keeps its value. `default_country_code: null` clears it;
    `name` and `enabled` always have a value, so null is refused."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    enabled: bool | None = None
    default_country_code: str | None = Field(default=None, pattern=r"^[1-9][0-9]{0,2}$")

    @model_validator(mode="after")
    def _no_null_for_what_is_required(self) -> SourceChange:
        for name in ("name", "enabled"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} may not be null; leave it out to keep it")
        return self


@dataclass(frozen=True)
class SourceCredentials:
    write_key: str | None = None
    signing_secret: str | None = None


def new_write_key() -> str:
    return secrets.token_urlsafe(24)


def new_standard_webhooks_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def create_source(
    request: NewSource,
    *,
    registry: SourceRegistry,
    write_key_factory: Callable[[], str] = new_write_key,
    webhook_secret_factory: Callable[[], str] = new_standard_webhooks_secret,
) -> tuple[Source, SourceCredentials]:
    if request.kind is not SourceKind.SEGMENT and request.trust is SourceTrust.CLIENT:
        raise InvalidInputError(
            "trust: a signed webhook comes from its platform's servers, so its source is server-side"
        )
    source = Source(
        source_id=request.source_id,
        name=request.name,
        kind=request.kind,
        channel=request.channel,
        default_country_code=request.default_country_code,
        app_id=request.app_id,
        trust=request.trust or SourceTrust.CLIENT,
    )
    write_key = signing_secret = None
    if request.encryption_key and request.kind is not SourceKind.WECHAT:
        raise InvalidInputError("Only WeChat sources take an encryption_key (EncodingAESKey)")
    if request.app_secret and (request.kind is not SourceKind.WECHAT or not request.app_id):
        raise InvalidInputError("app_secret is a WeChat account's AppSecret: it needs kind wechat and app_id")
    if request.kind is SourceKind.SEGMENT:
        if request.signing_secret:
            raise InvalidInputError("Segment sources authenticate with a write key, not a signing secret")
        write_key = write_key_factory()
    elif request.kind is SourceKind.SES:
        if not request.app_id or not SNS_TOPIC_ARN.match(request.app_id):
            raise InvalidInputError("SES sources need app_id: the SNS topic ARN that publishes the events")
        if request.signing_secret:
            raise InvalidInputError("SES sources are verified by SNS signatures, not a shared secret")
    elif request.kind is SourceKind.WECHAT:
        if request.encryption_key and not request.app_id:
            raise InvalidInputError("Safe mode needs app_id (the AppID) with the encryption_key")
        signing_secret = request.signing_secret or secrets.token_hex(16)  # the Token set in WeChat
    elif request.kind is SourceKind.SHOPIFY:
        if not request.signing_secret:
            raise InvalidInputError(
                "Shopify sources need signing_secret: the app's client secret from Shopify"
            )
        signing_secret = request.signing_secret
    else:
        signing_secret = request.signing_secret or webhook_secret_factory()
    registry.create(
        source,
        write_key=write_key,
        signing_secrets=[signing_secret] if signing_secret else [],
        encryption_key=request.encryption_key,
        app_secret=request.app_secret,
    )
    return source, SourceCredentials(write_key=write_key, signing_secret=signing_secret)


def get_source(source_id: str, *, registry: SourceRegistry) -> Source:
    found = registry.find(source_id)
    if found is None:
        raise SourceNotFoundError("No source with this id", details={"source_id": source_id})
    return found


def change_source(source_id: str, change: SourceChange, *, registry: SourceRegistry) -> Source:
    current = get_source(source_id, registry=registry)
    updates = change.model_dump(exclude_unset=True)
    if not updates:
        return current
    # Validated as a whole: what is saved is always a source every later read can load.
    changed = Source.model_validate({**current.model_dump(), **updates})
    registry.save(changed)
    return changed


def rotate_signing_secret(
    source_id: str,
    *,
    registry: SourceRegistry,
    provided: str | None = None,
    webhook_secret_factory: Callable[[], str] = new_standard_webhooks_secret,
) -> str:
    """Add a new signing secret; the newest previous one stays valid until the next rotation."""
    source = get_source(source_id, registry=registry)
    if source.kind in (SourceKind.SEGMENT, SourceKind.SES):
        raise InvalidInputError("Segment sources have write keys, not signing secrets")
    if source.kind is SourceKind.SHOPIFY and not provided:
        raise InvalidInputError("Shopify issues the secret: pass the new one as signing_secret")
    secret = provided or webhook_secret_factory()
    registry.add_signing_secret(source_id, secret, keep=MAX_SIGNING_SECRETS)
    return secret
