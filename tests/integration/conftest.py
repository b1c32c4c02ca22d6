"""Integration: handlers and adapters under moto, with every resource deployed from template.yaml
by the same code the local stack uses."""

import base64

import boto3
import pytest
from moto import mock_aws

from infra.emulator import DeployedStack, deploy, function_specs, install_workarounds
from infra.lambda_runtime import LambdaContext
from infra.template import load_template
from shared import wiring
from shared.domain.ingest.credentials import secret_digest
from shared.domain.ingest.sources import NewSource, create_source
from shared.domain.ingest.touchpoints import Channel, SourceKind, SourceTrust
from shared.wiring import ingest as ingest_wiring

ADMIN_KEY = "integration-admin-key"
WRITE_KEY = "integration-write-key"  # the web shop's page: a client-side source
LINK_SECRET = "integration-link-secret-0123456789abcdef"
SERVER_WRITE_KEY = "integration-server-key"  # the web shop's backend: server-side, its orders are real
TEMPLATE = load_template()
SPECS = function_specs(TEMPLATE)
PROFILE_ID_KEY = b"integration-profile-id-key-0123456789"
install_workarounds()  # the emulator as the local stack runs it


@pytest.fixture
def stack(monkeypatch) -> DeployedStack:
    with mock_aws():
        deployed = deploy(
            TEMPLATE,
            cloudformation=boto3.client("cloudformation"),
            sqs=boto3.client("sqs"),
            stack_name="omnireach-test",
            parameters={
                "Stage": "test",
                "AdminApiKeySha256": secret_digest(ADMIN_KEY),
                "LinkSigningSecrets": LINK_SECRET,
            },
        )
        for name, value in deployed.shared_environment().items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        # A fixed profile-id key, so that the same test data names the same profiles every run
        # (a deployment makes a random one on first use).
        boto3.client("dynamodb").put_item(
            TableName=deployed.resources["CustomersTable"],
            Item={
                "pk": {"S": "DEPLOYMENT"},
                "sk": {"S": "PROFILE_ID_KEY"},
                "kind": {"S": "deployment_key"},
                "secret": {"S": base64.b64encode(PROFILE_ID_KEY).decode()},
            },
        )
        create_source(
            NewSource(source_id="web", name="Web shop", kind=SourceKind.SEGMENT, channel=Channel.WEB),
            registry=ingest_wiring.get_source_registry(),
            write_key_factory=lambda: WRITE_KEY,
        )
        create_source(
            NewSource(
                source_id="web-backend",
                name="Web shop backend",
                kind=SourceKind.SEGMENT,
                channel=Channel.WEB,
                trust=SourceTrust.SERVER,
            ),
            registry=ingest_wiring.get_source_registry(),
            write_key_factory=lambda: SERVER_WRITE_KEY,
        )
        yield deployed


def context_for(function: str) -> LambdaContext:
    return LambdaContext(SPECS[function], "us-east-1")


def watch_bus(bus_name: str, name: str = "bus-watch") -> str:
    """A test-only rule that copies every product event on the bus to a queue we can read."""
    import json

    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus_name, EventPattern=json.dumps({"source": ["omnireach"]}))
    events.put_targets(Rule=name, EventBusName=bus_name, Targets=[{"Id": "q", "Arn": arn}])
    return str(url)
