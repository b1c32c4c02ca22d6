"""Senders, one per channel, behind the domain's `Sender` port.

| channel | provider | address | idempotent |
|---|---|---|---|
| email | SES (SendEmail, with a List-Unsubscribe header pair for one-click) | email identifier | no |
| sms | SNS Publish to a phone number | phone identifier | no |
| push | SNS Publish to a platform endpoint ARN | `push_endpoint` trait | no |
| wechat | HTTPS POST to the official account's template-message endpoint | openid | yes (Idempotency-Key) |
| webhook | HTTPS POST | the profile id | yes (Idempotency-Key) |
| inbox | the engagement table | the profile id | yes (keyed write) |

Throttling (SES `TooManyRequests`/`Throttling`, SNS `Throttled`, HTTP 429 and 5xx, connection
errors) raises ThrottledError: the dispatcher retries it with backoff and never counts it as a
failure. A refusal for good (bad address, disabled endpoint, HTTP 4xx) raises PermanentSendError.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws_clients import client as aws_client
from shared.domain.engagement.deliveries import ROW_TAG, row_tag
from shared.domain.engagement.messaging import OutboundMessage, PermanentSendError, ThrottledError

THROTTLING = {
    "TooManyRequestsException",
    "Throttling",
    "ThrottlingException",
    "Throttled",
    "LimitExceededException",
}
TIMEOUT_SECONDS = 5


def _provider_error(error: ClientError) -> Exception:
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code in THROTTLING or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
        return ThrottledError(code)
    return PermanentSendError(code or "refused")


class SesSender:
    idempotent = False

    def __init__(self, from_address: str, *, client: Any = None) -> None:
        self._from = from_address
        self._client = client or aws_client("sesv2")

    def send(self, message: OutboundMessage) -> str:
        headers = []
        if message.unsubscribe_url:
            headers = [
                {"Name": "List-Unsubscribe", "Value": f"<{message.unsubscribe_url}>"},
                {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
            ]
        simple: dict[str, Any] = {
            "Subject": {"Data": message.subject or message.title or ""},
            "Body": {"Text": {"Data": message.body}},
        }
        if headers:
            simple["Headers"] = headers
        try:
            response = self._client.send_email(
                FromEmailAddress=self._from,
                Destination={"ToAddresses": [message.address]},
                Content={"Simple": simple},
                EmailTags=[
                    {
                        "Name": "dispatch",
                        "Value": message.idempotency_key.replace("|", "_").replace(":", "_")[:256],
                    },
                    # the ledger row's key, so delivery, bounce and complaint events find it
                    {"Name": ROW_TAG, "Value": row_tag(message.idempotency_key)[:256]},
                ],
            )
        except ClientError as error:
            raise _provider_error(error) from error
        except BotoCoreError as error:
            raise ThrottledError(str(error)) from error
        return str(response.get("MessageId", ""))


class SnsSender:
    """SMS (to a phone number) or push (to a platform endpoint ARN)."""

    idempotent = False

    def __init__(self, kind: str, *, client: Any = None) -> None:
        self._kind = kind
        self._client = client or aws_client("sns")

    def send(self, message: OutboundMessage) -> str:
        target = {"PhoneNumber": message.address} if self._kind == "sms" else {"TargetArn": message.address}
        body = (
            message.body
            if self._kind == "sms"
            else json.dumps({"default": message.body, "title": message.title or ""}, ensure_ascii=False)
        )
        try:
            response = self._client.publish(Message=body, **target)
        except ClientError as error:
            raise _provider_error(error) from error
        except BotoCoreError as error:
            raise ThrottledError(str(error)) from error
        return str(response.get("MessageId", ""))


class HttpSender:
    """WeChat template messages (through the account's message gateway) and webhooks."""

    idempotent = True

    def __init__(self, url: str) -> None:
        self._url = url

    def send(self, message: OutboundMessage) -> str:
        payload = {
            "touser": message.address,
            "template_id": message.template_id,
            "data": {name: {"value": value} for name, value in message.fields.items()}
            or {"body": {"value": message.body}},
            "url": message.url,
            "text": message.body,
            "program_id": message.program_id,
        }
        request = urllib.request.Request(  # noqa: S310 (the configured gateway URL)
            self._url,
            data=json.dumps(payload, ensure_ascii=False).encode(),
            method="POST",
            headers={"content-type": "application/json", "idempotency-key": message.idempotency_key},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            if error.code == 429 or error.code >= 500:
                raise ThrottledError(f"HTTP {error.code}") from error
            raise PermanentSendError(f"http_{error.code}") from error
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise ThrottledError(str(error)) from error
        if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):
            if answer.get("errcode") in (45009, 45047, -1):  # WeChat: rate limits, system busy
                raise ThrottledError(str(answer.get("errmsg")))
            raise PermanentSendError(f"wechat_{answer.get('errcode')}")
        return str(answer.get("msgid") or answer.get("id") or "") if isinstance(answer, dict) else ""


class Inbox(Protocol):
    def add_to_inbox(self, message: OutboundMessage, *, at: datetime) -> None: ...


class InboxSender:
    idempotent = True

    def __init__(self, inbox: Inbox, now: Any) -> None:
        self._inbox, self._now = inbox, now

    def send(self, message: OutboundMessage) -> str:
        self._inbox.add_to_inbox(message, at=self._now())
        return "inbox"
