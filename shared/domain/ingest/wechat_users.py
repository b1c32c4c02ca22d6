"""A WeChat subscriber's unionid, from WeChat itself.

A subscribe event names the subscriber by their openid, which is per official account. The
unionid (the same person across the brand's accounts and mini-programs) comes from the user-info
API (`GET /cgi-bin/user/info`), called with an access token obtained with the account's AppID
and AppSecret. The token comes from `POST /cgi-bin/stable_token`: the same token while it is
valid, however many functions ask, so concurrent instances never invalidate each other's (as
`/cgi-bin/token` does). It is kept per process and renewed five minutes before it expires, or
at once when WeChat says it is invalid or expired.

This runs after ingest, from the bus, never in the webhook's answer: WeChat expects that answer
within 5 seconds, and a slow or failing WeChat API only delays the link (the message is retried,
then dead-lettered). The link is an `identify` touchpoint naming both the openid and the unionid,
so the identity graph joins them like any other identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.domain.ingest.touchpoints import Source, SourceSecrets, Touchpoint, TouchpointType
from shared.domain.kernel.errors import DependencyUnavailableError, InvalidInputError
from shared.domain.kernel.identifiers import IdentifierType, collect
from shared.domain.kernel.ports import Clock

RENEW_BEFORE = timedelta(minutes=5)
TOKEN_INVALID = {40001, 40014, 42001}  # invalid credential, invalid token, token expired
NO_SUCH_USER = {40003, 46004}  # invalid openid, user does not exist


class WechatApi(Protocol):
    def stable_token(self, app_id: str, app_secret: str, *, force_refresh: bool) -> dict[str, Any]:
        """WeChat's answer: `{"access_token", "expires_in"}` or `{"errcode", "errmsg"}`."""
        ...

    def user_info(self, access_token: str, openid: str) -> dict[str, Any]:
        """WeChat's answer: `{"subscribe", "openid", "unionid"?, ...}` or `{"errcode", "errmsg"}`."""
        ...


class WechatApiError(DependencyUnavailableError):
    """WeChat answered with an error this cannot get past now; the message is retried."""


@dataclass
class AccessTokens:
    """Each account's access token, kept in this process until five minutes before it expires."""

    api: WechatApi
    clock: Clock
    kept: dict[str, tuple[str, datetime]] = field(default_factory=dict)

    def token(self, app_id: str, app_secret: str, *, renew: bool = False) -> str:
        now = self.clock.now()
        held = self.kept.get(app_id)
        if held is not None and not renew and now < held[1] - RENEW_BEFORE:
            return held[0]
        answer = self.api.stable_token(app_id, app_secret, force_refresh=renew)
        token, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            self.kept.pop(app_id, None)
            raise WechatApiError(
                "WeChat gave no access token",
                details={"errcode": answer.get("errcode"), "errmsg": answer.get("errmsg")},
            )
        self.kept[app_id] = (token, now + timedelta(seconds=expires_in))
        return token


def subscriber_info(
    tokens: AccessTokens, source: Source, secrets: SourceSecrets, openid: str
) -> dict[str, Any]:
    """The user-info answer for `openid`, with one renewal of a token WeChat no longer takes."""
    if not source.app_id or not secrets.app_secret:
        raise InvalidInputError("The source has no AppID and AppSecret")
    token = tokens.token(source.app_id, secrets.app_secret)
    answer = tokens.api.user_info(token, openid)
    if answer.get("errcode") in TOKEN_INVALID:
        token = tokens.token(source.app_id, secrets.app_secret, renew=True)
        answer = tokens.api.user_info(token, openid)
    return answer


def link_unionid(
    source: Source,
    secrets: SourceSecrets,
    openid: str,
    *,
    subscribed_at: datetime,
    tokens: AccessTokens,
    clock: Clock,
) -> Touchpoint | None:
    """The touchpoint linking the subscriber's openid and unionid, or None when WeChat has no
    unionid for them (the account is not bound to an Open Platform account) or no such user."""
    answer = subscriber_info(tokens, source, secrets, openid)
    code = answer.get("errcode")
    if code in NO_SUCH_USER:
        return None
    if code not in (None, 0):
        raise WechatApiError(
            "WeChat's user-info API refused", details={"errcode": code, "errmsg": answer.get("errmsg")}
        )
    unionid = answer.get("unionid")
    if answer.get("openid") not in (None, openid) or not isinstance(unionid, str) or not unionid:
        return None
    identifiers = collect([(IdentifierType.WECHAT_OPENID, openid), (IdentifierType.WECHAT_UNIONID, unionid)])
    if len(identifiers) < 2:
        return None
    return Touchpoint(
        touchpoint_id=f"wechat-user:{source.source_id}:{openid}:{unionid}",
        type=TouchpointType.IDENTIFY,
        source_id=source.source_id,
        channel=source.channel,
        event="wechat.user_info",
        identifiers=identifiers,
        properties={"account": source.app_id},
        occurred_at=subscribed_at,
        received_at=clock.now(),
    )
