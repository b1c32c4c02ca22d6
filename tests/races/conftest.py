"""Race tests run on dynalite: moto is not safe under concurrent writers (it loses conditional
updates), dynalite's conditional writes are atomic. `make test` installs it under .tools/.
dynalite has no transactions, so races that need them (merges) run on the local stack's emulator
instead: moto served one request at a time (`SerialMotoServer`), so each conditional write and each
transaction is atomic as in DynamoDB while the workers race around them."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local_http import free_port
from infra.template import load_template
from shared import wiring

DYNALITE = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / "dynalite" / "cli.js"
TABLES = {
    "CustomersTable": "race-customers",
    "TouchpointsTable": "race-touchpoints",
    "CatalogTable": "race-catalog",
    "EngagementTable": "race-engagement",
}


def table_definition(logical_id: str, name: str) -> dict[str, Any]:
    """The table exactly as template.yaml declares its keys and indexes."""
    properties = load_template()["Resources"][logical_id]["Properties"]
    definition: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties["BillingMode"],
    }
    if "GlobalSecondaryIndexes" in properties:
        definition["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    return definition


@pytest.fixture(scope="session")
def dynalite() -> Iterator[str]:
    if not DYNALITE.exists():
        pytest.fail(f"dynalite is not installed at {DYNALITE}: run the tests with `make test`")
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed for the race tests (dynalite): apt-get install nodejs npm")
    port = free_port()
    process = subprocess.Popen(
        [node, str(DYNALITE), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            client.list_tables()
            break
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("dynalite did not start") from None
            time.sleep(0.1)
    for logical_id, name in TABLES.items():
        client.create_table(**table_definition(logical_id, name))
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    try:
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def on_dynalite(dynalite: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynalite)
    monkeypatch.setenv("CUSTOMERS_TABLE", TABLES["CustomersTable"])
    monkeypatch.setenv("TOUCHPOINTS_TABLE", TABLES["TouchpointsTable"])
    monkeypatch.setenv("CATALOG_TABLE", TABLES["CatalogTable"])
    monkeypatch.setenv("ENGAGEMENT_TABLE", TABLES["EngagementTable"])
    wiring.reset()
    yield
    wiring.reset()
    assert os.environ["AWS_ENDPOINT_URL"] == dynalite


@pytest.fixture(scope="session")
def serial_emulator() -> Iterator[str]:
    from infra.emulator import SerialMotoServer

    server = SerialMotoServer(port=0)
    server.start()
    client = boto3.client(
        "dynamodb",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    for logical_id in ("CustomersTable", "TouchpointsTable"):
        client.create_table(**table_definition(logical_id, TABLES[logical_id]))
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def on_serial_emulator(serial_emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", serial_emulator)
    monkeypatch.setenv("CUSTOMERS_TABLE", TABLES["CustomersTable"])
    monkeypatch.setenv("TOUCHPOINTS_TABLE", TABLES["TouchpointsTable"])
    wiring.reset()
    yield
    wiring.reset()
