"""The local stack as a developer meets it: `python -m infra.local_stack` in its own process,
measured from outside over HTTP, as a user's client and `ps` would see it.

One run measures, in order: the CPU an idle stack uses; a sustained Segment ingest through
`/v1/batch` (events/s accepted by the API, and drained: until every queue the touchpoints feed is
empty); the resident memory before and after; a campaign to consented customers from launch
until every one has an outcome; and how long a stop takes. `figures_lines` turns the figures into
the sentences the README quotes (`tests/infra/test_bench_figures.py` keeps them in step).
"""

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
import urllib.request
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from infra.local_http import free_port

ROOT = Path(__file__).resolve().parents[2]
FIGURES_PATH = ROOT / "docs" / "figures" / "local-stack.json"
WRITE_KEY = "bench-write-key"
ADMIN_KEY = "bench-admin-key"
BATCH = 100  # events per /v1/batch request, as the Segment libraries send them
CLIENTS = 4  # concurrent senders


class StackProcess:
    """`python -m infra.local_stack` with a fresh data directory, its output kept short."""

    def __init__(self) -> None:
        self.port = free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="omnireach-bench-"))
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
                "--admin-key",
                ADMIN_KEY,
                "--data-dir",
                str(self.data_dir),
                "--fresh",
            ],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.tail: deque[str] = deque(maxlen=50)
        self.ready: dict[str, Any] = {}
        self.stopped: dict[str, Any] = {}
        started = threading.Event()
        threading.Thread(target=self._read, args=(started,), daemon=True).start()
        if not started.wait(180) or not self.ready:
            self.process.kill()
            raise RuntimeError("the local stack did not start:\n" + "\n".join(self.tail))

    def _read(self, started: threading.Event) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.tail.append(line.rstrip("\n"))
            if not self.ready and line.startswith('{"local_stack": "ready"'):
                self.ready = json.loads(line)
                started.set()
            elif line.startswith('{"local_stack": "stopped"'):
                self.stopped = json.loads(line)
        started.set()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def resident_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def call(self, method: str, path: str, body: Any = None, *, auth: str | None = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": auth or f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            return json.loads(response.read())

    def aws(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.ready["emulator_url"],
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 (the emulator takes any)
        )

    def stop(self) -> float:
        """Seconds from Ctrl-C until the process has exited."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=120)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        return time.monotonic() - started


def _dead_letter(queue_name: str) -> bool:
    return "deadletter" in queue_name.lower() or "dlq" in queue_name.lower()


def measure_ingest(stack: StackProcess, touchpoints: int) -> dict[str, Any]:
    from infra.bench.touchpoints import mixed_call
    from infra.local_stack import queue_backlog

    auth = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()

    def send(start: int) -> None:
        events = []
        for index in range(start, min(start + BATCH, touchpoints)):
            call_type, body = mixed_call(index)
            events.append({"type": call_type, **body})
        answer = stack.call("POST", "/v1/batch", {"batch": events}, auth=auth)
        if answer.get("accepted") != len(events):
            raise RuntimeError(f"a batch was refused: {answer}")

    sqs = stack.aws("sqs")
    queues = {url.rsplit("/", 1)[-1]: url for url in sqs.list_queues()["QueueUrls"]}
    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as senders:
        list(senders.map(send, range(0, touchpoints, BATCH)))
    accepted = time.monotonic() - started
    dead = 0
    while time.monotonic() - started < 3 * 3600:
        left = queue_backlog(sqs, queues)
        dead = sum(count for name, count in left.items() if _dead_letter(name))
        if not any(not _dead_letter(name) for name in left):
            break
        time.sleep(5)  # each look counts the messages a queue holds: not too often
    drained = time.monotonic() - started
    return {
        "touchpoints": touchpoints,
        "clients": CLIENTS,
        "batch": BATCH,
        "accepted_seconds": round(accepted, 1),
        "accepted_per_second": round(touchpoints / accepted, 1),
        "drained_seconds": round(drained, 1),
        "drained_per_second": round(touchpoints / drained, 1),
        "dead_lettered": dead,
    }


def _use_stack_tables(stack: StackProcess) -> None:
    """This process's wiring pointed at the stack's tables, through the emulator's endpoint."""
    from infra.template import functions, load_template
    from shared import wiring

    resources = {
        resource["LogicalResourceId"]: resource.get("PhysicalResourceId", "")
        for resource in stack.aws("cloudformation").describe_stack_resources(
            StackName=stack.ready["stack_name"]
        )["StackResources"]
        if "LogicalResourceId" in resource
    }
    for spec in functions(load_template()):
        for name, value in spec.environment.items():
            if isinstance(value, dict) and "Ref" in value and value["Ref"] in resources:
                os.environ[name] = resources[value["Ref"]]
            elif isinstance(value, str):
                os.environ.setdefault(name, value)
    os.environ.update(
        AWS_ENDPOINT_URL=stack.ready["emulator_url"],
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 (the emulator takes any)
        AWS_DEFAULT_REGION="us-east-1",
    )
    wiring.reset()


def measure_campaign(stack: StackProcess, size: int) -> dict[str, Any]:
    from infra.bench.campaigns import BENCH_CAMPAIGN, _bench_people, _seed_audience
    from infra.bench.meter import restored
    from shared.clock import SystemClock
    from shared.domain.engagement.models import LEDGER_SHARDS
    from shared.wiring import engagement as engagement_wiring

    with restored(dict(os.environ)):
        _use_stack_tables(stack)
        now = SystemClock().now()
        seeding = time.monotonic()
        _seed_audience(_bench_people(size, now), "bench-all", now)
        seeded = time.monotonic() - seeding
        stack.call("PUT", "/frequency-policy", {"quiet_hours": None})
        stack.call("POST", "/campaigns", {"campaign_id": "bench-campaign", **BENCH_CAMPAIGN})
        started = time.monotonic()
        stack.call("POST", "/campaigns/bench-campaign/launch")
        engagement = engagement_wiring.get_engagement()
        done = 0
        while time.monotonic() - started < 3600:
            # Rows with an outcome, counted per ledger shard (keys only): cheap, but it still
            # reads the ledger, so not often.
            done = sum(engagement.count_final_rows("bench-campaign", shard=s) for s in range(LEDGER_SHARDS))
            if done >= size:
                break
            time.sleep(5)
        elapsed = time.monotonic() - started
    report = stack.call("GET", "/campaigns/bench-campaign/report")
    return {
        "customers": size,
        "seed_seconds": round(seeded, 1),
        "launch_to_every_outcome_seconds": round(elapsed, 1),
        "messages_per_minute": round(size / elapsed * 60),
        "with_outcome": done,
        "outcomes": report.get("outcomes"),
    }


def measure_local_stack(touchpoints: int, campaign_size: int, idle_seconds: float) -> dict[str, Any]:
    stack = StackProcess()
    try:
        time.sleep(5)  # past the start-up work (the first schedules' catch-up)
        memory_start = stack.resident_mb()
        cpu = stack.cpu_seconds()
        time.sleep(idle_seconds)
        idle = (stack.cpu_seconds() - cpu) / idle_seconds * 60
        ingest = measure_ingest(stack, touchpoints)
        memory_after_ingest = stack.resident_mb()
        campaign = measure_campaign(stack, campaign_size) if campaign_size else None
        memory_end = stack.resident_mb()
    finally:
        stop_seconds = stack.stop()
    return {
        "machine": {"cpus": os.cpu_count()},
        "idle": {"seconds": idle_seconds, "cpu_seconds_per_idle_minute": round(idle, 2)},
        "ingest": ingest,
        "memory_mb": {
            "started": round(memory_start),
            "after_ingest": round(memory_after_ingest),
            "end": round(memory_end),
            "growth_per_1000_touchpoints": round(
                (memory_after_ingest - memory_start) / touchpoints * 1000, 1
            ),
        },
        "campaign": campaign,
        "stop_seconds": round(stop_seconds, 1),
        "stop_and_save_seconds": stack.stopped.get("seconds"),
    }


def write_figures(figures: dict[str, Any], path: Path = FIGURES_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")


def figures_lines(figures: dict[str, Any]) -> list[str]:
    """The figures as the README states them (each line must appear there verbatim)."""
    ingest, memory, campaign = figures["ingest"], figures["memory_mb"], figures["campaign"]
    lines = [
        f"- ingest of {ingest['touchpoints']:,} touchpoints ({ingest['clients']} clients,"
        f" batches of {ingest['batch']}): **{ingest['accepted_per_second']:g} events/s accepted,"
        f" {ingest['drained_per_second']:g}/s drained**",
        f"- resident memory: {memory['started']} MB started, {memory['after_ingest']} MB after the"
        f" ingest, {memory['end']} MB at the end ({memory['growth_per_1000_touchpoints']:g} MB per"
        " 1,000 touchpoints)",
        f"- idle: **{figures['idle']['cpu_seconds_per_idle_minute']:g} CPU seconds per idle minute**",
        f"- stop: {figures['stop_seconds']:g} s from Ctrl-C to exit",
    ]
    if campaign:
        lines.insert(
            2,
            f"- a campaign to {campaign['customers']:,} customers: **launch to every outcome in"
            f" {campaign['launch_to_every_outcome_seconds']:g} s** ({campaign['messages_per_minute']:,}"
            " messages a minute)",
        )
    return lines
