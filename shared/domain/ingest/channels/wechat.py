"""WeChat official-account callbacks: XML messages and events, plaintext or safe mode (AES).

Safe mode (WXBizMsgCrypt): AES-256-CBC, key = base64(EncodingAESKey + "="), IV = key[:16],
plaintext = 16 random bytes + 4-byte big-endian length + XML + AppID, PKCS#7 padded to 32 bytes.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

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

MAX_WECHAT_BYTES = 64 * 1024
_PKCS7_BLOCK = 32


def parse_xml(raw: bytes) -> dict[str, str]:
    """The flat `<xml>` document WeChat sends, as tag → text. Entities and DTDs are refused."""
    if len(raw) > MAX_WECHAT_BYTES:
        raise InvalidInputError("The WeChat message is too large")
    try:
        root = ElementTree.fromstring(raw)
    except (ElementTree.ParseError, DefusedXmlException) as error:
        raise InvalidInputError(f"The body is not a WeChat XML message: {error}") from error
    return {child.tag: (child.text or "").strip() for child in root}


def decrypt(encrypted: str, *, encoding_aes_key: str, app_id: str | None) -> bytes:
    try:
        key = base64.b64decode(encoding_aes_key + "=")
        ciphertext = base64.b64decode(encrypted)
    except binascii.Error as error:
        raise AuthenticationError("The encrypted WeChat message is not base64") from error
    if len(key) != 32 or not ciphertext or len(ciphertext) % 16:
        raise AuthenticationError("The encrypted WeChat message cannot be decrypted")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(ciphertext) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= _PKCS7_BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise AuthenticationError("The encrypted WeChat message cannot be decrypted")
    content = plain[16:-pad]
    length = int.from_bytes(content[:4], "big")
    xml, sender = content[4 : 4 + length], content[4 + length :].decode(errors="replace")
    if len(xml) != length or (app_id and sender != app_id):
        raise AuthenticationError("The encrypted WeChat message is not for this account")
    return xml


_CONSENT = {
    "subscribe": (ConsentStatus.GRANTED, "subscribe"),
    "unsubscribe": (ConsentStatus.REVOKED, "unsubscribe"),
}


def touchpoint_from_wechat(message: dict[str, str], *, source: Source, received_at: datetime) -> Touchpoint:
    sender, created = message.get("FromUserName"), message.get("CreateTime", "")
    msg_type = message.get("MsgType", "").lower()
    if not sender or not msg_type or not created.isdigit():
        raise InvalidInputError("A WeChat message needs FromUserName, CreateTime and MsgType")
    event = message.get("Event", "")
    name = f"wechat.{event.lower()}" if msg_type == "event" else f"wechat.message.{msg_type}"
    # WeChat's dedupe rule: MsgId for messages, FromUserName + CreateTime for events.
    dedupe = message.get("MsgId") or f"{sender}:{created}"
    consent = []
    if event.lower() in _CONSENT:
        status, reason = _CONSENT[event.lower()]
        consent.append(ConsentSignal(channel=Channel.WECHAT, status=status, reason=reason))
    properties: dict[str, Any] = {
        key: message[tag]
        for key, tag in (
            ("account", "ToUserName"),
            ("event_key", "EventKey"),
            ("content", "Content"),
            ("url", "Url"),
            ("msg_id", "MsgId"),
            ("ticket", "Ticket"),
        )
        if message.get(tag)
    }
    return Touchpoint(
        touchpoint_id=f"wechat:{source.source_id}:{dedupe}",
        type=TouchpointType.MESSAGE,
        source_id=source.source_id,
        channel=source.channel,
        event=name,
        identifiers=collect([(IdentifierType.WECHAT_OPENID, sender)]),
        properties=properties,
        consent=consent,
        occurred_at=datetime.fromtimestamp(int(created), UTC),
        received_at=received_at,
    )
