"""Email events from SES, delivered by SNS: the SNS message signature, subscription
confirmation, and SES event publishing / notification payloads."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared.domain.ingest.payloads import items, loads_json, mapping, timestamp
from shared.domain.ingest.touchpoints import (
    Channel,
    ConsentSignal,
    ConsentStatus,
    Source,
    Touchpoint,
    TouchpointType,
)
from shared.domain.kernel.errors import AuthenticationError, InvalidInputError
from shared.domain.kernel.identifiers import IdentifierType, collect

SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_SIGNED_KEYS = {  # the fields SNS signs, in its order, for each message type
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATION_KEYS,
    "UnsubscribeConfirmation": _CONFIRMATION_KEYS,
}
_HASH_BY_VERSION = {"1": hashes.SHA1, "2": hashes.SHA256}


def is_sns_url(url: str, *, suffix: str = "") -> bool:
    parsed = urlparse(url)
    return (
        parsed.scheme == "https"
        and bool(SNS_HOST.match(parsed.hostname or ""))
        and parsed.path.endswith(suffix)
    )


def string_to_sign(message: dict[str, Any]) -> bytes:
    keys = _SIGNED_KEYS.get(str(message.get("Type")))
    if keys is None:
        raise InvalidInputError("Unknown SNS message Type")
    return "".join(f"{key}\n{message[key]}\n" for key in keys if key in message).encode()


def verify_sns(message: dict[str, Any], certificate_pem: bytes) -> None:
    """SignatureVersion 1 (SHA1withRSA) or 2 (SHA256withRSA) over the canonical string."""
    algorithm = _HASH_BY_VERSION.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise AuthenticationError("Unsupported SNS SignatureVersion")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        public_key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    except (binascii.Error, ValueError) as error:
        raise AuthenticationError("The SNS signature or certificate is unreadable") from error
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise AuthenticationError("The SNS certificate is not an RSA certificate")
    try:
        public_key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature as error:
        raise AuthenticationError("The SNS signature does not match") from error


def _recipients(event_type: str, event: dict[str, Any], mail: dict[str, Any]) -> list[Any]:
    if event_type == "Bounce":
        return [
            mapping(r).get("emailAddress")
            for r in items(mapping(event.get("bounce")).get("bouncedRecipients"))
        ]
    if event_type == "Complaint":
        complained = items(mapping(event.get("complaint")).get("complainedRecipients"))
        return [mapping(r).get("emailAddress") for r in complained]
    return items(mail.get("destination"))


def touchpoint_from_ses(
    sns_message_id: str, event: dict[str, Any], *, source: Source, received_at: datetime
) -> Touchpoint:
    event_type = str(event.get("eventType") or event.get("notificationType") or "")
    if not event_type:
        raise InvalidInputError("The SNS message is not an SES event")
    mail = mapping(event.get("mail"))
    detail = mapping(event.get(event_type[0].lower() + event_type[1:]))
    consent = []
    if event_type == "Complaint":
        consent.append(ConsentSignal(channel=Channel.EMAIL, status=ConsentStatus.REVOKED, reason="complaint"))
    if event_type == "Subscription" and mapping(detail.get("newTopicPreferences")).get("unsubscribeAll"):
        consent.append(
            ConsentSignal(channel=Channel.EMAIL, status=ConsentStatus.REVOKED, reason="unsubscribe")
        )
    properties: dict[str, Any] = {
        "ses_message_id": mail.get("messageId"),
        "tags": mail.get("tags", {}),
        **{
            key: detail[key]
            for key in ("link", "bounceType", "bounceSubType", "complaintFeedbackType", "userAgent")
            if key in detail
        },
    }
    return Touchpoint(
        touchpoint_id=f"ses:{source.source_id}:{sns_message_id}",
        type=TouchpointType.EMAIL_EVENT,
        source_id=source.source_id,
        channel=source.channel,
        event=f"email.{event_type.lower()}",
        identifiers=collect(
            [(IdentifierType.EMAIL, address) for address in _recipients(event_type, event, mail)]
        ),
        properties=properties,
        consent=consent,
        occurred_at=timestamp(detail.get("timestamp") or mail.get("timestamp"), received_at),
        received_at=received_at,
    )


def parse_sns(raw_body: bytes) -> dict[str, Any]:
    try:
        message = loads_json(raw_body)
    except InvalidInputError as error:
        raise InvalidInputError(f"The body is not an SNS message: {error.message}") from error
    if not isinstance(message, dict) or not {"Type", "MessageId", "TopicArn", "Signature"} <= set(message):
        raise InvalidInputError("The body is not an SNS message")
    return message


def ses_event(message: dict[str, Any]) -> dict[str, Any]:
    try:
        event = loads_json(str(message.get("Message", "")))
    except InvalidInputError as error:
        raise InvalidInputError(f"The SNS Message is not an SES event: {error.message}") from error
    if not isinstance(event, dict):
        raise InvalidInputError("The SNS Message is not an SES event")
    return event
