"""The local stack's stand-in for the message providers reached over HTTP: the WeChat template
message gateway (`WechatGatewayUrl`) and the webhook channel (`MessageWebhookUrl`). Email, SMS
and push go to the emulator's SES and SNS.

`POST /<channel>` takes a message as `HttpSender` posts it and answers as WeChat's gateway does
(`{"errcode": 0, "msgid": ...}`); a repeated `idempotency-key` gets the first answer and is kept
once. `GET /<channel>` lists what it took, oldest first (`?to=<address>` for one recipient), with
the local stack's time of arrival. It keeps the latest `MESSAGES_KEPT` per channel.

It is also WeChat's official-account API (`WechatApiUrl`), as far as the unionid lookup uses it:
`POST /cgi-bin/stable_token` answers an access token valid 7200 s of the stack's time (the same
one until it expires, unless `force_refresh`; errcode 40125 for an AppSecret other than the one
registered for that AppID, when one is), and `GET /cgi-bin/user/info` answers a subscriber with
their unionid: the one registered for the openid (`unionids`), else one derived from it, so the
same person's openid always yields the same unionid (errcode 40001 for an unknown token, 42001
for an expired one)."""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.local_http import BackgroundHttpServer, JsonHandler

CHANNELS = ("wechat", "webhook")
MESSAGES_KEPT = 10_000


class MessageGateway(BackgroundHttpServer):
    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, now: Callable[[], datetime] | None = None
    ) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._messages: dict[str, deque[dict[str, Any]]] = {c: deque(maxlen=MESSAGES_KEPT) for c in CHANNELS}
        self._answers: dict[str, str] = {}  # idempotency key -> msgid
        self._ids = itertools.count(1)
        self.app_secrets: dict[str, str] = {}  # AppID -> AppSecret (unregistered: any secret)
        self.unionids: dict[str, str] = {}  # openid -> unionid (unregistered: derived)
        self._tokens: dict[str, tuple[str, str, datetime]] = {}  # token -> (AppID, _, expiry)
        self._current: dict[str, str] = {}  # AppID -> its current token
        self.user_info_calls = 0
        gateway = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                channel = self.path.strip("/").split("?")[0]
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                if channel == "cgi-bin/stable_token":
                    try:
                        request = json.loads(raw)
                    except ValueError:
                        request = {}
                    self._answer(200, gateway.stable_token(request if isinstance(request, dict) else {}))
                    return
                if channel not in CHANNELS:
                    self._answer(404, {"errcode": 404, "errmsg": f"no channel {channel!r}"})
                    return
                try:
                    message = json.loads(raw)
                except ValueError:
                    self._answer(400, {"errcode": 40001, "errmsg": "invalid JSON"})
                    return
                msgid = gateway.take(channel, message, self.headers.get("idempotency-key") or "")
                self._answer(200, {"errcode": 0, "errmsg": "ok", "msgid": msgid})

            def do_GET(self) -> None:
                parsed = urllib.parse.urlparse(self.path)
                channel = parsed.path.strip("/")
                if channel == "cgi-bin/user/info":
                    query = {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}
                    self._answer(
                        200, gateway.user_info(query.get("access_token", ""), query.get("openid", ""))
                    )
                    return
                if channel not in CHANNELS:
                    self._answer(404, {"errcode": 404, "errmsg": f"no channel {channel!r}"})
                    return
                to = urllib.parse.parse_qs(parsed.query).get("to", [None])[0]
                self._answer(200, {"messages": gateway.messages(channel, to=to)})

        super().__init__(host, port, Handler, name="message-gateway")

    def take(self, channel: str, message: dict[str, Any], idempotency_key: str) -> str:
        with self._lock:
            if idempotency_key and idempotency_key in self._answers:
                return self._answers[idempotency_key]
            msgid = str(next(self._ids))
            if idempotency_key:
                self._answers[idempotency_key] = msgid
                if len(self._answers) > MESSAGES_KEPT * len(CHANNELS):
                    del self._answers[next(iter(self._answers))]  # the oldest key
            self._messages[channel].append(
                {"msgid": msgid, "received_at": self._now().isoformat(), "message": message}
            )
            return msgid

    def messages(self, channel: str, *, to: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self._messages[channel] if to is None or m["message"].get("touser") == to]

    def url(self, channel: str) -> str:
        return f"{self.base_url}/{channel}"

    # ------------------------------------------------------------ WeChat's API
    def stable_token(self, request: dict[str, Any]) -> dict[str, Any]:
        app_id, secret = str(request.get("appid") or ""), str(request.get("secret") or "")
        if request.get("grant_type") != "client_credential" or not app_id or not secret:
            return {"errcode": 40002, "errmsg": "invalid grant_type, appid or secret"}
        if self.app_secrets.get(app_id, secret) != secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        now = self._now()
        with self._lock:
            current = self._current.get(app_id)
            held = self._tokens.get(current) if current else None
            if held is None or held[2] <= now or request.get("force_refresh"):
                current = secrets.token_urlsafe(24)
                self._tokens[current] = (app_id, secret, now + timedelta(seconds=7200))
                self._current[app_id] = current
                held = self._tokens[current]
            return {"access_token": current, "expires_in": int((held[2] - now).total_seconds())}

    def user_info(self, token: str, openid: str) -> dict[str, Any]:
        with self._lock:
            self.user_info_calls += 1
            held = self._tokens.get(token)
            if held is None:
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            if held[2] <= self._now():
                return {"errcode": 42001, "errmsg": "access_token expired"}
            if not openid:
                return {"errcode": 40003, "errmsg": "invalid openid"}
            unionid = self.unionids.get(openid) or "u" + hashlib.sha256(openid.encode()).hexdigest()[:27]
        return {"subscribe": 1, "openid": openid, "unionid": unionid, "language": "zh_CN"}
