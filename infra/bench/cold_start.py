"""Cold-start import time of each function, in a fresh interpreter."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys


def measure_cold_starts(runs: int = 3) -> dict[str, float]:
    from infra.template import functions, load_template

    results = {}
    for spec in functions(load_template()):
        module = spec.handler.rpartition(".")[0]
        code = (
            "import time; t = time.perf_counter(); import importlib; "
            f"importlib.import_module({module!r}); print(time.perf_counter() - t)"
        )
        samples = [
            float(
                subprocess.run(
                    [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
                ).stdout
            )
            for _ in range(runs)
        ]
        results[spec.logical_id] = statistics.median(samples) * 1000
    return results
