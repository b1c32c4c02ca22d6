"""Operations' composition root: the queue inspector and the queues it watches."""

from __future__ import annotations

from shared.adapters.sqs.operations import SqsQueueInspector
from shared.domain.kernel.errors import ConfigurationError
from shared.domain.operations.ports import QueueInspector
from shared.domain.operations.queue_health import MonitoredQueue
from shared.settings import get_settings
from shared.wiring import built_once


@built_once
def get_queue_inspector() -> QueueInspector:
    return SqsQueueInspector()


def get_monitored_queues() -> list[MonitoredQueue]:
    settings = get_settings()
    queues = []
    for pair in filter(None, (part.strip() for part in settings.monitored_queues.split(","))):
        name, _, url = pair.partition("=")
        if not name or not url:
            raise ConfigurationError(f"MONITORED_QUEUES: {pair!r} is not name=url")
        queues.append(MonitoredQueue(name.strip(), url.strip(), is_dead_letter=name.strip().endswith("-dlq")))
    if not queues:
        raise ConfigurationError("MONITORED_QUEUES is not set for this function")
    return queues
