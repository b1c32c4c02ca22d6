"""SQS in the emulator at the cost of the messages a call touches, not of the whole queue.

Upstream (moto 5), these calls cost time in proportion to every message a queue holds:
- `ReceiveMessage` builds the list of all visible messages before it takes the first ten, and
  for each message it returns reads the queue's retention period through
  `get_queue_attributes`;
- `SendMessage` reads one setting (content-based deduplication) through the same attributes;
- reading any one attribute computes all of them, and three are counts over every message;
- `DeleteMessage` scans the queue twice and rebuilds its list for each message deleted.
With a backlog of thousands (a burst of touchpoints, a campaign's dispatch tasks) every poll and
every delete then took milliseconds to tens of milliseconds, behind the emulator's one lock.

The replacements walk the queue from its head and stop as soon as they have what they need:
messages are appended in the order they are sent, so what a poller receives, and then deletes,
is near the head. What the calls answer is unchanged.

`install()` replaces the methods on moto's SQS classes, once per process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from moto.sqs.exceptions import ReceiptHandleIsInvalid
from moto.sqs.models import Message, Queue, SQSBackend


class QueueAttributes(Mapping[str, Any]):
    """A queue's attributes, each computed when it is read (moto's property computes them all,
    counting every message three times, to answer one)."""

    def __init__(self, queue: Queue) -> None:
        self._queue = queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:  # type: ignore[attr-defined]
            names += queue.KMS_ATTRIBUTES
        if queue.policy:
            names.append("Policy")
        if queue.redrive_policy:
            names.append("RedrivePolicy")
        self._names = names

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        if name == "Policy":
            return self._queue.policy
        if name == "RedrivePolicy":
            return json.dumps(self._queue.redrive_policy)
        from moto.core.utils import camelcase_to_underscores

        value = getattr(self._queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class VisibleMessages:
    """The queue's visible, undelayed messages, found as they are iterated (moto's property
    builds the whole list first)."""

    def __init__(self, queue: Queue) -> None:
        self._queue = queue

    def __iter__(self) -> Iterator[Message]:
        for message in list(self._queue._messages):  # a C-speed copy: callers may move messages
            if message.visible and not message.delayed:
                yield message

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return next(iter(self), None) is not None


def _visible_messages(self: Queue) -> VisibleMessages:
    return VisibleMessages(self)


def _attributes(self: Queue) -> QueueAttributes:
    return QueueAttributes(self)


def _delete_message(self: Queue, receipt_handle: str) -> None:
    if receipt_handle in self.deleted_messages:
        return  # already deleted: deleting again is fine, as in SQS
    for index, message in enumerate(self._messages):
        if message.had_receipt_handle(receipt_handle):
            del self._messages[index]
            self.pending_messages.discard(message)
            self.deleted_messages.update(message.all_receipt_handles)  # type: ignore[arg-type]
            return
    raise ReceiptHandleIsInvalid()


def _within_retention(self: SQSBackend, queue_name: str, message: Message) -> bool:
    from moto.core.utils import unix_time

    retention_period = int(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]


def install() -> None:
    queue: Any = Queue
    if not isinstance(queue.messages, property) or queue.messages.fget is not _visible_messages:
        queue.messages = property(_visible_messages)
    queue.attributes = property(_attributes)
    queue.delete_message = _delete_message
    backend: Any = SQSBackend
    backend.is_message_valid_based_on_retention_period = _within_retention
