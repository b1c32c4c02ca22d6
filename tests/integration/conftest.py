"""Integration: handlers and adapters under moto, with every resource deployed from template.yaml
by the same code the local stack uses."""

import boto3
import pytest
from moto import mock_aws

from infra.emulator import DeployedStack, deploy, function_specs
from infra.lambda_runtime import LambdaContext
from infra.template import load_template
from shared import dependencies
from shared.domain.credentials import secret_digest
from shared.domain.touchpoints import Source

ADMIN_KEY = "integration-admin-key"
WRITE_KEY = "integration-write-key"
TEMPLATE = load_template()
SPECS = function_specs(TEMPLATE)


@pytest.fixture
def stack(monkeypatch) -> DeployedStack:
    with mock_aws():
        deployed = deploy(
            TEMPLATE,
            cloudformation=boto3.client("cloudformation"),
            sqs=boto3.client("sqs"),
            stack_name="omnireach-test",
            parameters={"Stage": "test", "AdminApiKeySha256": secret_digest(ADMIN_KEY)},
        )
        for name, value in deployed.shared_environment().items():
            monkeypatch.setenv(name, value)
        dependencies.reset()
        dependencies.get_source_registry().register(
            Source(source_id="web", channel="web", name="Web shop"), WRITE_KEY
        )
        yield deployed


def context_for(function: str) -> LambdaContext:
    return LambdaContext(SPECS[function], "us-east-1")
