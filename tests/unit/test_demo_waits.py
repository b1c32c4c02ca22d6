"""The demo waits as long as the stack is still working, and its patience comes from the stack's
own settings rather than a fixed minute."""

from __future__ import annotations

import itertools
import time

import pytest

from infra.demo import DemoDay, DemoSnsCertificates
from infra.emulator import function_specs
from infra.local_stack import Options, demo_patience
from infra.template import load_template


def demo(backlog, patience: float) -> DemoDay:
    return DemoDay(
        "http://127.0.0.1:9", "key", DemoSnsCertificates(), customers=1, backlog=backlog, patience=patience
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, 360 + 60),  # the dispatch queue's 360 s visibility timeout, plus a minute-schedule tick
        ({"redelivery_delay": 0}, 0 + 60),
        ({"accelerate": 60.0}, 360 + 1),
    ],
)
def test_patience_is_the_longest_redelivery_wait_plus_a_scheduler_tick(overrides, expected):
    template = load_template()
    assert demo_patience(template, function_specs(template), Options(**overrides)) == expected


def test_a_scene_keeps_waiting_while_the_backlog_moves():
    draining = itertools.count(100, -1)  # a different depth at every look
    started = time.monotonic()
    ready_at = started + 1.5  # longer than the patience: a fixed deadline would give up
    demo(lambda: next(draining), patience=0.5)._await(lambda: time.monotonic() > ready_at, "the work")
    assert time.monotonic() >= ready_at


def test_a_scene_gives_up_when_nothing_moves_for_its_patience():
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"nothing moved for 0.5 s \(messages still queued: 7\)"):
        demo(lambda: 7, patience=0.5)._await(lambda: False, "the work")
    assert 0.5 <= time.monotonic() - started < 3


def test_a_request_answered_503_is_retried_as_a_channel_would(monkeypatch):
    import http.server
    import threading

    import infra.demo

    monkeypatch.setattr(infra.demo, "RETRY_FIRST_SECONDS", 0.01)
    answers = [503, 503, 200]
    seen: list[str] = []

    class Flaky(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
            self.send_response(answers.pop(0))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        day = DemoDay(f"http://127.0.0.1:{server.server_port}", "key", DemoSnsCertificates(), customers=1)
        assert day._request("POST", "/v1/batch", b'{"batch": []}', {}) == 200
    finally:
        server.shutdown()
    assert seen == ['{"batch": []}'] * 3  # the same request, three times
