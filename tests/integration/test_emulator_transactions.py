"""The emulator's transactions keep an undo log of the items they touch instead of copying whole
tables (moto's way, which made each transaction cost O(all data) and grew the local stack by
gigabytes). They must mean exactly what moto's do: the same outcome, errors and cancellation
reasons for any transaction, checked here side by side on identical tables."""

from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

from infra.emulator_transactions import snapshot_transact_write_items, transact_write_items

ACCOUNT, REGION = "123456789012", "us-east-1"
KEYS = ["a", "b", "c"]
SORTS = ["1", "2"]


@pytest.fixture(scope="module")
def backend():
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        for side in ("moto", "undo"):
            client.create_table(
                TableName=f"{side}-hash",
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            )
            client.create_table(
                TableName=f"{side}-range",
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
            )
        yield dynamodb_backends[ACCOUNT][REGION]


def key_strategy(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    if kind == "hash":
        return st.builds(lambda pk: {"pk": {"S": pk}}, st.sampled_from(KEYS))
    return st.builds(
        lambda pk, sk: {"pk": {"S": pk}, "sk": {"S": sk}}, st.sampled_from(KEYS), st.sampled_from(SORTS)
    )


CONDITIONS = st.sampled_from(
    [
        None,
        ("attribute_not_exists(pk)", {}),
        ("attribute_exists(pk)", {}),
        ("v = :expected", {":expected": {"N": "1"}}),
        ("v < :limit", {":limit": {"N": "3"}}),
    ]
)


@st.composite
def action(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["hash", "range"]))
    key = draw(key_strategy(kind))
    op_type = draw(st.sampled_from(["Put", "Update", "Delete", "ConditionCheck"]))
    condition = draw(CONDITIONS)
    if op_type == "ConditionCheck" and condition is None:
        condition = ("attribute_exists(pk)", {})
    op: dict[str, Any] = {}
    values: dict[str, Any] = {}
    if condition is not None:
        op["ConditionExpression"] = condition[0]
        values.update(condition[1])
    if op_type == "Put":
        op["Item"] = {**key, "v": {"N": str(draw(st.integers(0, 4)))}}
    else:
        op["Key"] = key
    if op_type == "Update":
        op["UpdateExpression"] = draw(st.sampled_from(["SET v = :n", "ADD v :n", "REMOVE w SET w = :n"]))
        values[":n"] = {"N": str(draw(st.integers(0, 4)))}
    if values:
        op["ExpressionAttributeValues"] = values
    if draw(st.booleans()):
        op["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return kind, {op_type: op}


def on_side(side: str, actions: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    named = []
    for kind, item in actions:
        ((op_type, op),) = item.items()
        named.append({op_type: {**op, "TableName": f"{side}-{kind}"}})
    return named


def contents(backend, side: str) -> dict[str, Any]:
    found = {}
    for kind in ("hash", "range"):
        table = backend.get_table(f"{side}-{kind}")
        for item in table.all_items():
            found[(kind, repr(item.hash_key), repr(item.range_key))] = item.to_json()["Attributes"]
    return found


def outcome(call, backend, items) -> tuple[str, str]:
    try:
        call(backend, items)
    except Exception as failed:
        return type(failed).__name__, str(failed)
    return "committed", ""


@st.composite
def starting_items(draw: st.DrawFn) -> list[tuple[str, dict[str, Any]]]:
    present = []
    for pk in KEYS:
        if draw(st.booleans()):
            present.append(("hash", {"pk": {"S": pk}, "v": {"N": str(draw(st.integers(0, 4)))}}))
        for sk in SORTS:
            if draw(st.booleans()):
                present.append(
                    ("range", {"pk": {"S": pk}, "sk": {"S": sk}, "v": {"N": str(draw(st.integers(0, 4)))}})
                )
    return present


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=starting_items(), actions=st.lists(action(), min_size=1, max_size=5))
def test_the_undo_log_means_what_moto_snapshots_mean(backend, start, actions):
    for side in ("moto", "undo"):
        for kind in ("hash", "range"):
            backend.get_table(f"{side}-{kind}").items.clear()
        for kind, attrs in start:
            backend.put_item(f"{side}-{kind}", attrs)

    by_moto = outcome(snapshot_transact_write_items, backend, on_side("moto", actions))
    by_undo_log = outcome(transact_write_items, backend, on_side("undo", actions))

    assert by_undo_log == by_moto
    assert contents(backend, "undo") == contents(backend, "moto")


def test_a_cancelled_transaction_neither_copies_nor_replaces_the_tables(backend):
    table = backend.get_table("undo-hash")
    table.items.clear()
    for pk in KEYS:
        backend.put_item("undo-hash", {"pk": {"S": pk}, "v": {"N": "1"}})
    bystander = table.get_item(*_key(table, "c"))

    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        transact_write_items(
            backend,
            [
                {
                    "Update": {
                        "TableName": "undo-hash",
                        "Key": {"pk": {"S": "a"}},
                        "UpdateExpression": "SET v = :n",
                        "ExpressionAttributeValues": {":n": {"N": "9"}},
                    }
                },
                {"Delete": {"TableName": "undo-hash", "Key": {"pk": {"S": "b"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "undo-hash",
                        "Key": {"pk": {"S": "c"}},
                        "ConditionExpression": "v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
            ],
        )

    assert backend.get_table("undo-hash") is table
    assert table.get_item(*_key(table, "c")) is bystander
    assert {pk: table.get_item(*_key(table, pk)).attrs["v"].value for pk in KEYS} == {
        "a": "1",
        "b": "1",
        "c": "1",
    }


def _key(table, pk: str) -> tuple[DynamoType, None]:
    return DynamoType({"S": pk}), None
