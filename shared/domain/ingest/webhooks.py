"""Channel webhooks: resolve the source, check its kind, verify the signature on the raw body,
then parse, normalise and enqueue. Nothing is enqueued for a request that fails any step."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from shared.domain.ingest.channels.ses import (
    is_sns_url,
    parse_sns,
    ses_event,
    touchpoint_from_ses,
    verify_sns,
)
from shared.domain.ingest.channels.shopify import touchpoint_from_shopify
from shared.domain.ingest.channels.standard import StandardWebhookPayload, touchpoint_from_standard_webhook
from shared.domain.ingest.channels.wechat import decrypt, parse_xml, touchpoint_from_wechat
from shared.domain.ingest.intake import ensure_usable
from shared.domain.ingest.payloads import parse_json_object
from shared.domain.ingest.ports import SnsCertificates, SnsSubscriptions, SourceRegistry, TouchpointQueue
from shared.domain.ingest.signatures import verify_shopify, verify_standard_webhooks, verify_wechat
from shared.domain.ingest.sources import SourceNotFoundError
from shared.domain.ingest.touchpoints import Source, SourceKind, SourceSecrets, Touchpoint
from shared.domain.kernel.errors import (
    AuthenticationError,
    InvalidInputError,
    PayloadTooLargeError,
    PermissionDeniedError,
)
from shared.domain.kernel.ports import Clock

MAX_WEBHOOK_BYTES = 256 * 1024  # one touchpoint must fit one queue message


def registered_source(
    source_id: str, kind: SourceKind, *, registry: SourceRegistry
) -> tuple[Source, SourceSecrets]:
    found = registry.find(source_id)
    if found is None:
        raise SourceNotFoundError("No source with this id", details={"source_id": source_id})
    return ensure_usable(found, kind=kind), registry.secrets(source_id)


def _json(raw_body: bytes) -> dict[str, Any]:
    payload = parse_json_object(raw_body, max_bytes=MAX_WEBHOOK_BYTES)
    try:
        json.dumps(payload, ensure_ascii=False).encode()  # lone surrogates can't travel on
    except UnicodeEncodeError as error:
        raise InvalidInputError("The body contains invalid Unicode") from error
    return payload


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)


def ingest_shopify(
    source_id: str,
    raw_body: bytes,
    headers: Mapping[str, str],
    *,
    registry: SourceRegistry,
    queue: TouchpointQueue,
    clock: Clock,
) -> Touchpoint | None:
    source, secrets = registered_source(source_id, SourceKind.SHOPIFY, registry=registry)
    verify_shopify(raw_body, headers, secrets.signing)
    topic = _header(headers, "x-shopify-topic")
    event_id = _header(headers, "x-shopify-event-id") or _header(headers, "x-shopify-webhook-id")
    if not topic or not event_id:
        raise InvalidInputError(
            "X-Shopify-Topic and X-Shopify-Event-Id (or X-Shopify-Webhook-Id) are required"
        )
    # The headers are not covered by the signature, the body is: the touchpoint is named by the
    # body, so one signed body replayed under new event ids or another topic is one touchpoint.
    touchpoint = touchpoint_from_shopify(
        topic.strip(),
        hashlib.sha256(raw_body).hexdigest()[:40],
        _json(raw_body),
        source=source,
        received_at=clock.now(),
    )
    if touchpoint is not None:
        queue.send_all([touchpoint])
    return touchpoint


def ingest_standard_webhook(
    source_id: str,
    raw_body: bytes,
    headers: Mapping[str, str],
    *,
    registry: SourceRegistry,
    queue: TouchpointQueue,
    clock: Clock,
) -> Touchpoint:
    source, secrets = registered_source(source_id, SourceKind.STANDARD_WEBHOOKS, registry=registry)
    webhook_id = verify_standard_webhooks(raw_body, headers, secrets.signing, now=clock.now())
    payload = StandardWebhookPayload.model_validate(_json(raw_body))
    touchpoint = touchpoint_from_standard_webhook(webhook_id, payload, source=source, received_at=clock.now())
    queue.send_all([touchpoint])
    return touchpoint


def ingest_ses(
    source_id: str,
    raw_body: bytes,
    *,
    registry: SourceRegistry,
    queue: TouchpointQueue,
    clock: Clock,
    certificates: SnsCertificates,
    subscriptions: SnsSubscriptions,
) -> Touchpoint | None:
    """SNS → SES events. The signature proves SNS sent it; the pinned topic proves it is this
    brand's topic (AWS signs every topic with the same certificate). A subscription is
    confirmed; nothing is enqueued for it."""
    source, _secrets = registered_source(source_id, SourceKind.SES, registry=registry)
    if len(raw_body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLargeError(f"The body is over {MAX_WEBHOOK_BYTES} bytes")
    message = parse_sns(raw_body)
    certificate_url = str(message.get("SigningCertURL", ""))
    if not is_sns_url(certificate_url, suffix=".pem"):
        raise AuthenticationError("SigningCertURL is not an SNS certificate URL")
    # The topic is looked at before any certificate is fetched (a message for another topic costs
    # no request), and is proven by the signature after (the topic is part of what is signed).
    if message["TopicArn"] != source.app_id:
        raise PermissionDeniedError("The SNS topic is not the one registered for this source")
    verify_sns(message, certificates.pem(certificate_url))
    if message["Type"] == "SubscriptionConfirmation":
        subscribe_url = str(message.get("SubscribeURL", ""))
        if not is_sns_url(subscribe_url):
            raise InvalidInputError("SubscribeURL is not an SNS URL")
        subscriptions.confirm(subscribe_url)
        return None
    if message["Type"] != "Notification":
        return None
    event = ses_event(message)
    touchpoint = touchpoint_from_ses(str(message["MessageId"]), event, source=source, received_at=clock.now())
    queue.send_all([touchpoint])
    return touchpoint


def _query(query: Mapping[str, str], name: str) -> str:
    value = query.get(name)
    if not value:
        raise AuthenticationError(f"Missing {name} query parameter")
    return value


def verify_wechat_server(
    source_id: str, query: Mapping[str, str], *, registry: SourceRegistry, clock: Clock
) -> str:
    """The GET check WeChat makes when the callback URL is configured: answer `echostr`."""
    _source, secrets = registered_source(source_id, SourceKind.WECHAT, registry=registry)
    verify_wechat(
        secrets.signing[0],
        timestamp=_query(query, "timestamp"),
        nonce=_query(query, "nonce"),
        signature=_query(query, "signature"),
        now=clock.now(),
    )
    return _query(query, "echostr")


def ingest_wechat(
    source_id: str,
    raw_body: bytes,
    query: Mapping[str, str],
    *,
    registry: SourceRegistry,
    queue: TouchpointQueue,
    clock: Clock,
) -> Touchpoint:
    """Plaintext mode signs only token/timestamp/nonce; safe mode (an encryption key is set for the
    source) also signs and encrypts the body, and is then the only mode accepted."""
    source, secrets = registered_source(source_id, SourceKind.WECHAT, registry=registry)
    token, timestamp, nonce = secrets.signing[0], _query(query, "timestamp"), _query(query, "nonce")
    if secrets.encryption_key:
        envelope = parse_xml(raw_body)
        encrypted = envelope.get("Encrypt")
        if not encrypted or query.get("encrypt_type") != "aes":
            raise AuthenticationError("This account is in safe mode: the message must be encrypted")
        verify_wechat(
            token,
            timestamp=timestamp,
            nonce=nonce,
            signature=_query(query, "msg_signature"),
            now=clock.now(),
            extra=encrypted,
        )
        message = parse_xml(decrypt(encrypted, encoding_aes_key=secrets.encryption_key, app_id=source.app_id))
    else:
        verify_wechat(
            token, timestamp=timestamp, nonce=nonce, signature=_query(query, "signature"), now=clock.now()
        )
        message = parse_xml(raw_body)
    touchpoint = touchpoint_from_wechat(message, source=source, received_at=clock.now())
    queue.send_all([touchpoint])
    return touchpoint
