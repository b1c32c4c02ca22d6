"""An idle poller of the local stack sleeps until a message may have reached its queue: an SQS
send to that queue or an EventBridge put wakes it, a send to another queue does not."""

import json
import threading
import time

from infra.emulator import Arrivals


def waits(arrivals: Arrivals, queue: str, then: tuple[str, bytes | None]) -> float:
    seen = arrivals.seen(queue)
    timer = threading.Timer(0.05, arrivals.note, args=then)
    timer.start()
    started = time.monotonic()
    arrivals.wait(queue, seen, timeout=1.0)
    timer.join()
    return time.monotonic() - started


def test_a_send_to_its_queue_or_a_bus_put_wakes_the_poller_and_others_do_not():
    arrivals = Arrivals()
    to_mine = json.dumps({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/mine"}).encode()
    to_other = json.dumps({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/other"}).encode()
    assert waits(arrivals, "mine", ("AmazonSQS.SendMessageBatch", to_mine)) < 0.5
    assert waits(arrivals, "mine", (b"AWSEvents.PutEvents", None)) < 0.5  # botocore's header may be bytes
    assert waits(arrivals, "mine", ("AmazonSQS.SendMessage", to_other)) >= 0.9
    assert waits(arrivals, "mine", ("AmazonSQS.ReceiveMessage", to_mine)) >= 0.9
