"""Member tokens are verified as a brand's backend signs them: with a standard JWT library."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from shared.domain.ingest.member_tokens import (
    MemberTokenError,
    read_member_token,
    sign_member_token,
)
from shared.domain.kernel.errors import PermissionDeniedError

SECRET = "brand-backend-secret-" + "0123456789abcdef" * 3
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def claims(**changes):
    base = {
        "sub": "member-42",
        "aud": "omnireach",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(minutes=15)).timestamp()),
        "scope": "member:read member:exchange",
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def read(token, *, secrets=(SECRET,), now=NOW):
    return read_member_token(token, secrets=list(secrets), audience="omnireach", now=now)


def test_a_token_signed_with_pyjwt_names_its_member_and_scopes():
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    read_back = read(token)
    assert (read_back.user_id, read_back.scopes) == (
        "member-42",
        frozenset({"member:read", "member:exchange"}),
    )
    read_back.require("member:exchange")
    with pytest.raises(PermissionDeniedError):
        read_back.require("member:redeem")


def test_what_we_sign_pyjwt_verifies():
    token = sign_member_token(
        "member-42",
        secret=SECRET,
        audience="omnireach",
        now=NOW,
        scopes=["member:read"],
        lifetime=timedelta(minutes=5),
    )
    decoded = jwt.decode(
        token, SECRET, algorithms=["HS256"], audience="omnireach", options={"verify_exp": False}
    )
    assert (decoded["sub"], decoded["scope"], decoded["exp"] - decoded["iat"]) == (
        "member-42",
        "member:read",
        300,
    )


def test_an_older_secret_still_verifies_during_rotation():
    token = jwt.encode(claims(), "the-previous-secret-0123456789abcdef", algorithm="HS256")
    assert read(token, secrets=(SECRET, "the-previous-secret-0123456789abcdef")).user_id == "member-42"


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (jwt.encode(claims(), "another-secret-0123456789abcdefghij", algorithm="HS256"), "signature"),
        (jwt.encode(claims(), SECRET, algorithm="HS512"), "HS256"),
        (jwt.encode(claims(), None, algorithm="none"), "HS256"),
        (jwt.encode(claims(aud="someone-else"), SECRET, algorithm="HS256"), "audience"),
        (jwt.encode(claims(aud=None), SECRET, algorithm="HS256"), "audience"),
        (
            jwt.encode(claims(exp=int((NOW - timedelta(minutes=2)).timestamp())), SECRET, algorithm="HS256"),
            "expired",
        ),
        (
            jwt.encode(claims(exp=int((NOW + timedelta(hours=2)).timestamp())), SECRET, algorithm="HS256"),
            "an hour",
        ),
        (jwt.encode(claims(exp=None), SECRET, algorithm="HS256"), "exp"),
        (
            jwt.encode(claims(iat=int((NOW + timedelta(minutes=5)).timestamp())), SECRET, algorithm="HS256"),
            "future",
        ),
        (jwt.encode(claims(sub=None), SECRET, algorithm="HS256"), "sub"),
        (jwt.encode(claims(sub=7), SECRET, algorithm="HS256"), "sub"),
        ("not-a-token", "JWT"),
        ("a.b.c", "JWT"),
        ("é.é.é", "JWT"),
        ("x" * 5000 + ".a.b", "JWT"),
    ],
)
def test_a_token_that_does_not_verify_is_refused_with_its_reason(token, why):
    with pytest.raises(MemberTokenError, match=why) as refused:
        read(token)
    assert refused.value.code == "invalid_member_token"


def test_no_configured_secret_refuses_every_token():
    with pytest.raises(MemberTokenError, match="not configured"):
        read(jwt.encode(claims(), SECRET, algorithm="HS256"), secrets=())


def test_unknown_scopes_grant_nothing():
    token = jwt.encode(claims(scope="admin member:everything"), SECRET, algorithm="HS256")
    assert read(token).scopes == frozenset()
