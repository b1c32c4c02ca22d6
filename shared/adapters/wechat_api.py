"""WeChat's official-account API over HTTPS (`WECHAT_API_URL`, https://api.weixin.qq.com): the
stable access token and user info. WeChat answers errors as HTTP 200 with `errcode`; those are
handed back as they are. A connection failure, a timeout or an HTTP error raises
DependencyUnavailableError (the message is retried)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from shared.domain.kernel.errors import DependencyUnavailableError

TIMEOUT_SECONDS = 5


class HttpWechatApi:
    def __init__(self, base_url: str) -> None:
        self._base = base_url.rstrip("/")

    def _call(self, request: urllib.request.Request) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
            raise DependencyUnavailableError(
                "WeChat's API did not answer", details={"cause": str(error)}
            ) from error
        if not isinstance(answer, dict):
            raise DependencyUnavailableError("WeChat's API answered something else than an object")
        return answer

    def stable_token(self, app_id: str, app_secret: str, *, force_refresh: bool) -> dict[str, Any]:
        body = {
            "grant_type": "client_credential",
            "appid": app_id,
            "secret": app_secret,
            "force_refresh": force_refresh,
        }
        return self._call(
            urllib.request.Request(  # noqa: S310 (the configured API URL)
                f"{self._base}/cgi-bin/stable_token",
                data=json.dumps(body).encode(),
                method="POST",
                headers={"content-type": "application/json"},
            )
        )

    def user_info(self, access_token: str, openid: str) -> dict[str, Any]:
        query = urllib.parse.urlencode({"access_token": access_token, "openid": openid, "lang": "zh_CN"})
        return self._call(urllib.request.Request(f"{self._base}/cgi-bin/user/info?{query}"))  # noqa: S310
