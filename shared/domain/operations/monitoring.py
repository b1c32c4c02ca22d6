"""Read queue depths and raise the alarm on the bus when dead letters are waiting."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.domain.kernel.activity import QueueSnapshot
from shared.domain.kernel.ports import Clock, EventPublisher
from shared.domain.operations.ports import QueueInspector
from shared.domain.operations.queue_health import DEAD_LETTERS_WAITING, MonitoredQueue, QueueReading


def check_queues(
    queues: Sequence[MonitoredQueue], *, inspector: QueueInspector, publisher: EventPublisher, clock: Clock
) -> list[QueueReading]:
    readings = [QueueReading(queue=queue, depth=inspector.depth(queue.url)) for queue in queues]
    for reading in readings:
        if reading.needs_attention:
            publisher.publish(
                DEAD_LETTERS_WAITING,
                {
                    "queue": reading.queue.name,
                    "visible": reading.depth.visible,
                    "observed_at": clock.now().isoformat(),
                },
            )
    return readings


def snapshot_of(readings: Sequence[QueueReading], observed_at: datetime) -> QueueSnapshot:
    return QueueSnapshot(
        observed_at=observed_at,
        queues=[
            {
                "name": reading.queue.name,
                "visible": reading.depth.visible,
                "in_flight": reading.depth.in_flight,
                "dead_letter": reading.queue.is_dead_letter,
                "needs_attention": reading.needs_attention,
            }
            for reading in readings
        ],
    )
