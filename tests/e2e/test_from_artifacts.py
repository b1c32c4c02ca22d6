"""`make run ARGS=--from-artifacts`: every function runs from its built artifact in its own
processes, and the README's curl walkthrough works against it as written."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from tests.e2e.test_local_stack import ROOT, RunningStack, wait_for

pytestmark = pytest.mark.e2e


def readme_tour() -> list[tuple[str, str]]:
    """The tour's curl commands with the first line of the answer the README shows for each."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## A tour", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands: list[tuple[str, str]] = []
    for chunk in block.strip().split("\n\n"):
        lines = chunk.splitlines()
        command = "\n".join(line for line in lines if not line.startswith("#"))
        shown = next(line[2:] for line in lines if line.startswith("# "))
        commands.append((command, shown))
    return commands


def curl(command: str, port: int) -> Any:
    local = command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    done = subprocess.run(["/bin/bash", "-c", local], capture_output=True, text=True, check=True, timeout=30)
    return json.loads(done.stdout)


def test_the_readme_tour_works_against_functions_run_from_their_artifacts():
    stack = RunningStack(
        "--from-artifacts",
        "--admin-key",
        "local-admin-key",
        "--server-write-key",
        "local-server-key",
    )
    try:
        assert any("functions      " in line and ".aws-sam/local" in line for line in stack.lines)
        (send, sent), (read, stored), (profile, folded) = readme_tour()
        assert curl(send, stack.port) == json.loads(sent)

        touchpoint = wait_for(
            lambda: (t := curl(read, stack.port)).get("touchpoint_id") and t, timeout=60, what="m-1"
        )
        assert (touchpoint["type"], touchpoint["order"]["order_id"]) == ("order", "o-1")
        assert re.search(r'"type":"order"', stored)

        found = wait_for(lambda: (p := curl(profile, stack.port)).get("orders") and p, timeout=60, what="u-1")
        assert found["identifiers"] == [{"type": "user_id", "value": "u-1"}]
        assert (found["orders"], found["revenue"]) == (1, "129.9")
        assert '"orders":1' in folded
        # The answers came from worker processes: the template's functions, from the artifacts.
        invoked = {record["function"] for record in stack.records("invoked")}
        assert "TouchpointsFunction" in invoked
    finally:
        assert stack.stop() == 0
