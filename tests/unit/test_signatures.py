"""Known-answer tests for each signature scheme, plus the mutations a forger would try."""

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from shared.domain.ingest.signatures import (
    verify_shopify,
    verify_standard_webhooks,
    verify_wechat,
    wechat_signature,
)
from shared.domain.kernel.errors import AuthenticationError

# GitHub's published HMAC-SHA256 vector (validating-webhook-deliveries), in Shopify's base64 form.
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_HEX = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
SHOPIFY_HEADER = base64.b64encode(bytes.fromhex(GITHUB_HEX)).decode()

# The Standard Webhooks reference vector (svix / standard-webhooks libraries).
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TIMESTAMP = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SW_NOW = datetime.fromtimestamp(SW_TIMESTAMP, UTC)


def sw_headers(signature=SW_SIGNATURE, timestamp=SW_TIMESTAMP, webhook_id=SW_ID):
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_shopify_known_answer():
    verify_shopify(GITHUB_PAYLOAD, {"X-Shopify-Hmac-Sha256": SHOPIFY_HEADER}, [GITHUB_SECRET])


@pytest.mark.parametrize(
    ("body", "header", "secrets"),
    [
        (b"Hello, World! ", SHOPIFY_HEADER, [GITHUB_SECRET]),  # body changed after signing
        (GITHUB_PAYLOAD, GITHUB_HEX, [GITHUB_SECRET]),  # hex is not Shopify's encoding
        (GITHUB_PAYLOAD, SHOPIFY_HEADER, ["another secret"]),
        (GITHUB_PAYLOAD, None, [GITHUB_SECRET]),
    ],
)
def test_shopify_forgeries_are_refused(body, header, secrets):
    headers = {} if header is None else {"X-Shopify-Hmac-Sha256": header}
    with pytest.raises(AuthenticationError):
        verify_shopify(body, headers, secrets)


def test_shopify_accepts_either_secret_during_rotation():
    verify_shopify(GITHUB_PAYLOAD, {"x-shopify-hmac-sha256": SHOPIFY_HEADER}, ["new secret", GITHUB_SECRET])


def test_standard_webhooks_known_answer_and_library_agree():
    assert Webhook(SW_SECRET).sign(SW_ID, SW_NOW, SW_BODY.decode()) == SW_SIGNATURE
    assert verify_standard_webhooks(SW_BODY, sw_headers(), [SW_SECRET], now=SW_NOW) == SW_ID


@pytest.mark.parametrize("skew", [timedelta(minutes=10), timedelta(minutes=-10)], ids=["old", "ahead"])
def test_standard_webhooks_refuses_timestamps_ten_minutes_off(skew):
    with pytest.raises(AuthenticationError, match="tolerance"):
        verify_standard_webhooks(SW_BODY, sw_headers(), [SW_SECRET], now=SW_NOW + skew)


def test_standard_webhooks_accepts_one_valid_among_several_signatures():
    header = f"v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {SW_SIGNATURE} v1a,ignored"
    verify_standard_webhooks(SW_BODY, sw_headers(signature=header), [SW_SECRET], now=SW_NOW)


def test_standard_webhooks_rotation_with_two_secrets():
    old = "whsec_" + base64.b64encode(b"o" * 32).decode()
    new = "whsec_" + base64.b64encode(b"n" * 32).decode()
    signed_with_old = Webhook(old).sign(SW_ID, SW_NOW, SW_BODY.decode())
    verify_standard_webhooks(SW_BODY, sw_headers(signature=signed_with_old), [new, old], now=SW_NOW)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"test":2432232314}', sw_headers()),  # re-serialised after signing
        (SW_BODY, sw_headers(webhook_id="msg_other")),
        (SW_BODY, sw_headers(timestamp=SW_TIMESTAMP + 1)),
        (SW_BODY, sw_headers(signature=SW_SIGNATURE.replace("v1,", "v2,"))),
        (SW_BODY, {"webhook-id": SW_ID, "webhook-timestamp": str(SW_TIMESTAMP)}),
        (SW_BODY, sw_headers(timestamp="yesterday")),
    ],
)
def test_standard_webhooks_forgeries_are_refused(body, headers):
    with pytest.raises(AuthenticationError):
        verify_standard_webhooks(body, headers, [SW_SECRET], now=SW_NOW)


def test_wechat_known_answer():
    # sha1 over the sorted strings, computed independently here.
    expected = hashlib.sha1(b"".join(sorted([b"pamtest", b"1409304348", b"xxxxxx"]))).hexdigest()  # noqa: S324
    assert wechat_signature("pamtest", "1409304348", "xxxxxx") == expected
    verify_wechat(
        "pamtest",
        timestamp="1409304348",
        nonce="xxxxxx",
        signature=expected,
        now=datetime.fromtimestamp(1409304348, UTC),
    )


def test_wechat_refuses_a_wrong_signature_and_an_old_timestamp():
    good = wechat_signature("pamtest", "1409304348", "xxxxxx")
    at = datetime.fromtimestamp(1409304348, UTC)
    with pytest.raises(AuthenticationError):
        verify_wechat("pamtest", timestamp="1409304348", nonce="yyyyyy", signature=good, now=at)
    with pytest.raises(AuthenticationError, match="tolerance"):
        verify_wechat(
            "pamtest", timestamp="1409304348", nonce="xxxxxx", signature=good, now=at + timedelta(minutes=10)
        )
