import base64

import pytest

from shared.domain.ingest.credentials import basic_auth_username, bearer_token, matches_digest, secret_digest
from shared.domain.kernel.errors import AuthenticationError


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_segment_style_basic_auth_yields_the_write_key():
    assert basic_auth_username(basic("wk-123:")) == "wk-123"


def test_no_header_is_no_key():
    assert basic_auth_username(None) is None
    assert basic_auth_username(basic(":password")) is None


@pytest.mark.parametrize(
    "header", ["Bearer x", "Basic", "Basic !!notbase64!!", "Basic " + base64.b64encode(b"\xff").decode()]
)
def test_unreadable_basic_headers_are_refused(header):
    with pytest.raises(AuthenticationError):
        basic_auth_username(header)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Token x"])
def test_admin_routes_need_a_bearer_token(header):
    with pytest.raises(AuthenticationError):
        bearer_token(header)


def test_bearer_token_is_extracted():
    assert bearer_token("Bearer  key-1 ") == "key-1"


def test_digests_compare_equal_only_for_the_same_secret():
    assert matches_digest("s3cret", secret_digest("s3cret"))
    assert not matches_digest("s3cret!", secret_digest("s3cret"))
