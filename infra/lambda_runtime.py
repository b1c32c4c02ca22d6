"""Runs the template's functions in-process the way Lambda would: a Lambda context, real SQS
event shapes from an event-source poller, and scheduled events fired on the template's
expressions. One invocation at a time per function (one execution environment each)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from infra.schedules import parse_schedule
from infra.template import FunctionSpec, ScheduleTrigger, SqsTrigger

ACCOUNT_ID = "123456789012"
SQS_RECEIVE_LIMIT = 10  # per ReceiveMessage call
ASYNC_RETRIES = 2  # Lambda's default for scheduled (asynchronous) invocations
Report = Callable[[dict[str, Any]], None]


class LambdaContext:
    def __init__(self, spec: FunctionSpec, region: str) -> None:
        self.function_name = spec.logical_id
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{spec.logical_id}"
        self.memory_limit_in_mb = spec.memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.logical_id}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextlib.contextmanager
def attributed_logs(context: LambdaContext) -> Iterator[None]:
    """Name the function and request on every log line written in this thread meanwhile.

    Here every function shares one process and one Powertools logger, whose keys are global: the
    keys `inject_lambda_context` sets for one invocation would label the lines another thread
    writes at the same moment (an API answer logged as the dispatch worker's). Thread-local keys
    override the global ones, so each line names the function that wrote it, as on Lambda."""
    from shared.observability import logger

    keys = {
        "function_name": context.function_name,
        "function_memory_size": context.memory_limit_in_mb,
        "function_arn": context.invoked_function_arn,
        "function_request_id": context.aws_request_id,
    }
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(keys)


class RunnableFunction(Protocol):
    spec: FunctionSpec
    region: str

    def invoke(self, event: dict[str, Any]) -> Any: ...


@dataclass
class LocalFunction:
    """A template function run in this process. One invocation at a time, unless `concurrent`
    (the API functions: Lambda would serve simultaneous requests from more environments)."""

    spec: FunctionSpec
    region: str
    concurrent: bool = False
    _handler: Callable[[dict[str, Any], Any], Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self) -> Callable[[dict[str, Any], Any], Any]:
        with self._lock:
            if self._handler is None:
                module_name, _, attribute = self.spec.handler.rpartition(".")
                self._handler = getattr(importlib.import_module(module_name), attribute)
            return self._handler

    def invoke(self, event: dict[str, Any]) -> Any:
        handler = self.handler()
        with contextlib.nullcontext() if self.concurrent else self._lock:
            context = LambdaContext(self.spec, self.region)
            with attributed_logs(context):
                return handler(event, context)


LAMBDA_WORKER = Path(__file__).with_name("lambda_worker.py")


@dataclass(frozen=True)
class ArtifactLayout:
    """Where the built artifacts are: one directory per function, the layer, and the stand-in
    for what Lambda's runtime provides (boto3), plus an interpreter of the runtime's version."""

    python: str
    functions: Path  # <functions>/<LogicalId>/
    layer: Path  # the layer's python/ directory
    runtime: Path

    def paths(self, spec: FunctionSpec) -> list[Path]:
        return [self.functions / spec.logical_id, self.layer, self.runtime]


class FunctionError(Exception):
    """The function raised: Lambda reports errorType and errorMessage."""


class ExecutionEnvironment:
    """One execution environment: a worker process that imported the handler from its artifact."""

    def __init__(self, spec: FunctionSpec, layout: ArtifactLayout, environment: dict[str, str]) -> None:
        paths = [argument for path in layout.paths(spec) for argument in ("--path", str(path))]
        self.process = subprocess.Popen(
            [layout.python, "-I", "-S", "-P", str(LAMBDA_WORKER), "--handler", spec.handler, *paths],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        threading.Thread(target=self._forward_logs, name=f"logs:{spec.logical_id}", daemon=True).start()
        greeting = self._read()
        if "init_error" in greeting:
            self.process.wait(timeout=5)
            raise FunctionError(
                f"{spec.handler} failed to initialise: {greeting['init_error']['errorMessage']}"
            )
        self.init_ms = float(greeting["init_ms"])

    def _forward_logs(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with _STDOUT_LOCK:
                sys.stdout.write(line)
                sys.stdout.flush()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise FunctionError(f"the execution environment exited ({self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def invoke(self, event: dict[str, Any], context: LambdaContext, timeout: int) -> Any:
        assert self.process.stdin is not None
        fields = {name: getattr(context, name) for name in _CONTEXT_FIELDS}
        self.process.stdin.write(
            json.dumps({"event": event, "context": {**fields, "timeout": timeout}}) + "\n"
        )
        self.process.stdin.flush()
        watchdog = threading.Timer(timeout, self.process.kill)  # as Lambda ends a run at its timeout
        watchdog.start()
        try:
            answer = self._read()
        except FunctionError:
            if not watchdog.is_alive():
                raise FunctionError(f"Task timed out after {timeout} seconds") from None
            raise
        finally:
            watchdog.cancel()
        if "error" in answer:
            raise FunctionError(f"{answer['error']['errorType']}: {answer['error']['errorMessage']}")
        return answer["result"]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)


_CONTEXT_FIELDS = (
    "function_name",
    "invoked_function_arn",
    "memory_limit_in_mb",
    "aws_request_id",
    "log_group_name",
    "log_stream_name",
)


class ArtifactFunction:
    """A template function run from its built artifact in worker processes, each one execution
    environment serving one invocation at a time (up to `concurrency` of them)."""

    def __init__(
        self,
        spec: FunctionSpec,
        region: str,
        *,
        layout: ArtifactLayout,
        environment: dict[str, str],
        concurrency: int = 1,
    ) -> None:
        self.spec, self.region = spec, region
        self._layout, self._environment = layout, environment
        self._idle: queue.LifoQueue[ExecutionEnvironment] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(concurrency)
        self._all: list[ExecutionEnvironment] = []
        self._lock = threading.Lock()
        self.init_ms: list[float] = []  # each execution environment's init (handler import) time

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._slots:
            try:
                environment = self._idle.get_nowait()
            except queue.Empty:
                environment = ExecutionEnvironment(self.spec, self._layout, self._environment)
                with self._lock:
                    self._all.append(environment)
                    self.init_ms.append(environment.init_ms)
            context = LambdaContext(self.spec, self.region)
            try:
                result = environment.invoke(event, context, self.spec.timeout)
            except FunctionError:
                if environment.process.poll() is not None:  # it died: the next call starts a new one
                    with self._lock:
                        self._all.remove(environment)
                    raise
                self._idle.put(environment)
                raise
            self._idle.put(environment)
            return result

    def close(self) -> None:
        with self._lock:
            for environment in self._all:
                environment.close()
            self._all.clear()


def delete_messages(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Delete these received messages, ten per request, as an event source does after an
    invocation for the messages that succeeded."""
    for start in range(0, len(messages), SQS_RECEIVE_LIMIT):
        chunk = messages[start : start + SQS_RECEIVE_LIMIT]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
        )


