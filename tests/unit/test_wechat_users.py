"""The unionid lookup without the network: access tokens kept and renewed before they expire
(and at once when WeChat says they are invalid), WeChat's error answers, and the touchpoint that
links openid and unionid."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.ingest.touchpoints import Channel, Source, SourceKind, SourceSecrets
from shared.domain.ingest.wechat_users import AccessTokens, WechatApiError, link_unionid
from shared.domain.kernel.identifiers import IdentifierType
from tests.fakes import FakeClock

ACCOUNT = Source(source_id="wx", name="OA", kind=SourceKind.WECHAT, channel=Channel.WECHAT, app_id="wx123")
SECRETS = SourceSecrets(signing=["token"], app_secret="s3cret0123456789")
SUBSCRIBED = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


@dataclass
class FakeWechat:
    clock: FakeClock
    issued: list[bool] = field(default_factory=list)  # force_refresh of each token request
    revoked: set[str] = field(default_factory=set)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def stable_token(self, app_id: str, app_secret: str, *, force_refresh: bool) -> dict[str, Any]:
        self.issued.append(force_refresh)
        if app_secret != "s3cret0123456789":
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        return {"access_token": f"t{len(self.issued)}", "expires_in": 7200}

    def user_info(self, access_token: str, openid: str) -> dict[str, Any]:
        if access_token in self.revoked:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        return self.answers.get(openid, {"subscribe": 1, "openid": openid, "unionid": f"union-{openid}"})


def tokens() -> tuple[AccessTokens, FakeWechat, FakeClock]:
    clock = FakeClock(SUBSCRIBED)
    api = FakeWechat(clock)
    return AccessTokens(api=api, clock=clock), api, clock


def test_a_subscriber_gets_a_touchpoint_naming_openid_and_unionid() -> None:
    keeper, _, clock = tokens()
    touchpoint = link_unionid(ACCOUNT, SECRETS, "o-1", subscribed_at=SUBSCRIBED, tokens=keeper, clock=clock)
    assert touchpoint is not None
    assert {(i.type, i.value) for i in touchpoint.identifiers} == {
        (IdentifierType.WECHAT_OPENID, "o-1"),
        (IdentifierType.WECHAT_UNIONID, "union-o-1"),
    }
    assert touchpoint.touchpoint_id == "wechat-user:wx:o-1:union-o-1"  # the same lookup twice: one
    assert touchpoint.type.value == "identify" and touchpoint.occurred_at == SUBSCRIBED


def test_the_token_is_kept_until_five_minutes_before_it_expires() -> None:
    keeper, api, clock = tokens()
    for _ in range(3):
        link_unionid(ACCOUNT, SECRETS, "o-1", subscribed_at=SUBSCRIBED, tokens=keeper, clock=clock)
    assert api.issued == [False]
    clock.advance(timedelta(seconds=7200 - 301))
    link_unionid(ACCOUNT, SECRETS, "o-1", subscribed_at=SUBSCRIBED, tokens=keeper, clock=clock)
    assert api.issued == [False]
    clock.advance(timedelta(seconds=2))  # inside the last five minutes: renewed before it expires
    link_unionid(ACCOUNT, SECRETS, "o-1", subscribed_at=SUBSCRIBED, tokens=keeper, clock=clock)
    assert api.issued == [False, False]


def test_a_token_wechat_no_longer_takes_is_renewed_at_once_and_the_lookup_retried() -> None:
    keeper, api, clock = tokens()
    link_unionid(ACCOUNT, SECRETS, "o-1", subscribed_at=SUBSCRIBED, tokens=keeper, clock=clock)
    api.revoked.add("t1")
    touchpoint = link_unionid(ACCOUNT, SECRETS, "o-2", subscribed_at=SUBSCRIBED, tokens=keeper, clock=clock)
    assert touchpoint is not None and api.issued == [False, True]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"subscribe": 1, "openid": "o-1"}, None),  # no Open Platform binding: no unionid
        ({"errcode": 40003, "errmsg": "invalid openid"}, None),
        ({"errcode": 45009, "errmsg": "api freq out of limit"}, WechatApiError),
        ({"errcode": -1, "errmsg": "system error"}, WechatApiError),
    ],
)
def test_wechat_answers_that_link_nothing_or_are_retried(answer: dict[str, Any], expected: object) -> None:
    keeper, api, clock = tokens()
    api.answers["o-1"] = answer
    if expected is WechatApiError:
        with pytest.raises(WechatApiError):
            link_unionid(ACCOUNT, SECRETS, "o-1", subscribed_at=SUBSCRIBED, tokens=keeper, clock=clock)
    else:
        assert (
            link_unionid(ACCOUNT, SECRETS, "o-1", subscribed_at=SUBSCRIBED, tokens=keeper, clock=clock)
            is None
        )


def test_a_wrong_app_secret_is_a_retried_failure_with_wechat_s_code() -> None:
    keeper, _, clock = tokens()
    wrong = SourceSecrets(signing=["token"], app_secret="not-the-secret00")
    with pytest.raises(WechatApiError) as raised:
        link_unionid(ACCOUNT, wrong, "o-1", subscribed_at=SUBSCRIBED, tokens=keeper, clock=clock)
    assert raised.value.details["errcode"] == 40125
