"""The embedded emulator and the deploy of template.yaml into it.

moto is not concurrency-safe: under threads its conditional updates lose writes. DynamoDB
applies each request atomically, so the emulator serves each request whole, one at a time,
behind one lock. Clients must not long-poll SQS here (a waiting receive would hold the lock).

The same backends answer two ways, behind that one lock: over HTTP (the AWS CLI, SDKs, worker
processes) and in this process (`serve_in_process`: the functions the local stack runs here).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from infra import (
    emulator_dispatch,
    emulator_dynamodb,
    emulator_events,
    emulator_sqs,
    emulator_transactions,
)
from infra.template import FunctionSpec, emulator_template, functions

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def install_workarounds() -> None:
    """moto's per-request costs that grow with all the data it holds or with the size of an item,
    and the fixed ones every request repeats, replaced (each module says what upstream does)."""
    emulator_transactions.install()
    emulator_sqs.install()
    emulator_events.install()
    emulator_dynamodb.install()
    emulator_dispatch.install()


# One request at a time, whichever way it comes in (HTTP or in-process).
EMULATOR_LOCK = threading.Lock()


class Arrivals:
    """Counts the messages put on each queue, whichever way they came (an SQS send, an EventBridge
    rule's target, a message made visible again), so an idle poller sleeps until one reached its
    own queue, as a long poll returns when a message arrives, instead of polling often.

    `watch_queues()` has moto's SQS queues report here; before it, nothing is counted."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._counts: dict[str, int] = {}
        self._woken = 0

    def note(self, queue: str) -> None:
        with self._changed:
            self._counts[queue] = self._counts.get(queue, 0) + 1
            self._changed.notify_all()

    def seen(self, queue: str) -> tuple[int, int]:
        return self._counts.get(queue, 0), self._woken

    def wait(self, queue: str, seen: tuple[int, int], timeout: float) -> None:
        """Return when a message may have reached `queue` since `seen`, or after `timeout` s."""
        with self._changed:
            self._changed.wait_for(lambda: self.seen(queue) != seen, timeout)

    def wake(self) -> None:
        """Wake every idle poller (the stack is stopping)."""
        with self._changed:
            self._woken += 1
            self._changed.notify_all()

    def watch_queues(self) -> None:
        """Count each message moto adds to a queue, and each made visible again early (once per
        process; moto has no hook of its own)."""
        from moto.sqs.models import Queue, SQSBackend

        if getattr(Queue.add_message, "arrivals", None) is self:
            return
        add_message, change_visibility = Queue.add_message, SQSBackend.change_message_visibility
        arrivals = self

        def adding(queue: Any, message: Any) -> None:
            add_message(queue, message)
            arrivals.note(queue.name)

        def changing(backend: Any, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
            change_visibility(backend, queue_name, receipt_handle, visibility_timeout)
            arrivals.note(queue_name)

        adding.arrivals = changing.arrivals = self  # type: ignore[attr-defined]
        Queue.add_message = adding  # type: ignore[method-assign,assignment]
        SQSBackend.change_message_visibility = changing  # type: ignore[method-assign,assignment]


ARRIVALS = Arrivals()


def serialised(app: WsgiApp, lock: threading.Lock = EMULATOR_LOCK) -> WsgiApp:
    """Each request is served whole, body included, while holding the emulator's lock."""

    def serve_one_at_a_time(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            result = app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

    return serve_one_at_a_time


def serve_in_process() -> None:
    """Answer this process's boto3 calls (to AWS's own endpoints, i.e. without AWS_ENDPOINT_URL)
    from the emulator's backends directly, one at a time behind the emulator's lock.

    Upstream: moto's `botocore_stubber` (what `mock_aws` switches on) dispatches a request to the
    shared backends in the calling thread with no lock, and moto is not thread-safe; over HTTP
    the same call costs a socket round trip, a thread and a read timeout. Here the stubber is
    switched on without `mock_aws` (which would reset the backends and patch `requests`) and
    its dispatch takes the lock the HTTP server holds, so both ways see one serial emulator.
    """
    from moto.core.models import botocore_stubber

    install_workarounds()
    if getattr(botocore_stubber.process_request, "serialised", False):
        botocore_stubber.enabled = True
        return
    dispatch = botocore_stubber.process_request

    def process_one_at_a_time(request: Any) -> Any:
        with EMULATOR_LOCK:
            answer = dispatch(request)
        return answer

    process_one_at_a_time.serialised = True  # type: ignore[attr-defined]
    botocore_stubber.process_request = process_one_at_a_time  # type: ignore[method-assign]
    botocore_stubber.enabled = True


class SerialMotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://{self._host}:{self._server.server_port}"

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        install_workarounds()
        app = serialised(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._host, self._port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="emulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass(frozen=True)
class QueueAddress:
    url: str
    arn: str


@dataclass(frozen=True)
class DeployedStack:
    stack_name: str
    function_environments: dict[str, dict[str, str]]
    queues: dict[str, QueueAddress]  # logical id → address, for every SQS event source
    resources: dict[str, str]  # logical id → physical id

    def shared_environment(self) -> dict[str, str]:
        """The union of every function's variables. The local stack runs all functions in one
        process, so one name must mean one value everywhere (template tests assert it)."""
        merged: dict[str, str] = {}
        for function, environment in self.function_environments.items():
            for name, value in environment.items():
                if merged.setdefault(name, value) != value:
                    raise ValueError(f"{name} differs between functions ({function} has {value!r})")
        return merged


def _output_key(index: int) -> str:
    return f"LocalValue{index}"


def deploy(
    template: dict[str, Any],
    *,
    cloudformation: Any,
    sqs: Any,
    stack_name: str,
    parameters: dict[str, str],
) -> DeployedStack:
    """Create the template's non-function resources through the emulator's CloudFormation and
    resolve what the functions and triggers need, letting CloudFormation evaluate intrinsics."""
    specs = functions(template)
    outputs: dict[str, Any] = {}
    keys_by_expression: dict[str, str] = {}

    def output_for(expression: Any) -> str:
        canonical = json.dumps(expression, sort_keys=True)
        if canonical not in keys_by_expression:
            keys_by_expression[canonical] = _output_key(len(keys_by_expression))
            outputs[keys_by_expression[canonical]] = expression
        return keys_by_expression[canonical]

    env_keys: dict[str, dict[str, str | tuple[str]]] = {}
    for spec in specs:
        env_keys[spec.logical_id] = {
            name: (output_for(value),) if isinstance(value, dict) else str(value)
            for name, value in spec.environment.items()
        }
    queue_keys = {
        trigger.queue: (
            output_for({"Ref": trigger.queue}),
            output_for({"Fn::GetAtt": [trigger.queue, "Arn"]}),
        )
        for spec in specs
        for trigger in spec.sqs_triggers
    }

    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(emulator_template(template, outputs)),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(
            f"Stack {stack_name} ended {stack['StackStatus']}: {stack.get('StackStatusReason')}"
        )
    resolved = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    resources = {
        resource["LogicalResourceId"]: resource.get("PhysicalResourceId", "")
        for resource in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        if "LogicalResourceId" in resource  # moto lists a type it cannot create (QueuePolicy) without one
    }

    def queue_url(physical_url: str) -> str:
        # The emulator names queues by a public-looking URL; ask it for the one it serves.
        return str(sqs.get_queue_url(QueueName=physical_url.rsplit("/", 1)[-1])["QueueUrl"])

    function_environments = {
        function: {
            name: resolved[value[0]] if isinstance(value, tuple) else value
            for name, value in variables.items()
        }
        for function, variables in env_keys.items()
    }
    queues = {
        logical_id: QueueAddress(url=queue_url(resolved[url_key]), arn=resolved[arn_key])
        for logical_id, (url_key, arn_key) in queue_keys.items()
    }
    return DeployedStack(
        stack_name=stack_name, function_environments=function_environments, queues=queues, resources=resources
    )


def function_specs(template: dict[str, Any]) -> dict[str, FunctionSpec]:
    return {spec.logical_id: spec for spec in functions(template)}
