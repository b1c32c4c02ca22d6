"""Unsubscribe links (issue 15, defect 7): sealed with a random secret of their own, opaque,
unforgeable, expiring, rotatable."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.engagement.unsubscribe import LINK_LIFETIME, InvalidLinkError, open_link, seal_link

SECRET = "link-secret-" + "a" * 32
OLDER = "link-secret-" + "b" * 32
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PROFILE = "0b6f24fb-9e0d-554d-9c5b-a33b628794ee"


def test_a_link_opens_to_its_person_and_channel_and_reveals_neither():
    token = seal_link([SECRET], PROFILE, "email", now=NOW)
    assert open_link([SECRET], token, now=NOW) == (PROFILE, "email")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert PROFILE.encode() not in raw and b"email" not in raw and PROFILE[:8] not in token
    assert seal_link([SECRET], PROFILE, "email", now=NOW) != token  # a fresh nonce each time


def test_a_link_works_for_its_lifetime_then_says_it_expired():
    token = seal_link([SECRET], PROFILE, "email", now=NOW)
    assert open_link([SECRET], token, now=NOW + LINK_LIFETIME - timedelta(seconds=1))[0] == PROFILE
    with pytest.raises(InvalidLinkError, match="expired"):
        open_link([SECRET], token, now=NOW + LINK_LIFETIME)


def test_links_sealed_before_a_rotation_open_while_the_old_secret_is_listed():
    token = seal_link([OLDER], PROFILE, "*", now=NOW)
    assert open_link([SECRET, OLDER], token, now=NOW) == (PROFILE, "*")
    with pytest.raises(InvalidLinkError):
        open_link([SECRET], token, now=NOW)


def test_the_old_admin_key_derived_links_no_longer_open():
    admin_digest = hashlib.sha256(b"admin-key").hexdigest()
    secret = hashlib.sha256(f"unsubscribe:{admin_digest}".encode()).digest()
    payload = f"{PROFILE}|email".encode()
    mac = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    forged = base64.urlsafe_b64encode(payload + b"|" + mac).decode().rstrip("=")
    with pytest.raises(InvalidLinkError):
        open_link([SECRET], forged, now=NOW)


@given(position=st.integers(min_value=0, max_value=60), flip=st.integers(min_value=1, max_value=255))
def test_an_altered_link_never_opens(position, flip):
    token = seal_link([SECRET], PROFILE, "email", now=NOW, nonce=b"\x00" * 12)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[position % len(raw)] ^= flip
    altered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(InvalidLinkError):
        open_link([SECRET], altered, now=NOW)


@pytest.mark.parametrize("token", ["", "not-a-token", "%%%", "AQ", "A" * 600])
def test_garbage_is_a_clear_invalid_link(token):
    with pytest.raises(InvalidLinkError, match="not valid"):
        open_link([SECRET], token, now=NOW)
