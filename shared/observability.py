"""The only Logger, Tracer and Metrics instances. Service name and namespace come from the
POWERTOOLS_* variables that template.yaml sets in Globals."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

__all__ = ["logger", "metrics", "tracer"]
