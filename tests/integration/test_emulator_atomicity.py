"""The local stack's emulator serves one request at a time, so concurrent conditional writes
through it hold as they do in DynamoDB (moto in-process loses them under threads)."""

import sys
import threading

import boto3
import pytest

from infra.emulator import SerialMotoServer


@pytest.fixture
def frequent_thread_switches():
    """Switch threads every microsecond so a race inside the emulator shows up if it exists."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


@pytest.fixture
def emulator():
    server = SerialMotoServer(port=0)
    server.start()
    yield server.endpoint
    server.stop()


def test_concurrent_conditional_increments_are_never_lost(emulator, frequent_thread_switches):
    dynamodb = boto3.client("dynamodb", endpoint_url=emulator)
    dynamodb.create_table(
        TableName="counter",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    dynamodb.put_item(TableName="counter", Item={"pk": {"S": "c"}, "v": {"N": "0"}})
    successes = []

    def increment_many(times: int) -> None:
        client = boto3.client("dynamodb", endpoint_url=emulator)
        done = 0
        while done < times:
            current = client.get_item(TableName="counter", Key={"pk": {"S": "c"}}, ConsistentRead=True)
            value = int(current["Item"]["v"]["N"])
            try:
                client.update_item(
                    TableName="counter",
                    Key={"pk": {"S": "c"}},
                    UpdateExpression="SET v = :next",
                    ConditionExpression="v = :seen",
                    ExpressionAttributeValues={":next": {"N": str(value + 1)}, ":seen": {"N": str(value)}},
                )
                done += 1
            except client.exceptions.ConditionalCheckFailedException:
                continue
        successes.append(done)

    threads = [threading.Thread(target=increment_many, args=(15,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    final = dynamodb.get_item(TableName="counter", Key={"pk": {"S": "c"}}, ConsistentRead=True)["Item"]["v"][
        "N"
    ]
    assert sum(successes) == 8 * 15
    assert int(final) == sum(successes)
