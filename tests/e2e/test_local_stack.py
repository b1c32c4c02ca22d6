"""The real local stack in a subprocess (`make run`), over real HTTP."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local_http import free_port
from infra.template import load_template

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
WRITE_KEY = "e2e-write-key"  # the browser's: client-side
SERVER_WRITE_KEY = "e2e-server-key"  # the shop's backend: server-side
MEMBER_TOKEN_SECRET = "e2e-member-token-secret-0123456789abcdef"
ADMIN_KEY = "e2e-admin-key"
MAX_RECEIVE_COUNT = load_template()["Resources"]["TouchpointQueue"]["Properties"]["RedrivePolicy"][
    "maxReceiveCount"
]


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class RunningStack:
    def __init__(
        self, *extra_args: str, redelivery_delay: str | None = "0", data_dir: Path | None = None
    ) -> None:
        """`redelivery_delay=None` starts the stack as the README does (failed messages come back
        after their queue's visibility timeout). Its data is kept in `data_dir` (a new temporary
        directory unless given), never in the checkout."""
        self.port = free_port()
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="omnireach-e2e-"))
        redelivery = ["--redelivery-delay", redelivery_delay] if redelivery_delay is not None else []
        environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "infra.local_stack",
                "--port",
                str(self.port),
                "--emulator-port",
                "0",
                "--write-key",
                WRITE_KEY,
                "--server-write-key",
                SERVER_WRITE_KEY,
                "--member-token-secret",
                MEMBER_TOKEN_SECRET,
                "--admin-key",
                ADMIN_KEY,
                *redelivery,
                "--data-dir",
                str(self.data_dir),
                *extra_args,
            ],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []  # stdout: the stack's JSON records and the functions' logs
        self.errors: list[str] = []  # stderr: the HTTP servers' access logs, and any traceback
        for stream, sink in ((self.process.stdout, self.lines), (self.process.stderr, self.errors)):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()
        self.ready = wait_for(lambda: self.record("ready"), timeout=90, what="the local stack to be ready")

    @staticmethod
    def _read(stream: Any, sink: list[str]) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))

    def records(self, kind: str) -> list[dict[str, Any]]:
        found = []
        for line in list(self.lines):
            if line.startswith(f'{{"local_stack": "{kind}"'):
                found.append(json.loads(line))
        return found

    def record(self, kind: str) -> dict[str, Any] | None:
        found = self.records(kind)
        return found[0] if found else None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.ready["emulator_url"],
            region_name="us-east-1",
            aws_access_key_id="e2e",
            aws_secret_access_key="e2e",
        )

    def queue_url(self, logical_id: str) -> str:
        resources = self.aws("cloudformation").describe_stack_resources(StackName=self.ready["stack_name"])
        physical = next(
            r["PhysicalResourceId"]
            for r in resources["StackResources"]
            if r["LogicalResourceId"] == logical_id
        )
        return str(self.aws("sqs").get_queue_url(QueueName=physical.rsplit("/", 1)[-1])["QueueUrl"])

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def http(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 (local URL)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def track(stack: RunningStack, body: Any, *, key: str | None = WRITE_KEY) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http("POST", stack.url("/v1/track"), body=raw, headers=headers)


def get_touchpoint(stack: RunningStack, message_id: str) -> tuple[int, Any]:
    return http(
        "GET", stack.url(f"/touchpoints/{message_id}"), headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )


def test_a_track_call_comes_back_from_the_archive(stack):
    status, body = track(stack, {"userId": "u-1", "event": "Order Completed", "messageId": "e2e-1"})
    assert (status, body) == (200, {"success": True})
    stored = wait_for(
        lambda: get_touchpoint(stack, "e2e-1")[0] == 200 and get_touchpoint(stack, "e2e-1")[1],
        timeout=30,
        what="the touchpoint to be archived",
    )
    assert (stored["touchpoint_id"], stored["event"], stored["source_id"]) == (
        "e2e-1",
        "Order Completed",
        "local-web",
    )


def test_the_same_call_sent_twice_stores_one_touchpoint(stack):
    call = {"anonymousId": "a-9", "event": "Product Viewed", "messageId": "e2e-twice"}
    assert track(stack, call)[0] == 200
    first = wait_for(
        lambda: get_touchpoint(stack, "e2e-twice")[0] == 200 and get_touchpoint(stack, "e2e-twice")[1],
        timeout=30,
        what="the first copy",
    )
    assert track(stack, call)[0] == 200
    wait_for(
        lambda: any("duplicate touchpoint ignored" in line and "e2e-twice" in line for line in stack.lines),
        timeout=30,
        what="the second copy to be recognised as a duplicate",
    )
    assert get_touchpoint(stack, "e2e-twice") == (200, first)


def test_bad_input_is_refused_with_the_envelope(stack):
    status, body = track(stack, b'{"userId": "u-1", "event": ')
    assert (status, body["error"]["code"]) == (400, "malformed_json")
    status, body = track(stack, {"userId": "u-1", "event": "E"}, key="not-a-key")
    assert (status, body["error"]["code"]) == (401, "unauthenticated")
    status, body = track(stack, {"userId": "u-1", "event": "E"}, key=None)
    assert status == 401


def test_a_message_that_always_fails_ends_on_the_dlq_after_max_receive_count(stack):
    sqs = stack.aws("sqs")
    sent = sqs.send_message(QueueUrl=stack.queue_url("TouchpointQueue"), MessageBody="not a touchpoint")
    message_id = sent["MessageId"]
    dlq = stack.queue_url("TouchpointDeadLetterQueue")
    dead = wait_for(
        lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages"),
        timeout=60,
        what="the poison message on the DLQ",
    )
    assert [message["MessageId"] for message in dead] == [message_id]
    attempts = [record for record in stack.records("invoked") if message_id in record.get("messages", [])]
    assert len(attempts) == MAX_RECEIVE_COUNT
    assert all(message_id in record["failed"] for record in attempts)


def test_ctrl_c_stops_the_stack_cleanly():
    stack = RunningStack()
    assert stack.stop() == 0
    assert stack.record("stopped") is not None
    output = stack.lines + stack.errors
    assert not any("Traceback" in line for line in output), "\n".join(output[-40:])


def test_the_demo_day_reaches_the_archive_on_every_channel():
    stack = RunningStack("--demo", "50", redelivery_delay=None)  # as the README starts it
    try:
        done = wait_for(
            lambda: stack.record("demo_done") or stack.record("demo_failed"), timeout=1200, what="the demo"
        )
        assert "samples" in done, done
        assert set(done["scenes"]) == {"traffic", "membership", "inventory", "campaign", "appointments"}, done
        installations = stack.record("demo_appointments")["bookings"]  # online orders' installations
        assert len(installations) == 3 and all(b["order_id"] for b in installations), installations
        for booking in installations:  # each reminder planned inside the store's hours, before it
            (reminder,) = booking["next_reminder_local"]
            assert "09:00" <= reminder[-5:] < "18:00" and reminder < booking["at"], booking
        member = stack.record("demo_membership")  # earned online, redeemed in store
        assert member["redeemed_in_store"] == {"channel": "pos", "discount": "20"}, member
        assert member["balance"] == 368 - 200, member
        scene = stack.record("demo_campaign")
        spring = scene["campaign"]  # every targeted customer has one outcome
        assert spring["audience"] == spring["targeted"] == sum(spring["outcomes"].values()) > 0, spring
        assert set(spring["outcomes"]) <= {"sent", "delivered", "suppressed", "deferred"}, spring
        # A send is held back only by the customer's quiet hours (the demo may run at their night),
        # and then goes when they end; otherwise the report is complete.
        assert set(scene["deferred"]["reasons"]) <= {"quiet_hours"}, scene
        assert scene["deferred"]["count"] == spring["outcomes"].get("deferred", 0)
        assert spring["complete"] == ("deferred" not in spring["outcomes"]), spring
        stock = stack.record("demo_inventory")  # an online sale lowers the store and back
        assert (stock["store_view_after_online_sale"], stock["web_view_after_store_sale"]) == (3, 2), stock
        assert (
            stock["stale_pushes"] == 0
            and stock["pushes_refused"] == 0
            and stock["price_on_channels"] == "299.00"
        )
        assert set(done["sent"]) == {"web", "app", "ecommerce", "pos", "callcenter", "wechat", "email"}
        for channel, touchpoint_id in done["samples"].items():
            stored = wait_for(
                lambda tid=touchpoint_id: (found := get_touchpoint(stack, tid))[0] == 200 and found[1],
                timeout=30,
                what=f"the {channel} sample",
            )
            assert stored["touchpoint_id"] == touchpoint_id
        sample = done["profile_sample"]
        assert len(sample["channels"]) >= 3, sample

        def one_profile_across_channels() -> Any:
            status, profile = http(
                "GET",
                stack.url(f"/profiles?email={sample['email']}"),
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            seen = set(profile.get("touches_by_channel", {})) | set(profile.get("purchases_by_channel", {}))
            return status == 200 and len(seen) >= 3 and profile

        wait_for(one_profile_across_channels, timeout=30, what="the sample customer's profile on 3 channels")
    finally:
        assert stack.stop() == 0
