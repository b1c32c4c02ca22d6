"""API Gateway's one proxy route reaches every route of the app (issue 16): the event as API
Gateway (REST, proxy integration) sends it, through the template's handler."""

import json

import pytest

from functions.api.app import handler
from tests.unit.test_api import ADMIN_KEY, ports  # noqa: F401 - the fixture


class Context:
    function_name = "ApiFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ApiFunction"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


def proxy_event(method: str, path: str, *, headers: dict | None = None, body: str | None = None) -> dict:
    resource = "/" if path == "/" else "/{proxy+}"
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers or {},
        "multiValueHeaders": {name: [value] for name, value in (headers or {}).items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None if path == "/" else {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/dev{path}",
            "stage": "dev",
            "requestId": "r-1",
            "identity": {"sourceIp": "203.0.113.9"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


@pytest.mark.usefixtures("ports")
def test_a_request_to_the_proxy_route_reaches_its_route_with_its_path_parameters():
    health = handler(proxy_event("GET", "/health"), Context())
    assert health["statusCode"] == 200
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    missing = handler(proxy_event("GET", "/touchpoints/m-404", headers=admin), Context())
    assert (missing["statusCode"], json.loads(missing["body"])["error"]["details"]) == (
        404,
        {"message_id": "m-404"},
    )


def test_a_path_no_route_has_is_a_404_in_the_error_envelope():
    answer = handler(proxy_event("GET", "/no/such/thing"), Context())
    assert (answer["statusCode"], json.loads(answer["body"])["error"]["code"]) == (404, "not_found")


def test_a_method_a_route_does_not_take_is_a_405():
    answer = handler(proxy_event("DELETE", "/health"), Context())
    assert answer["statusCode"] == 405
