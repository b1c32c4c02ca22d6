"""Typed customer identifiers, normalised the same way everywhere (ingest, lookup, export):
emails trimmed and lower-cased, phones in E.164, other ids trimmed. Junk values are dropped at
the edge so they can never link two people."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class IdentifierType(StrEnum):
    USER_ID = "user_id"
    EMAIL = "email"
    PHONE = "phone"
    ANONYMOUS_ID = "anonymous_id"
    DEVICE_ID = "device_id"
    WECHAT_OPENID = "wechat_openid"
    WECHAT_UNIONID = "wechat_unionid"
    POS_CUSTOMER_ID = "pos_customer_id"
    LOYALTY_CARD = "loyalty_card"
    SHOP_CUSTOMER_ID = "shop_customer_id"


class Identifier(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: IdentifierType
    value: str


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_JUNK = {
    "",
    "null",
    "none",
    "undefined",
    "nan",
    "0",
    "-1",
    "anonymous",
    "guest",
    "unknown",
    "[object object]",
}
MAX_IDENTIFIER_LENGTH = 255


def normalise_email(raw: str) -> str | None:
    email = raw.strip().lower()
    return email if _EMAIL.match(email) and len(email) <= MAX_IDENTIFIER_LENGTH else None


def normalise_phone(raw: str, *, default_country_code: str | None = None) -> str | None:
    """E.164 (`+<country><number>`, 8 to 15 digits). A national number needs the source's default
    country code; a leading trunk `0` is dropped. Anything else is not a phone number."""
    text = raw.strip()
    digits = re.sub(r"[\s\-().]", "", text)
    if digits.startswith("+"):
        number = digits[1:]
    elif digits.startswith("00"):
        number = digits[2:]
    elif default_country_code:
        number = default_country_code + digits.lstrip("0")
    else:
        return None
    if not number.isdigit() or not 8 <= len(number) <= 15 or number.startswith("0"):
        return None
    return "+" + number


def normalise(
    identifier_type: IdentifierType, raw: object, *, default_country_code: str | None = None
) -> Identifier | None:
    """The normalised identifier, or None for junk (blank, `null`, `0`, all zeros, too long)."""
    if raw is None or isinstance(raw, bool | dict | list):
        return None
    text = str(raw).strip()
    if text.lower() in _JUNK or set(text) <= {"0", "-"} or len(text) > MAX_IDENTIFIER_LENGTH:
        return None
    value: str | None
    if identifier_type is IdentifierType.EMAIL:
        value = normalise_email(text)
    elif identifier_type is IdentifierType.PHONE:
        value = normalise_phone(text, default_country_code=default_country_code)
    else:
        value = text
    return None if value is None else Identifier(type=identifier_type, value=value)


def collect(
    pairs: list[tuple[IdentifierType, object]], *, default_country_code: str | None = None
) -> list[Identifier]:
    """Normalise and de-duplicate, keeping the first occurrence's order."""
    seen: dict[Identifier, None] = {}
    for identifier_type, raw in pairs:
        identifier = normalise(identifier_type, raw, default_country_code=default_country_code)
        if identifier is not None:
            seen.setdefault(identifier, None)
    return list(seen)
