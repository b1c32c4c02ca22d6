"""The emulator's per-request workarounds for in-process calls (infra/emulator_dispatch.py) and
DynamoDB's item operations as plain JSON (infra/emulator_dynamodb.py). Each cost test fails if its
workaround is removed; the equivalence test shows the answers are upstream's, byte for byte in
what a client parses."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.serialize import ResponseSerializer
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from infra import emulator_dispatch, emulator_dynamodb

REGION = "us-east-1"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def make_table(dynamodb: Any, name: str = "items") -> None:
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )


def counted(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    calls = [0]
    upstream = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return upstream(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls


def test_the_handler_and_its_method_names_are_found_once_not_per_request(aws, monkeypatch):
    import moto.backends

    emulator_dispatch.handler_for.cache_clear()
    emulator_dispatch.method_names_once.cache_clear()
    backend_lookups = counted(monkeypatch, moto.backends, "get_backend")
    member_listings = counted(monkeypatch, inspect, "getmembers")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    make_table(dynamodb)
    for index in range(20):
        dynamodb.get_item(TableName="items", Key={"pk": {"S": str(index)}, "sk": {"S": "x"}})
    assert backend_lookups[0] <= 1  # moto's stubber: once per request
    assert member_listings[0] <= 1  # moto's handler: once per request


def test_in_process_requests_go_unsigned_and_s3_ones_signed(aws):
    seen: dict[str, str | None] = {}

    def capture(request: Any, **_: Any) -> None:
        header = request.headers.get("Authorization")
        seen[request.url.split("/")[2].split(".")[0]] = (
            header.decode() if isinstance(header, bytes) else header
        )

    dynamodb, s3 = boto3.client("dynamodb", region_name=REGION), boto3.client("s3", region_name=REGION)
    for client in (dynamodb, s3):
        client.meta.events.register("before-send", capture)
    dynamodb.list_tables()
    s3.create_bucket(Bucket="exports")
    s3.put_object(Bucket="exports", Key="a.csv", Body=b"x")
    assert seen["dynamodb"] is None  # the emulator never checks it; signing cost a fifth of a call
    assert seen["exports"] is not None and seen["exports"].startswith("AWS4-HMAC-SHA256")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "exports", "Key": "a.csv"})
    assert "Signature=" in url


def test_reading_an_item_does_not_walk_the_output_shape(aws, monkeypatch):
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    make_table(dynamodb)
    profile = {
        "pk": {"S": "p"},
        "sk": {"S": "PROFILE"},
        "traits": {"M": {f"t{i}": {"S": "v"} for i in range(30)}},
    }
    dynamodb.put_item(TableName="items", Item=profile)
    serializations = counted(monkeypatch, ResponseSerializer, "serialize")
    item = dynamodb.get_item(TableName="items", Key={"pk": {"S": "p"}, "sk": {"S": "PROFILE"}})["Item"]
    assert item == profile
    assert serializations[0] == 0  # moto: the answer walked through the output shape


def item_operations(dynamodb: Any) -> list[Any]:
    """A run of item operations (every kind of attribute value, conditions, expressions, pages,
    batches, transactions, errors) and what the client parsed from each answer."""
    make_table(dynamodb, "run")
    answers: list[Any] = []

    def record(call: Callable[[], Any]) -> None:
        try:
            answer = call()
            answer.pop("ResponseMetadata", None)
            answers.append(answer)
        except ClientError as error:
            answers.append(("error", error.response["Error"], error.response.get("Item")))

    item = {
        "pk": {"S": "a"},
        "sk": {"S": "1"},
        "n": {"N": "12.50"},
        "b": {"B": b"\x00\xffbytes"},
        "bs": {"BS": [b"one", b"two"]},
        "ss": {"SS": ["x", "y"]},
        "ns": {"NS": ["1", "2"]},
        "flag": {"BOOL": True},
        "none": {"NULL": True},
        "list": {"L": [{"S": "l"}, {"N": "3"}, {"M": {"deep": {"BOOL": False}}}]},
        "map": {"M": {"k": {"S": "v"}, "when": {"S": "2026-12-03T10:00:00+08:00"}}},
    }
    record(lambda: dynamodb.put_item(TableName="run", Item=item, ReturnConsumedCapacity="TOTAL"))
    for index in range(2, 8):
        record(
            lambda i=index: dynamodb.put_item(TableName="run", Item={"pk": {"S": "a"}, "sk": {"S": str(i)}})
        )
    record(
        lambda: dynamodb.put_item(
            TableName="run",
            Item={"pk": {"S": "a"}, "sk": {"S": "1"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    )
    record(lambda: dynamodb.get_item(TableName="run", Key={"pk": {"S": "a"}, "sk": {"S": "1"}}))
    record(
        lambda: dynamodb.get_item(
            TableName="run",
            Key={"pk": {"S": "a"}, "sk": {"S": "1"}},
            ProjectionExpression="#m.k, n",
            ExpressionAttributeNames={"#m": "map"},
        )
    )
    record(lambda: dynamodb.get_item(TableName="run", Key={"pk": {"S": "missing"}, "sk": {"S": "1"}}))
    record(
        lambda: dynamodb.update_item(
            TableName="run",
            Key={"pk": {"S": "a"}, "sk": {"S": "1"}},
            UpdateExpression="SET n = n + :one, map.k = :v ADD ss :more REMOVE none",
            ExpressionAttributeValues={":one": {"N": "1"}, ":v": {"S": "w"}, ":more": {"SS": ["z"]}},
            ReturnValues="ALL_NEW",
        )
    )
    record(
        lambda: dynamodb.query(
            TableName="run",
            KeyConditionExpression="pk = :a",
            ExpressionAttributeValues={":a": {"S": "a"}},
            Limit=3,
            ReturnConsumedCapacity="TOTAL",
        )
    )
    record(
        lambda: dynamodb.query(
            TableName="run",
            KeyConditionExpression="pk = :a",
            ExpressionAttributeValues={":a": {"S": "a"}},
            ExclusiveStartKey={"pk": {"S": "a"}, "sk": {"S": "3"}},
            Select="COUNT",
        )
    )
    record(lambda: dynamodb.scan(TableName="run", FilterExpression="attribute_exists(b)"))
    record(
        lambda: dynamodb.batch_get_item(
            RequestItems={"run": {"Keys": [{"pk": {"S": "a"}, "sk": {"S": str(i)}} for i in range(1, 4)]}}
        )
    )
    record(
        lambda: dynamodb.batch_write_item(
            RequestItems={"run": [{"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"S": "7"}}}}]}
        )
    )
    record(
        lambda: dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "run",
                        "Key": {"pk": {"S": "a"}, "sk": {"S": "2"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"N": "1"}},
                        "ConditionExpression": "attribute_not_exists(v)",
                    }
                }
            ]
        )
    )
    record(
        lambda: dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": "run",
                        "Item": {"pk": {"S": "a"}, "sk": {"S": "2"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            ]
        )
    )
    record(
        lambda: dynamodb.transact_get_items(
            TransactItems=[{"Get": {"TableName": "run", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}}}}]
        )
    )
    record(
        lambda: dynamodb.delete_item(
            TableName="run", Key={"pk": {"S": "a"}, "sk": {"S": "1"}}, ReturnValues="ALL_OLD"
        )
    )
    record(lambda: dynamodb.get_item(TableName="nope", Key={"pk": {"S": "a"}, "sk": {"S": "1"}}))
    return answers


def test_item_operations_answer_what_upstream_answers(monkeypatch):
    with mock_aws():
        fast = item_operations(boto3.client("dynamodb", region_name=REGION))
    monkeypatch.setattr(DynamoHandler, "parse_parameters", emulator_dynamodb.upstream_parse_parameters)
    monkeypatch.setattr(DynamoHandler, "serialized", emulator_dynamodb.upstream_serialized)
    monkeypatch.setattr(Table, "query", emulator_dynamodb.upstream_query)
    monkeypatch.setattr(Table, "all_items", emulator_dynamodb.upstream_all_items)
    with mock_aws():
        upstream = item_operations(boto3.client("dynamodb", region_name=REGION))
    assert len(fast) == 22
    assert fast == upstream


def test_a_query_reads_its_partition_not_the_table(aws, monkeypatch):
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    make_table(dynamodb)
    for start in range(0, 2000, 25):
        dynamodb.batch_write_item(
            RequestItems={
                "items": [
                    {"PutRequest": {"Item": {"pk": {"S": f"p{i % 200}"}, "sk": {"S": f"{i:05d}"}}}}
                    for i in range(start, start + 25)
                ]
            }
        )
    comparisons = counted(monkeypatch, DynamoType, "__eq__")
    found = dynamodb.query(
        TableName="items", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p7"}}
    )["Items"]
    missing = dynamodb.query(
        TableName="items", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "none"}}
    )["Items"]
    assert [item["sk"]["S"] for item in found] == [f"{i:05d}" for i in range(7, 2000, 200)]
    assert missing == []
    assert comparisons[0] < 200  # moto: every item of the table compared (and sorted) per query


def index_query(dynamodb: Any) -> list[Any]:
    dynamodb.create_table(
        TableName="due",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "due_shard", "AttributeType": "S"},
            {"AttributeName": "due_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "due",
                "KeySchema": [
                    {"AttributeName": "due_shard", "KeyType": "HASH"},
                    {"AttributeName": "due_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    for start in range(0, 1000, 25):
        dynamodb.batch_write_item(
            RequestItems={
                "due": [
                    {
                        "PutRequest": {
                            "Item": {
                                "pk": {"S": f"p{(i * 37) % 1000}"},
                                "sk": {"S": f"s{i % 3}"},
                                "due_shard": {"S": f"d{i % 4}"},
                                "due_at": {"S": f"2026-12-{1 + i % 20:02d}"},  # many ties
                            }
                        }
                    }
                    for i in range(start, start + 25)
                ]
            }
        )
    pages, start_key = [], None
    while True:
        kwargs: dict[str, Any] = {"ExclusiveStartKey": start_key} if start_key else {}
        page = dynamodb.query(
            TableName="due",
            IndexName="due",
            KeyConditionExpression="due_shard = :s AND due_at <= :t",
            ExpressionAttributeValues={":s": {"S": "d1"}, ":t": {"S": "2026-12-10"}},
            Limit=40,
            **kwargs,
        )
        pages.append([(item["pk"]["S"], item["sk"]["S"], item["due_at"]["S"]) for item in page["Items"]])
        start_key = page.get("LastEvaluatedKey")
        if not start_key:
            return pages


def test_an_index_query_sorts_what_matches_not_the_table(monkeypatch):
    with mock_aws():
        comparisons = counted(monkeypatch, DynamoType, "__lt__")
        fast = index_query(boto3.client("dynamodb", region_name=REGION))
        fast_comparisons = comparisons[0]
    monkeypatch.setattr(Table, "query", emulator_dynamodb.upstream_query)
    monkeypatch.setattr(Table, "all_items", emulator_dynamodb.upstream_all_items)
    with mock_aws():
        comparisons[0] = 0
        upstream = index_query(boto3.client("dynamodb", region_name=REGION))
        upstream_comparisons = comparisons[0]
    assert sum(len(page) for page in fast) == 150
    assert fast == upstream
    assert fast_comparisons * 3 < upstream_comparisons  # moto sorts the whole table per query
