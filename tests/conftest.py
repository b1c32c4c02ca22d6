"""Fake AWS credentials and region before anything imports application code: Powertools and
boto3 read the environment when they build clients."""

import os

for _name in [name for name in os.environ if name.startswith(("AWS_", "POWERTOOLS_"))]:
    del os.environ[_name]
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_SERVICE_NAME="omnireach",
    POWERTOOLS_METRICS_NAMESPACE="Omnireach",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_DEV="false",
)

import pytest  # noqa: E402

from shared import wiring  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_dependencies():
    wiring.reset()
    yield
    wiring.reset()
