"""One Lambda execution environment, run from built artifacts: started as
`python3.12 -I -S -P lambda_worker.py --handler H --path DIR [--path DIR ...]`, so the interpreter
sees the standard library and the given directories only (the function's artifact, the layer,
the runtime's boto3), never this repository or a virtualenv.

It imports the handler once (Lambda's init phase) and then answers invocations one at a time:
one JSON line in on stdin ({"event", "context"}), one JSON line out on the protocol stream
({"result"} or {"error"}). The function's own output (its logs) goes to stderr.

Standard library only: nothing here may come from the artifacts it runs.
"""

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class Context:
    """The Lambda context object a handler receives."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.function_name = fields["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = fields["invoked_function_arn"]
        self.memory_limit_in_mb = fields["memory_limit_in_mb"]
        self.aws_request_id = fields["aws_request_id"]
        self.log_group_name = fields["log_group_name"]
        self.log_stream_name = fields["log_stream_name"]
        self._deadline = time.monotonic() + float(fields["timeout"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(error: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(error),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handler", required=True)
    parser.add_argument("--path", action="append", default=[])
    args = parser.parse_args()
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the function prints goes to stderr, never into the protocol
    sys.path[:0] = args.path
    started = time.perf_counter()
    try:
        module_name, _, attribute = args.handler.rpartition(".")
        handler = getattr(importlib.import_module(module_name), attribute)
    except Exception as error:
        protocol.write(json.dumps({"init_error": _error(error)}) + "\n")
        return 1
    protocol.write(
        json.dumps({"ready": True, "init_ms": round((time.perf_counter() - started) * 1000, 1)}) + "\n"
    )
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = handler(request["event"], Context(request["context"]))
            answer = {"result": result}
        except Exception as error:
            answer = {"error": _error(error)}
        sys.stdout.flush()
        protocol.write(json.dumps(answer, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
