from shared.domain.operations.monitoring import check_queues
from shared.domain.operations.queue_health import DEAD_LETTERS_WAITING, MonitoredQueue, QueueDepth
from tests.fakes import FakeClock, FakeQueueInspector, RecordingPublisher

MAIN = MonitoredQueue("touchpoints", "q-main", is_dead_letter=False)
DLQ = MonitoredQueue("touchpoints-dlq", "q-dlq", is_dead_letter=True)


def test_an_empty_dead_letter_queue_raises_nothing():
    publisher = RecordingPublisher()
    inspector = FakeQueueInspector({"q-main": QueueDepth(visible=50, in_flight=3)})
    readings = check_queues([MAIN, DLQ], inspector=inspector, publisher=publisher, clock=FakeClock())
    assert [reading.depth.visible for reading in readings] == [50, 0]
    assert publisher.published == []


def test_dead_letters_waiting_are_announced_once_per_queue():
    publisher = RecordingPublisher()
    inspector = FakeQueueInspector({"q-main": QueueDepth(7, 0), "q-dlq": QueueDepth(2, 0)})
    check_queues([MAIN, DLQ], inspector=inspector, publisher=publisher, clock=FakeClock())
    assert [(kind, detail["queue"], detail["visible"]) for kind, detail in publisher.published] == [
        (DEAD_LETTERS_WAITING, "touchpoints-dlq", 2)
    ]