def sqs_event(messages: list[dict[str, Any]], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping delivers."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def scheduled_event(
    trigger: ScheduleTrigger, spec: FunctionSpec, *, at: datetime, region: str
) -> dict[str, Any]:
    if trigger.input is not None:
        return trigger.input
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{spec.logical_id}-{trigger.name}"],
        "detail": {},
    }


class SqsPoller(threading.Thread):
    """An SQS event source mapping: receive up to BatchSize (within the batching window), invoke,
    delete what succeeded, leave reported failures to come back after the visibility timeout
    (or after `redelivery_delay` seconds when set) so redrive moves poison messages to the DLQ."""

    def __init__(
        self,
        function: RunnableFunction,
        trigger: SqsTrigger,
        *,
        queue_url: str,
        queue_arn: str,
        sqs: Any,
        stop: threading.Event,
        report: Report,
        redelivery_delay: int | None = None,
        idle_wait: float = 0.02,
        max_idle_wait: float = 2.0,
        arrivals: Any = None,
    ) -> None:
        super().__init__(name=f"sqs:{function.spec.logical_id}.{trigger.name}", daemon=True)
        self._function, self._trigger = function, trigger
        self._queue_url, self._queue_arn = queue_url, queue_arn
        self._sqs, self._stopping, self._report = sqs, stop, report
        self._redelivery_delay = redelivery_delay
        self._idle_wait, self._max_idle_wait = idle_wait, max_idle_wait
        self._arrivals = arrivals  # infra.emulator.Arrivals: wakes an idle poller when one is sent
        self._queue_name = queue_url.rsplit("/", 1)[-1]

    def run(self) -> None:
        # An empty queue is polled less and less often (up to every `max_idle_wait` seconds), as
        # Lambda's pollers back off; a message added to the queue wakes its idle poller at once,
        # as a long poll returns when a message arrives. Only a message whose delay or visibility
        # timeout ends is found by the next poll, up to `max_idle_wait` later.
        idle = self._idle_wait
        while not self._stopping.is_set():
            try:
                seen = self._arrivals.seen(self._queue_name) if self._arrivals is not None else (0, 0)
                batch = self._receive_batch()
                if batch:
                    idle = self._idle_wait
                    self._deliver(batch)
                else:
                    if self._arrivals is not None:
                        self._arrivals.wait(self._queue_name, seen, idle)
                    else:
                        self._stopping.wait(idle)
                    idle = min(idle * 2, self._max_idle_wait)
            except Exception as error:  # the poller must outlive any one failure, as Lambda's does
                self._report({"event": "poller_error", "poller": self.name, "error": repr(error)})
                self._stopping.wait(1)

    def _receive_batch(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        window_ends = time.monotonic() + self._trigger.batching_window_seconds
        while len(batch) < self._trigger.batch_size and not self._stopping.is_set():
            messages = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(SQS_RECEIVE_LIMIT, self._trigger.batch_size - len(batch)),
                WaitTimeSeconds=0,  # never long-poll: the emulator serves one request at a time
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            batch.extend(messages)
            if not messages:
                if not batch or time.monotonic() >= window_ends:
                    break
                self._stopping.wait(min(0.05, max(0.0, window_ends - time.monotonic())))
        return batch

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        started = time.perf_counter()
        ids = [message["MessageId"] for message in batch]
        event = sqs_event(batch, queue_arn=self._queue_arn, region=self._function.region)
        try:
            response = self._function.invoke(event)
            failed = self._reported_failures(response, ids)
            error = None
        except Exception as raised:  # an uncaught error fails the whole batch, as in Lambda
            failed, error = set(ids), repr(raised)
        succeeded = [message for message in batch if message["MessageId"] not in failed]
        delete_messages(self._sqs, self._queue_url, succeeded)
        if failed and self._redelivery_delay is not None:
            for message in batch:
                if message["MessageId"] in failed:
                    self._sqs.change_message_visibility(
                        QueueUrl=self._queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=self._redelivery_delay,
                    )
        self._report(
            {
                "event": "invoked",
                "function": self._function.spec.logical_id,
                "trigger": f"sqs:{self._trigger.queue}",
                "messages": ids,
                "failed": sorted(failed),
                "error": error,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
        )

    def _reported_failures(self, response: Any, ids: list[str]) -> set[str]:
        if not self._trigger.reports_item_failures:
            return set()
        failures = (response or {}).get("batchItemFailures", []) if isinstance(response, dict) else []
        reported = {str(failure.get("itemIdentifier")) for failure in failures}
        if not reported <= set(ids):  # Lambda treats an unknown id as a failure of the whole batch
            return set(ids)
        return reported


class VirtualClock:
    """The local stack's time. Functions read `stack_now()`: the wall clock plus an offset that
    only moves forward, when the clock is advanced (time travel). Schedules run on `now()`: the
    same, `factor` times faster (`--accelerate`, for demos)."""

    def __init__(
        self, factor: float = 1.0, *, start: datetime | None = None, offset: timedelta = timedelta(0)
    ) -> None:
        if factor <= 0:
            raise ValueError("accelerate factor must be positive")
        self.factor = factor
        self._start_virtual = start or datetime.now(UTC)
        self._start_real = time.monotonic()
        self._offset = offset
        self._changed = threading.Condition()
        self.jumps = 0  # times the clock was moved; a schedule re-reads its next time after one
        self._firing = 0  # schedules firing now (any number at once, but not while the clock moves)
        self._moving = False

    @property
    def offset(self) -> timedelta:
        return self._offset

    def now(self) -> datetime:
        elapsed = timedelta(seconds=(time.monotonic() - self._start_real) * self.factor)
        return self._start_virtual + elapsed + self._offset

    def stack_now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def move_to(self, moment: datetime) -> None:
        """Set the stack's time (forward only) and wake every schedule to re-read its next time."""
        with self._changed:
            self._offset += max(timedelta(0), moment - self.stack_now())
            self.jumps += 1
            self._changed.notify_all()

    @contextlib.contextmanager
    def firing(self) -> Iterator[None]:
        """Held by a schedule while it fires: the clock does not move meanwhile."""
        with self._changed:
            self._changed.wait_for(lambda: not self._moving)
            self._firing += 1
        try:
            yield
        finally:
            with self._changed:
                self._firing -= 1
                self._changed.notify_all()

    @contextlib.contextmanager
    def moving(self) -> Iterator[None]:
        """Held while the clock is moved: no schedule fires on its own meanwhile (one move at a time)."""
        with self._changed:
            self._changed.wait_for(lambda: not self._moving and self._firing == 0)
            self._moving = True
        try:
            yield
        finally:
            with self._changed:
                self._moving = False
                self._changed.notify_all()

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def sleep_until(self, moment: datetime, *, jumps: int, stop: threading.Event) -> None:
        """Wait until `moment` on the schedules' clock, the clock is moved, or `stop` is set."""
        with self._changed:
            while not stop.is_set() and self.jumps == jumps:
                remaining = (moment - self.now()).total_seconds() / self.factor
                if remaining <= 0:
                    return
                self._changed.wait(min(remaining, 1.0))  # and notice `stop` within a second


class ScheduleFirer(threading.Thread):
    def __init__(
        self,
        function: RunnableFunction,
        trigger: ScheduleTrigger,
        *,
        clock: VirtualClock,
        stop: threading.Event,
        report: Report,
        retry_wait: float = 1.0,
    ) -> None:
        super().__init__(name=f"schedule:{function.spec.logical_id}.{trigger.name}", daemon=True)
        self.function, self.trigger = function, trigger
        self.schedule = parse_schedule(trigger.expression, trigger.timezone)
        self._clock, self._stopping, self._report, self._retry_wait = clock, stop, report, retry_wait

    def run(self) -> None:
        jumps = self._clock.jumps
        due = self.schedule.next_after(self._clock.now())
        while not self._stopping.is_set():
            self._clock.sleep_until(due, jumps=jumps, stop=self._stopping)
            if self._stopping.is_set():
                return
            with self._clock.firing():  # never while the clock is being moved
                if self._clock.jumps != jumps:
                    # Moved: what fell due in between was fired by the move (TimeTravel).
                    jumps, due = self._clock.jumps, self.schedule.next_after(self._clock.now())
                    continue
                if self._clock.now() < due:
                    continue
                self.fire(due)
            # The next time follows the last due time, not the end of the run: no drift.
            due, missed = self.schedule.next_after(due), 0
            while due <= self._clock.now():
                due, missed = self.schedule.next_after(due), missed + 1
            if missed:
                self._report(
                    {"event": "schedule_behind", "function": self.function.spec.logical_id, "missed": missed}
                )

    def fire(self, due: datetime) -> bool:
        """Invoke for the time `due`, retried as Lambda retries an asynchronous invocation."""
        event = scheduled_event(self.trigger, self.function.spec, at=due, region=self.function.region)
        for attempt in range(1 + ASYNC_RETRIES):
            started = time.perf_counter()
            try:
                result, error = self.function.invoke(event), None
            except Exception as raised:
                result, error = None, repr(raised)
            self._report(
                {
                    "event": "invoked",
                    "function": self.function.spec.logical_id,
                    "trigger": f"schedule:{self.trigger.expression}",
                    "scheduled_for": due.isoformat(),
                    "attempt": attempt + 1,
                    "error": error,
                    "result": result if error is None else None,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                }
            )
            if error is None:
                return True
            if self._stopping.wait(self._retry_wait):
                return False
        return False


_STDOUT_LOCK = threading.Lock()


def report_to_stdout(record: dict[str, Any]) -> None:
    """One JSON line per record, written whole so lines from other threads never split it."""
    line = json.dumps({"local_stack": record.pop("event"), **record}, default=str) + "\n"
    with _STDOUT_LOCK:
        sys.stdout.write(line)
        sys.stdout.flush()
