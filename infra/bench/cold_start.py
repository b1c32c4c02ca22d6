"""Cold start of each function as deployed: its init (the handler's import) measured in a fresh
interpreter of the runtime's Python that sees only the function's built artifact, the layer and
boto3, against a reference Powertools handler (Logger, Tracer and Metrics, boto3) measured the same
way in the same run. The environment is Lambda's with tracing on, as the template deploys it."""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.lambda_runtime import ArtifactLayout
    from infra.template import FunctionSpec

REFERENCE_HANDLER = """
import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@tracer.capture_lambda_handler
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event, context):
    return {}
"""
REFERENCE = "reference Powertools handler"


def _lambda_environment(spec: FunctionSpec, runtime: str) -> dict[str, str]:
    """What Lambda sets, with tracing on (unlike the local stack's workers: no emulator, no flags
    turning Powertools off), so both handlers pay for what they would pay deployed."""
    return {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "POWERTOOLS_SERVICE_NAME": "omnireach",
        "POWERTOOLS_METRICS_NAMESPACE": "Omnireach",
        "STAGE": "bench",
    }


def _init_ms(spec: FunctionSpec, layout: ArtifactLayout, runs: int, runtime: str) -> float:
    from infra.lambda_runtime import ExecutionEnvironment

    samples = []
    for _ in range(runs):
        environment = ExecutionEnvironment(spec, layout, _lambda_environment(spec, runtime))
        samples.append(environment.init_ms)
        environment.close()
    return statistics.median(samples)


def measure_cold_starts(runs: int = 5) -> dict[str, Any]:
    """Median init ms per handler and its ratio to the reference, plus the artifacts' sizes."""
    from infra.package import ArtifactSize, build_all, build_runnable, template_target
    from infra.template import functions, load_template

    template = load_template()
    specs, runtime = functions(template), template_target(template).runtime
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        layout = build_runnable(out)
        reference_dir = out / "Reference"
        reference_dir.mkdir()
        (reference_dir / "reference_handler.py").write_text(REFERENCE_HANDLER)
        reference_spec = replace(specs[0], logical_id="Reference", handler="reference_handler.lambda_handler")
        reference_ms = _init_ms(reference_spec, layout, runs, runtime)
        handlers = {spec.logical_id: _init_ms(spec, layout, runs, runtime) for spec in specs}
        sizes: list[ArtifactSize] = build_all(out / "template-architecture")
    return {
        "runs": runs,
        "reference_ms": reference_ms,
        "init_ms": handlers,
        "ratio_to_reference": {name: ms / reference_ms for name, ms in handlers.items()},
        "artifact_sizes": {size.artifact: vars(size) for size in sizes},
    }
