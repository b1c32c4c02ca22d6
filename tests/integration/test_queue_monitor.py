import json

import boto3

from functions.queue_monitor.handler import lambda_handler as monitor
from tests.integration.conftest import context_for, watch_bus

SCHEDULED = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


def test_dead_letters_raise_an_event_on_the_bus(stack, monkeypatch):
    environment = stack.function_environments["QueueMonitorFunction"]
    watch = watch_bus(environment["EVENT_BUS_NAME"])
    sqs = boto3.client("sqs")
    dlq_name = stack.resources["TouchpointDeadLetterQueue"].rsplit("/", 1)[-1]
    dlq_url = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
    sqs.send_message(QueueUrl=dlq_url, MessageBody="poison")

    report = monitor(SCHEDULED, context_for("QueueMonitorFunction"))

    by_queue = {row["queue"]: row for row in report["queues"]}
    assert by_queue["touchpoints-dlq"] == {
        "queue": "touchpoints-dlq",
        "visible": 1,
        "in_flight": 0,
        "needs_attention": True,
    }
    assert by_queue["touchpoints"]["needs_attention"] is False
    (message,) = sqs.receive_message(QueueUrl=watch, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert (event["detail-type"], event["detail"]["queue"], event["detail"]["visible"]) == (
        "DeadLettersWaiting",
        "touchpoints-dlq",
        1,
    )


def test_quiet_queues_raise_nothing(stack):
    environment = stack.function_environments["QueueMonitorFunction"]
    watch = watch_bus(environment["EVENT_BUS_NAME"])
    report = monitor(SCHEDULED, context_for("QueueMonitorFunction"))
    assert not any(row["needs_attention"] for row in report["queues"])
    assert boto3.client("sqs").receive_message(QueueUrl=watch).get("Messages", []) == []


def test_the_monitor_emits_no_custom_metric_per_queue(stack, capsys):
    """SQS publishes each queue's depth for free; a custom metric per queue would cost USD 0.30 a
    month each."""
    monitor(SCHEDULED, context_for("QueueMonitorFunction"))
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = [m["Name"] for blob in emitted for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    assert not [name for name in names if name.endswith((".visible", ".in_flight"))]
