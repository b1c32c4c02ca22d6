"""Schema fuzzing with schemathesis against the served contract, on a stack of its own: no route
answers 5xx, whatever the body, headers or parameters, with the credentials that reach past
authentication into validation; and afterwards every listing still reads (no accepted value
breaks a later read)."""

import base64
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from infra.openapi import OPENAPI_PATH
from tests.e2e.test_local_stack import ADMIN_KEY, SERVER_WRITE_KEY, WRITE_KEY, RunningStack, http

pytestmark = pytest.mark.e2e

schema = schemathesis.openapi.from_path(OPENAPI_PATH)
ingest = schema.include(path_regex=r"^/(v1|webhooks)/")
everything_else = schema.exclude(path_regex=r"^/(v1|webhooks)/|^/reference$|^/openapi\.json$")
LISTINGS = [
    "/campaigns",
    "/contact-plans",
    "/coupon-definitions",
    "/frequency-policy",
    "/inventory/channels",
    "/inventory/locations",
    "/inventory/reconciliation",
    "/journey-templates",
    "/journeys",
    "/membership/summary",
    "/overview",
    "/prices",
    "/promotions",
    "/segments",
    "/sources",
]


@pytest.fixture(scope="module")
def fuzzed():
    """A stack the fuzz may fill with anything (the other e2e tests keep theirs)."""
    running = RunningStack()
    yield running
    running.stop()


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@ingest.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_ingest_route_answers_5xx(case, fuzzed):
    headers = {}
    if case.path.startswith("/v1/"):
        # The browser's key and the backend's, so bodies reach validation and normalisation.
        headers["Authorization"] = basic(SERVER_WRITE_KEY if len(str(case.body)) % 2 else WRITE_KEY)
    case.call_and_validate(base_url=fuzzed.url(""), headers=headers, checks=[not_a_server_error])


@everything_else.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_other_route_answers_5xx_to_the_admin(case, fuzzed):
    """With the admin key every bound is reached: ids, amounts, quantities, times, rules."""
    case.call_and_validate(
        base_url=fuzzed.url(""), headers={"Authorization": f"Bearer {ADMIN_KEY}"}, checks=[not_a_server_error]
    )


def test_after_the_fuzz_every_listing_and_preview_still_reads(fuzzed):
    admin = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
    answers = {path: http("GET", fuzzed.url(path), headers=admin)[0] for path in LISTINGS}
    assert {path: status for path, status in answers.items() if status != 200} == {}
    preview = b'{"rule": {"field": "orders", "op": "gte", "value": 0}}'
    assert http("POST", fuzzed.url("/segments/preview"), body=preview, headers=admin)[0] == 200
    with urllib.request.urlopen(fuzzed.url("/health"), timeout=10) as health:  # noqa: S310 (local)
        assert health.status == 200
