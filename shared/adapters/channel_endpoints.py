"""Channel endpoints over HTTPS: pushes signed with Standard Webhooks, reads of what a channel shows.

A push is `POST endpoint_url` with a JSON body and the three Standard Webhooks headers:
`webhook-id` (the (channel, SKU, sequence) id, the same on every retry of that push),
`webhook-timestamp` (unix seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of
`{id}.{timestamp}.{body}` keyed by the channel's `whsec_` secret). Any 2xx is success; 429 and 5xx
are retried by the queue with backoff; other 4xx are also retried (the channel may be fixed) and
end on the DLQ when they persist."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.adapters.sealed_secrets import SecretSealer
from shared.domain.commerce.channel_sync import EndpointError
from shared.domain.commerce.sales_channels import SalesChannel

TIMEOUT_SECONDS = 5


def signing_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(signing_key(secret), signed, hashlib.sha256).digest()).decode()


class HttpChannelEndpoints:
    def __init__(self, sealer: SecretSealer | None = None) -> None:
        self._sealer = sealer or SecretSealer(None)

    def push(self, channel: SalesChannel, message_id: str, payload: dict[str, Any], *, now: datetime) -> None:
        if not channel.endpoint_url:
            raise EndpointError("The channel has no endpoint")
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = int(now.timestamp())
        request = urllib.request.Request(  # noqa: S310 (the channel's configured http(s) URL)
            channel.endpoint_url,
            data=body,
            method="POST",
            headers={
                "content-type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(
                    self._sealer.open(channel.signing_secret), message_id, timestamp, body
                ),
                "user-agent": "omnireach-channel-sync",
            },
        )
        self._send(request)

    def read(self, channel: SalesChannel, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not channel.read_url:
            raise EndpointError("The channel cannot be read")
        separator = "&" if "?" in channel.read_url else "?"
        url = f"{channel.read_url}{separator}{urllib.parse.urlencode({'skus': ','.join(skus)})}"
        request = urllib.request.Request(url, method="GET")  # noqa: S310 (configured http(s) URL)
        answer = self._send(request)
        try:
            shown = json.loads(answer or b"{}").get("items", {})
        except (ValueError, AttributeError) as error:
            raise EndpointError("The channel's answer is not JSON") from error
        return {str(sku): value for sku, value in shown.items() if isinstance(value, dict)}

    @staticmethod
    def _send(request: urllib.request.Request) -> bytes:
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                return bytes(response.read())
        except urllib.error.HTTPError as error:
            raise EndpointError(f"The channel answered {error.code}", status=error.code) from error
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise EndpointError(f"The channel did not answer: {error}") from error
