"""A simulated sales-channel endpoint (a marketplace or a store system) for the local stack's demo and
the tests: it verifies the Standard Webhooks signature of every push, keeps the latest value per
SKU, refuses pushes older than the one it holds (by `sequence`), can be taken down (503) and can
be made to drift (as if someone edited the listing on the channel). `GET /inventory?skus=a,b`
answers what it shows, which is what reconciliation reads."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.local_http import BackgroundHttpServer, JsonHandler
from shared.domain.ingest.signatures import verify_standard_webhooks
from shared.domain.kernel.errors import AuthenticationError


@dataclass
class SimulatedChannel:
    secret: str = ""
    down: bool = False
    shown: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)  # every accepted push, in order
    refused: int = 0  # pushes answered 503 while down, or 401 for a bad signature
    stale: int = 0  # pushes older than what is shown (should never happen)

    def drift(self, sku: str, **changes: Any) -> None:
        self.shown.setdefault(sku, {}).update(changes)


class ChannelSimulator(BackgroundHttpServer):
    """One HTTP server hosting any number of simulated channels at `/<name>/push` and `/<name>/inventory`."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, now: Callable[[], datetime] | None = None
    ) -> None:
        self.channels: dict[str, SimulatedChannel] = {}
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        simulator = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                name, _, action = self.path.strip("/").partition("/")
                channel = simulator.channels.get(name)
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                if channel is None or action != "push":
                    self._answer(404)
                    return
                status = simulator._push(channel, raw, {k.lower(): v for k, v in self.headers.items()})
                self._answer(status)

            def do_GET(self) -> None:
                parsed = urllib.parse.urlparse(self.path)
                name, _, action = parsed.path.strip("/").partition("/")
                channel = simulator.channels.get(name)
                if channel is None or action != "inventory":
                    self._answer(404)
                    return
                if channel.down:
                    self._answer(503)
                    return
                skus = [s for s in urllib.parse.parse_qs(parsed.query).get("skus", [""])[0].split(",") if s]
                with simulator._lock:
                    items = {sku: dict(channel.shown[sku]) for sku in skus if sku in channel.shown}
                self._answer(200, {"items": items})

        super().__init__(host, port, Handler, name="channel-simulator")

    def _push(self, channel: SimulatedChannel, raw: bytes, headers: dict[str, str]) -> int:
        if channel.down:
            channel.refused += 1
            return 503
        try:
            verify_standard_webhooks(raw, headers, [channel.secret], now=self._now())
        except AuthenticationError:
            channel.refused += 1
            return 401
        data = json.loads(raw)["data"]
        with self._lock:
            current = channel.shown.get(data["sku"], {})
            if data["sequence"] < current.get("sequence", 0):
                channel.stale += 1
                return 409
            channel.shown[data["sku"]] = {
                "available": data["available"],
                "price": data["price"],
                "sequence": data["sequence"],
            }
            channel.received.append(data)
        return 204

    def add(self, name: str, secret: str = "") -> SimulatedChannel:
        channel = self.channels.setdefault(name, SimulatedChannel())
        if secret:
            channel.secret = secret
        return channel

    def urls(self, name: str) -> dict[str, str]:
        return {
            "endpoint_url": f"{self.base_url}/{name}/push",
            "read_url": f"{self.base_url}/{name}/inventory",
        }
