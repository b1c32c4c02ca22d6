"""What the domain needs from the outside world. Adapters in `shared.adapters` implement these;
unit tests use the in-memory fakes in `tests/fakes.py`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...

    def publish_all(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None: ...
