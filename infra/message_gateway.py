"""The local stack's stand-in for the message providers reached over HTTP: the WeChat template
message gateway (`WechatGatewayUrl`) and the webhook channel (`MessageWebhookUrl`). Email, SMS
and push go to the emulator's SES and SNS.

`POST /<channel>` takes a message as `HttpSender` posts it and answers as WeChat's gateway does
(`{"errcode": 0, "msgid": ...}`); a repeated `idempotency-key` gets the first answer and is kept
once. `GET /<channel>` lists what it took, oldest first (`?to=<address>` for one recipient), with
the local stack's time of arrival. It keeps the latest `MESSAGES_KEPT` per channel."""

from __future__ import annotations

import itertools
import json
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
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
        gateway = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                channel = self.path.strip("/").split("?")[0]
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
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
