"""`make run`: the whole system on one machine, no AWS account.

1. start the embedded emulator (moto, one request at a time) on 127.0.0.1;
2. deploy template.yaml's non-function resources into it through its CloudFormation;
3. serve the Chalice API function on 127.0.0.1:8000;
4. run every other trigger the template declares: SQS event sources (BatchSize, batching window,
   ReportBatchItemFailures, visibility timeout and DLQ redrive) and schedules (rate/cron);
5. print where everything is, and stop cleanly on Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from infra.lambda_runtime import (
    ArtifactFunction,
    LocalFunction,
    Report,
    RunnableFunction,
    ScheduleFirer,
    SqsPoller,
    VirtualClock,
    report_to_stdout,
)
from infra.package import build_runnable
from infra.schedules import parse_schedule
from infra.template import TEMPLATE_PATH, FunctionSpec, load_template
from infra.time_travel import DueSource, TimeTravel

LOCAL_SOURCE_ID = "local-web"
LOCAL_SERVER_SOURCE_ID = "local-backend"
ARTIFACTS_DIR = TEMPLATE_PATH.parent / ".aws-sam" / "local"
DATA_DIR = TEMPLATE_PATH.parent / ".omnireach" / "local"  # git ignores .omnireach/
API_ENVIRONMENTS = 4  # concurrent execution environments of the API function, from artifacts
API_LISTEN_BACKLOG = 512
API_DRAIN_SECONDS = 30.0  # on stop, the longest the stack waits for requests being answered


@dataclass(frozen=True)
class Options:
    host: str = "127.0.0.1"
    api_port: int = 8000
    emulator_port: int = 5005
    stage: str = "local"
    region: str = "us-east-1"
    admin_key: str = "local-admin-key"
    write_key: str = "local-write-key"
    server_write_key: str = "local-server-key"
    member_token_secret: str = "local-member-token-secret-0123456789"  # noqa: S105 - local only
    accelerate: float = 1.0
    redelivery_delay: int | None = None
    demo_customers: int = 0  # > 0: replay a synthetic day for this many customers
    template_path: Path = TEMPLATE_PATH
    from_artifacts: bool = False  # run each function from its built artifact in its own processes
    data_dir: Path | None = None  # kept across restarts here (None: nothing is kept)
    fresh: bool = False  # start empty, whatever data_dir holds


@dataclass
class LocalStack:
    options: Options
    report: Report = report_to_stdout
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _emulator: Any = None
    _api_server: Any = None
    _artifact_functions: list[ArtifactFunction] = field(default_factory=list)
    _gateway: Any = None
    _saving: Callable[[], None] | None = None
    _on_stop: list[Callable[[], None]] = field(default_factory=list)
    clock: VirtualClock | None = None
    time_travel: TimeTravel | None = None
    _in_flight: threading.Condition = field(default_factory=threading.Condition)
    _requests: int = 0  # API requests being answered
    info: dict[str, Any] = field(default_factory=dict)

    def start(self) -> dict[str, Any]:
        options = self.options
        os.environ.update(
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 (the emulator takes any credentials)
            AWS_DEFAULT_REGION=options.region,
            AWS_REGION=options.region,
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_METRICS_DISABLED="true",
        )
        import boto3  # after the environment is set: clients read it when built

        from infra.emulator import ARRIVALS, SerialMotoServer, deploy, function_specs, serve_in_process

        self._emulator = SerialMotoServer(options.host, options.emulator_port)
        self._emulator.start()
        endpoint = self._emulator.endpoint
        # This process's clients reach the emulator's backends directly (no AWS_ENDPOINT_URL);
        # S3 goes over HTTP, so the links it signs (exports) point where a browser can follow.
        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
        serve_in_process()
        ARRIVALS.watch_queues()

        from infra import local_state
        from infra.message_gateway import MessageGateway

        saved = None
        if options.data_dir is not None and not options.fresh:
            saved = local_state.read(options.data_dir)
        clock = VirtualClock(
            options.accelerate, offset=timedelta(seconds=saved.clock_offset_seconds if saved else 0.0)
        )
        self.clock = clock
        self._gateway = MessageGateway(options.host, 0, now=clock.stack_now).start()
        # Unsubscribe links are sealed with a secret kept with the data (a restart keeps both).
        link_secret = saved.link_signing_secret if saved else secrets.token_urlsafe(32)

        template = load_template(options.template_path)
        sqs = boto3.client("sqs")
        stack = deploy(
            template,
            cloudformation=boto3.client("cloudformation"),
            sqs=sqs,
            stack_name=f"omnireach-{options.stage}",
            parameters={
                "Stage": options.stage,
                "AdminApiKeySha256": hashlib.sha256(options.admin_key.encode()).hexdigest(),
                "MemberTokenSecrets": options.member_token_secret,
                "LinkSigningSecrets": link_secret,
                "PublicApiUrl": f"http://{options.host}:{options.api_port}",
                "WechatGatewayUrl": self._gateway.url("wechat"),
                "WechatApiUrl": self._gateway.base_url,
                "MessageWebhookUrl": self._gateway.url("webhook"),
            },
        )
        restored = local_state.restore(saved, stack, region=options.region) if saved else None
        if options.data_dir is not None:
            data_dir = options.data_dir

            def save() -> None:
                state = local_state.capture(
                    template,
                    stack,
                    region=options.region,
                    clock_offset_seconds=clock.offset.total_seconds(),
                    link_signing_secret=link_secret,
                )
                local_state.write(state, data_dir)

            self._saving = save
        os.environ.update(stack.shared_environment())
        # Marketing email goes through the emulator's SES: its sender identity must be verified.
        boto3.client("sesv2").create_email_identity(
            EmailIdentity=os.environ.get("SES_FROM_ADDRESS", "marketing@example.com")
        )

        from shared import wiring
        from shared.domain.ingest.sources import NewSource, create_source
        from shared.domain.ingest.touchpoints import Channel, SourceKind, SourceTrust
        from shared.wiring import ingest as ingest_wiring

        # Every function in this process reads the stack's clock (the one time travel moves).
        system_clock = wiring.get_clock
        stack_clock = StackClock(clock)
        wiring.get_clock = lambda: stack_clock  # type: ignore[assignment]
        self._on_stop.append(lambda: setattr(wiring, "get_clock", system_clock))
        wiring.reset()
        registry = ingest_wiring.get_source_registry()
        seeds = [
            (LOCAL_SOURCE_ID, "Local web source (in the browser)", SourceTrust.CLIENT, options.write_key),
            (
                LOCAL_SERVER_SOURCE_ID,
                "Local web shop backend (server-side)",
                SourceTrust.SERVER,
                options.server_write_key,
            ),
        ]
        for source_id, name, trust, write_key in seeds:
            if registry.find(source_id) is None:  # kept from the last run: it keeps its key
                create_source(
                    NewSource(
                        source_id=source_id,
                        name=name,
                        kind=SourceKind.SEGMENT,
                        channel=Channel.WEB,
                        trust=trust,
                    ),
                    registry=registry,
                    write_key_factory=lambda key=write_key: key,  # type: ignore[misc]
                )

        specs = function_specs(template)
        layout = build_runnable(ARTIFACTS_DIR) if options.from_artifacts else None
        api_functions: list[RunnableFunction] = []
        triggers: list[str] = []
        for spec in specs.values():
            function: RunnableFunction
            if layout is None:
                function = LocalFunction(spec, options.region, concurrent=bool(spec.api_routes))
            else:
                function = ArtifactFunction(
                    spec,
                    options.region,
                    layout=layout,
                    environment=artifact_environment(
                        stack.function_environments[spec.logical_id], spec, endpoint=endpoint
                    ),
                    concurrency=API_ENVIRONMENTS if spec.api_routes else 1,
                )
                self._artifact_functions.append(function)
            if spec.api_routes:
                api_functions.append(function)
            for sqs_trigger in spec.sqs_triggers:
                address = stack.queues[sqs_trigger.queue]
                self._threads.append(
                    SqsPoller(
                        function,
                        sqs_trigger,
                        queue_url=address.url,
                        queue_arn=address.arn,
                        sqs=sqs,
                        stop=self._stop,
                        report=self.report,
                        redelivery_delay=options.redelivery_delay,
                        arrivals=ARRIVALS,
                    )
                )
                triggers.append(
                    f"{spec.logical_id} <- SQS {sqs_trigger.queue} (batch {sqs_trigger.batch_size})"
                )
            for schedule in spec.schedules:
                if schedule.enabled:
                    self._threads.append(
                        ScheduleFirer(function, schedule, clock=clock, stop=self._stop, report=self.report)
                    )
                    triggers.append(f"{spec.logical_id} <- {schedule.expression} (x{options.accelerate:g})")
        if not api_functions:
            raise RuntimeError("template.yaml has no function with Api events")

        if layout is None:
            self.time_travel = TimeTravel(
                clock=clock,
                firers=[thread for thread in self._threads if isinstance(thread, ScheduleFirer)],
                due=due_indexes(),
                backlog=lambda: queue_backlog(
                    sqs, {name: address.url for name, address in stack.queues.items()}
                ),
                report=self.report,
                stop=self._stop,
            )
        self._api_server = self._serve_api(api_functions)
        for thread in self._threads:
            thread.start()
        if options.demo_customers:
            from infra.demo import SCENE_QUEUES

            work_queues = {name: stack.queues[name].url for name in SCENE_QUEUES}
            self._start_demo(
                backlog=lambda: sum(queue_backlog(sqs, work_queues).values()),
                patience=demo_patience(template, specs, options),
            )

        self.info = {
            "api_url": f"http://{options.host}:{options.api_port}",
            "emulator_url": endpoint,
            "admin_key": options.admin_key,
            "write_key": options.write_key,
            "source_id": LOCAL_SOURCE_ID,
            "server_write_key": options.server_write_key,
            "server_source_id": LOCAL_SERVER_SOURCE_ID,
            "member_token_secret": options.member_token_secret,
            "stack_name": stack.stack_name,
            "resources": stack.resources,
            "triggers": triggers,
            "functions_from": str(layout.functions) if layout else "source (in this process)",
            "message_gateway": self._gateway.base_url,
            "data_dir": str(options.data_dir) if options.data_dir else None,
            "restored": restored,
            "clock": clock.stack_now().isoformat(),
        }
        return self.info

    def _serve_api(self, functions: list[RunnableFunction]) -> Any:
        from chalice.config import Config
        from chalice.local import ChaliceRequestHandler, LocalDevServer, ThreadedHTTPServer

        from functions.api.app import app
        from infra.local_http import send_json

        stack = self

        class RequestHandler(ChaliceRequestHandler):
            """API Gateway answers a method it has no route for with a 4xx; so does the local stack
            (Python's server would answer 501). `/_local/...` is the local stack's own control
            (never part of the template's API)."""

            def __getattr__(self, name: str) -> Any:
                if name.startswith("do_"):
                    return self._method_not_allowed
                raise AttributeError(name)

            def _generic_handle(self) -> None:
                with stack._in_flight:
                    stack._requests += 1
                try:
                    if self.path.split("?")[0].startswith("/_local/"):
                        headers, body = self._parse_payload()
                        status, answer = stack.local_control(self.command, self.path, headers, body)
                        self._json(status, answer)
                    else:
                        super()._generic_handle()
                finally:
                    with stack._in_flight:
                        stack._requests -= 1
                        stack._in_flight.notify_all()

            def _handle(self) -> None:
                self._generic_handle()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _handle

            def _method_not_allowed(self) -> None:
                self._json(405, error_envelope("method_not_allowed", "Method not allowed"))

            def _json(self, status: int, answer: dict[str, Any]) -> None:
                send_json(self, status, answer)

        class ApiServer(ThreadedHTTPServer):
            # A thread per connection, and a listen backlog that lets a burst of clients queue
            # (the standard library's default of 5 resets the sixth simultaneous connection).
            request_queue_size = API_LISTEN_BACKLOG
            daemon_threads = True

        for function in functions:
            if isinstance(function, LocalFunction):  # Chalice apps served on this process's threads
                _thread_local_requests(getattr(function.handler(), "app", None))
        routes = {route.path: function.invoke for function in functions for route in function.spec.api_routes}
        config = Config(
            chalice_stage=self.options.stage,
            function_name="Api",
            user_provided_params={
                "app_name": app.app_name,
                "lambda_timeout": max(function.spec.timeout for function in functions),
            },
        )
        _thread_local_requests(app)
        server = LocalDevServer(
            # The source app lends Chalice's local gateway its routes (all of them); the function
            # that answers is the one whose HTTP API route the path falls under, as deployed.
            ThroughProxyRoute(app, routes),  # type: ignore[arg-type]  # quacks as the app
            config,
            self.options.host,
            self.options.api_port,
            handler_cls=RequestHandler,
            server_cls=ApiServer,
        )
        thread = threading.Thread(target=server.server.serve_forever, name="api", daemon=True)
        thread.start()
        return server

    def local_control(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, Any]]:
        """`GET /_local/clock`: the stack's time. `POST /_local/clock {"advance": "20d"}`: move it
        forward (TimeTravel). Admin key only."""
        authorization = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if not secrets.compare_digest(authorization.encode(), f"Bearer {self.options.admin_key}".encode()):
            return 401, error_envelope("unauthorized", "The local control needs the admin key (Bearer)")
        if path.split("?")[0].rstrip("/") != "/_local/clock":
            return 404, error_envelope("not_found", "The local control has /_local/clock only")
        assert self.clock is not None
        if method == "GET":
            return 200, {
                "now": self.clock.stack_now().isoformat(),
                "offset_seconds": self.clock.offset.total_seconds(),
            }
        if method != "POST":
            return 405, error_envelope("method_not_allowed", "GET or POST /_local/clock")
        if self.time_travel is None:
            return 409, error_envelope(
                "conflict", "The clock moves the functions this process runs: not with --from-artifacts"
            )
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return 400, error_envelope("invalid_input", "The body must be JSON")
        if not isinstance(request, dict) or "advance" not in request:
            return 400, error_envelope("invalid_input", 'Give {"advance": "20d"} (s, m, h or d)')
        try:
            return 200, self.time_travel.advance(parse_duration(request["advance"]))
        except ValueError as error:
            return 400, error_envelope("invalid_input", f"advance: {error}")

    def _start_demo(self, *, backlog: Callable[[], int], patience: float) -> None:
        from infra.demo import DemoDay, DemoSnsCertificates
        from shared.wiring import ingest as ingest_wiring

        certificates = DemoSnsCertificates()
        ingest_wiring.use_sns_certificates(certificates)
        demo = DemoDay(
            f"http://{self.options.host}:{self.options.api_port}",
            self.options.admin_key,
            certificates,
            customers=self.options.demo_customers,
            backlog=backlog,
            patience=patience,
            member_token_secret=self.options.member_token_secret,
        )

        def run() -> None:
            try:
                demo.run(self.report)
            except Exception as error:  # a demo failure is reported, and the stack keeps running
                self.report({"event": "demo_failed", "error": repr(error)})

        thread = threading.Thread(target=run, name="demo", daemon=True)
        thread.start()

    def stop(self) -> dict[str, Any]:
        """Stop taking requests, let the triggers finish the batch in hand (a message not yet
        deleted stays on its queue), save the data (with a data directory), then shut down."""
        started = time.monotonic()
        if self._api_server is not None:
            self._api_server.shutdown()
            self._api_server.server.server_close()
        self._stop.set()  # a time travel under way ends at its current stop
        from infra.emulator import ARRIVALS

        ARRIVALS.wake()  # idle pollers see the stop at once
        if self._api_server is not None:
            with self._in_flight:  # requests being answered finish (as long as the client waits)
                self._in_flight.wait_for(lambda: self._requests == 0, timeout=API_DRAIN_SECONDS)
        if self.clock is not None:
            self.clock.wake()
        for thread in self._threads:
            if thread.is_alive():
                thread.join()
        for function in self._artifact_functions:
            function.close()
        saved = None
        if self._saving is not None:
            self._saving()
            saved = str(self.options.data_dir)
        for undo in self._on_stop:
            undo()
        if self._gateway is not None:
            self._gateway.stop()
        if self._emulator is not None:
            self._emulator.stop()
        return {"saved_to": saved, "seconds": round(time.monotonic() - started, 1)}


def _thread_local_requests(app: Any) -> None:
    """As chalice.local.create_local_server does: the app keeps its current request per thread
    (here one process serves concurrent requests; on Lambda each has its own environment)."""
    from chalice.local import CustomLocalChalice, LocalChalice

    if app is not None and not isinstance(app, CustomLocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice


def artifact_environment(
    function_variables: dict[str, str], spec: FunctionSpec, *, endpoint: str
) -> dict[str, str]:
    """A worker's environment: the function's own variables from the stack, as Lambda sets them,
    plus the emulator's address (workers reach it over HTTP) and credentials. Nothing of this
    process's environment leaks in."""
    return {
        **function_variables,
        **{name: os.environ[name] for name in _PASSED_TO_WORKERS if name in os.environ},
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "PYTHONUNBUFFERED": "1",
    }


_PASSED_TO_WORKERS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "POWERTOOLS_TRACE_DISABLED",
    "POWERTOOLS_METRICS_DISABLED",
    "TZ",
)


class StackClock:
    """The domain's `Clock` port on the local stack's clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return self._clock.stack_now()


def due_indexes() -> list[DueSource]:
    """The tables' due indexes time travel stops at (journey timers, deferred sends,
    reservation expiries)."""
    from shared.wiring import commerce as commerce_wiring
    from shared.wiring import engagement as engagement_wiring

    return [
        DueSource(engagement_wiring.get_engagement, "JTIMER"),
        DueSource(engagement_wiring.get_engagement, "DEFER"),
        DueSource(commerce_wiring.get_catalog, "DUE"),
    ]


def queue_backlog(sqs: Any, queues: dict[str, str]) -> dict[str, int]:
    """Messages waiting, delayed or in flight on each of `queues` (name -> URL) that has any."""
    left = {}
    for name, url in queues.items():
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        count = sum(int(value) for value in attributes.values())
        if count:
            left[name] = count
    return left


def demo_patience(template: dict[str, Any], specs: dict[str, Any], options: Options) -> float:
    """How long a demo scene waits with nothing moving, from the stack's own settings: the longest
    a failed message waits before it comes back on the queues the scenes wait on (their
    visibility timeout, or --redelivery-delay), plus one tick of the every-minute schedules (the
    campaign scheduler pages audiences and brings deferred sends back), at the accelerated clock."""
    from infra.demo import SCENE_QUEUES

    visibility = [
        int(template["Resources"][name].get("Properties", {}).get("VisibilityTimeout", 30))
        for name in SCENE_QUEUES
    ]
    retry = options.redelivery_delay if options.redelivery_delay is not None else max(visibility, default=30)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    periods = [
        (parse_schedule(trigger.expression, trigger.timezone).next_after(start) - start).total_seconds()
        for spec in specs.values()
        for trigger in spec.schedules
        if trigger.enabled
    ]
    tick = max((p for p in periods if p <= 60), default=60.0) / options.accelerate
    return float(retry) + tick


class ThroughProxyRoute:
    """What Chalice's local gateway calls as the app: each request goes to the function of the
    HTTP API route it falls under (`/`, `/{proxy+}`, `/v1/{proxy+}`: the longest greedy prefix
    wins, as in API Gateway), in the event that route sends (payload format 1.0)."""

    def __init__(self, app: Any, routes: dict[str, Callable[[dict[str, Any]], Any]]) -> None:
        self._app, self._routes = app, routes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        path = event["requestContext"]["path"]
        resource, proxy = http_api_route(path, list(self._routes))
        as_sent = {
            **event,
            **_body_as_sent(event.get("body")),
            "resource": resource,
            "path": path,
            "pathParameters": None if proxy is None else {"proxy": proxy},
            "requestContext": {**event["requestContext"], "resourcePath": resource},
        }
        return self._routes[resource](as_sent)


def http_api_route(path: str, patterns: list[str]) -> tuple[str, str | None]:
    """The route API Gateway picks for a path: an exact route, else the greedy `{proxy+}` route
    with the longest prefix; with what `proxy` captured."""
    if path in patterns:
        return path, None
    greedy = [
        (pattern, path[len(prefix) :])
        for pattern in patterns
        if pattern.endswith("{proxy+}")
        and path.startswith(prefix := pattern.removesuffix("{proxy+}"))
        and len(path) > len(prefix)
    ]
    if not greedy:
        raise LookupError(f"no route of the template takes {path}")
    return max(greedy, key=lambda found: len(found[0]))


def _body_as_sent(body: Any) -> dict[str, Any]:
    """API Gateway passes a text body as a string (Chalice's local gateway keeps bytes), and bytes
    that are not text base64-encoded."""
    if not isinstance(body, bytes):
        return {}
    try:
        return {"body": body.decode("utf-8"), "isBase64Encoded": False}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode("ascii"), "isBase64Encoded": True}


def error_envelope(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": None}}


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: Any) -> timedelta:
    """`90` (seconds), `90s`, `15m`, `36h`, `20d`."""
    found = _DURATION.match(str(text)) if isinstance(text, (str, int, float)) else None
    if found is None:
        raise ValueError(f"{text!r} is not a duration such as 90s, 15m, 36h or 20d")
    return timedelta(seconds=float(found.group(1)) * _UNITS[found.group(2)])


def _banner(info: dict[str, Any]) -> str:
    api = info["api_url"]
    lines = [
        "Omnireach local stack is running.",
        f"  API            {api}",
        f"  API reference  {api}/reference",
        f"  console        {api}/console    (sign in with the admin key)",
        f"  admin key      {info['admin_key']}    (Authorization: Bearer <key>)",
        f"  write key      {info['write_key']}    (source {info['source_id']}: client-side, behaviour only;"
        " HTTP Basic username)",
        f"  server key     {info['server_write_key']}    (source {info['server_source_id']}: server-side,"
        " its orders earn points and move stock)",
        f"  member tokens  HS256, secret {info['member_token_secret']}, aud omnireach"
        " (Authorization: Bearer <JWT>)",
        f"  emulator       {info['emulator_url']}    (AWS_ENDPOINT_URL; any credentials, region us-east-1)",
        f"  functions      {info['functions_from']}",
        f"  messages       {info['message_gateway']}/wechat, /webhook    (what the WeChat gateway and the"
        " webhook channel received; email, SMS and push: the emulator's SES and SNS)",
        f'  clock          {info["clock"]}    (GET/POST {api}/_local/clock; `make clock ARGS="advance 20d"`)',
        "  data           "
        + (
            f"{info['data_dir']}    (kept on stop, restored on start; --fresh starts empty)"
            + (f"; restored {info['restored']['items']} items" if info["restored"] else "; nothing saved yet")
            if info["data_dir"]
            else "in memory only"
        ),
        f"  stack          {info['stack_name']}",
        *[
            f"    {logical_id:28} {physical}"
            for logical_id, physical in sorted(info["resources"].items())
            if physical
        ],
        "  triggers",
        *[f"    {trigger}" for trigger in info["triggers"]],
        "Try it:",
        f"  curl -s -u {info['server_write_key']}: -H 'Content-Type: application/json' \\",
        f'    -d \'{{"userId":"u-1","event":"Order Completed","messageId":"m-1",'
        f'"properties":{{"order_id":"o-1","total":25,"currency":"EUR"}}}}\' {api}/v1/track',
        f"  curl -s -H 'Authorization: Bearer {info['admin_key']}' {api}/touchpoints/m-1",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def parse_options(argv: list[str] | None = None) -> Options:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="make run ARGS=...", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=defaults.host, help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=defaults.api_port, help="API port (default %(default)s)")
    parser.add_argument(
        "--emulator-port", type=int, default=defaults.emulator_port, help="emulator port, 0 = any free"
    )
    parser.add_argument("--stage", default=defaults.stage, help="Stage parameter (default %(default)s)")
    parser.add_argument(
        "--admin-key", default=os.environ.get("OMNIREACH_ADMIN_KEY", defaults.admin_key), help="admin API key"
    )
    parser.add_argument(
        "--write-key",
        default=os.environ.get("OMNIREACH_WRITE_KEY", defaults.write_key),
        help="the seeded client-side (browser) source's write key",
    )
    parser.add_argument(
        "--server-write-key",
        default=os.environ.get("OMNIREACH_SERVER_WRITE_KEY", defaults.server_write_key),
        help="the seeded server-side source's write key",
    )
    parser.add_argument(
        "--member-token-secret",
        default=os.environ.get("OMNIREACH_MEMBER_TOKEN_SECRET", defaults.member_token_secret),
        help="the secret member tokens are signed with (HS256, at least 32 characters)",
    )
    parser.add_argument(
        "--accelerate", type=float, default=defaults.accelerate, help="run schedules N times faster (demos)"
    )
    parser.add_argument(
        "--redelivery-delay",
        type=int,
        default=None,
        metavar="SECONDS",
        help="make failed SQS messages visible again after SECONDS instead of the queue's visibility timeout",
    )
    parser.add_argument(
        "--from-artifacts",
        action="store_true",
        help="run each function from its built artifact (as `make package` builds them, for this machine)"
        " in its own processes, as Lambda would",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        help="where the stack keeps its data across restarts (default: .omnireach/local in the checkout)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="start empty (what the data directory held is replaced on stop)"
    )
    parser.add_argument(
        "--demo",
        nargs="?",
        type=int,
        const=1000,
        default=0,
        metavar="CUSTOMERS",
        help="replay a synthetic day of traffic on every channel (default 1000 customers)",
    )
    args = parser.parse_args(argv)
    if args.demo < 0:
        parser.error("--demo needs a positive number of customers")
    if args.demo and args.from_artifacts:
        parser.error(
            "--demo runs with the functions in this process (it plays a certificate authority into them)"
        )
    if args.accelerate <= 0:
        parser.error("--accelerate must be positive")
    if args.redelivery_delay is not None and not 0 <= args.redelivery_delay <= 43200:
        parser.error("--redelivery-delay must be between 0 and 43200 seconds")
    return Options(
        host=args.host,
        api_port=args.port,
        emulator_port=args.emulator_port,
        stage=args.stage,
        admin_key=args.admin_key,
        write_key=args.write_key,
        server_write_key=args.server_write_key,
        member_token_secret=args.member_token_secret,
        accelerate=args.accelerate,
        redelivery_delay=args.redelivery_delay,
        demo_customers=args.demo,
        from_artifacts=args.from_artifacts,
        data_dir=args.data_dir,
        fresh=args.fresh,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    stack = LocalStack(options)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        info = stack.start()
    except OSError as error:
        stack.stop()
        print(
            f"Could not start the local stack: {error} (is another one running? try --port)", file=sys.stderr
        )
        return 2
    print(_banner(info), flush=True)
    report_to_stdout(
        {
            "event": "ready",
            **{
                key: info[key]
                for key in (
                    "api_url",
                    "emulator_url",
                    "stack_name",
                    "source_id",
                    "message_gateway",
                    "data_dir",
                )
            },
        }
    )
    while not stopping.wait(0.5):
        pass
    print("Stopping the local stack...", flush=True)
    report_to_stdout({"event": "stopped", **stack.stop()})
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is saved and closed: skip the interpreter's teardown, which frees the emulator's
    # objects one by one (seconds with a large data set) and has nothing left to do.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
