"""Schema fuzzing with schemathesis against the served contract: no ingest route answers 5xx,
whatever the body, headers or parameters."""

import base64

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from infra.openapi import OPENAPI_PATH
from tests.e2e.test_local_stack import WRITE_KEY

pytestmark = pytest.mark.e2e

schema = schemathesis.openapi.from_path(OPENAPI_PATH)
ingest = schema.include(path_regex=r"^/(v1|webhooks)/")


@ingest.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_ingest_route_answers_5xx(case, stack):
    headers = {}
    if case.path.startswith("/v1/"):
        # Authenticated, so the bodies reach validation and normalisation.
        headers["Authorization"] = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    case.call_and_validate(base_url=stack.url(""), headers=headers, checks=[not_a_server_error])
