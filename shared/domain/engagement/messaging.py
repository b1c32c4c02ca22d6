"""Messages: content per channel with personalisation, variants, and the one port every sender
implements (email via SES, SMS and push via SNS, WeChat template messages over HTTPS, the in-app
inbox, webhooks).

Templates use `{{ name }}` placeholders filled from the send's context (`first_name`, `tier`,
`points`, `price`, `coupon_code`, `last_viewed_sku`, `store_open`, ...). A placeholder the
context cannot fill fails the send visibly (`failed`, reason `render_error`): a message is never
sent with a hole in it. `{{ name | default }}` gives a fallback text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.engagement.frequency import Channel

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*(?:\|\s*([^}]*?)\s*)?\}\}")


class RenderError(Exception):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"no value for {', '.join(missing)}")
        self.missing = missing


def render(template: str, context: Mapping[str, Any]) -> str:
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        value = context.get(name)
        if value is None or value == "":
            if fallback is not None:
                return fallback
            missing.append(name)
            return ""
        return str(value)

    text = PLACEHOLDER.sub(fill, template)
    if missing:
        raise RenderError(sorted(set(missing)))
    return text


def render_content(content: ChannelContent, context: Mapping[str, Any]) -> dict[str, Any]:
    """Every part of one channel's content rendered (RenderError names what had no value)."""
    return {
        "subject": render(content.subject, context) if content.subject else None,
        "title": render(content.title, context) if content.title else None,
        "body": render(content.body, context),
        "template_id": content.template_id,
        "fields": {name: render(text, context) for name, text in content.fields.items()},
        "url": render(content.url, context) if content.url else None,
    }


class ChannelContent(BaseModel):
    """What one channel sends: `body` always; `subject` for email; `title` for push and inbox;
    `template_id` for WeChat (its `data` fields are rendered from `fields`)."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, max_length=500)
    title: str | None = Field(default=None, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)
    template_id: str | None = Field(default=None, max_length=100)
    fields: dict[str, str] = Field(default_factory=dict, max_length=20)
    url: str | None = Field(default=None, max_length=2000)


def placeholders(content: ChannelContent) -> set[str]:
    """The names a channel's content asks the context for."""
    texts = [content.subject, content.title, content.body, content.url, *content.fields.values()]
    return {match.group(1) for text in texts if text for match in PLACEHOLDER.finditer(text)}


class Variant(BaseModel):
    """Content for the customers it matches (`when`: tier, price sensitivity, segment); the first
    matching variant wins, then A/B `weight` splits those that match nothing specific."""

    model_config = ConfigDict(extra="forbid")

    variant_id: str = Field(pattern=r"^[a-z0-9_-]{1,40}$")
    when: dict[str, str] = Field(default_factory=dict)  # {"tier": "gold"} / {"segment": "vip"}
    weight: int = Field(default=0, ge=0, le=100)
    content: dict[Channel, ChannelContent]

    @model_validator(mode="after")
    def _known_keys(self) -> Variant:
        unknown = set(self.when) - {"tier", "price_sensitivity", "segment", "stage"}
        if unknown:
            raise ValueError(f"when: unknown keys {sorted(unknown)}")
        return self


class OutboundMessage(BaseModel):
    """A rendered message, ready for a sender. `idempotency_key` is the dispatch ledger id."""

    idempotency_key: str
    channel: Channel
    address: str
    subject: str | None = None
    title: str | None = None
    body: str
    template_id: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    unsubscribe_url: str | None = None
    profile_id: str
    program_id: str


class ThrottledError(Exception):
    """The provider asked us to slow down: retried with backoff, never counted as a failure."""


class PermanentSendError(Exception):
    """The provider refused this message for good (bad address, blocked): the outcome is failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Sender(Protocol):
    idempotent: bool  # True when the provider dedupes on `idempotency_key` (a resend is safe)

    def send(self, message: OutboundMessage) -> str:
        """The provider's message id. Raises ThrottledError or PermanentSendError; any other
        error is transient (retried)."""
        ...


Senders = Mapping[str, Sender]


def address_kind(channel: str) -> Literal["email", "phone", "wechat_openid", "push", "none"]:
    return {  # type: ignore[return-value]
        "email": "email",
        "sms": "phone",
        "wechat": "wechat_openid",
        "push": "push",
    }.get(channel, "none")
