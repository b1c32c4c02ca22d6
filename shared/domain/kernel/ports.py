"""The two ports every capability needs: the clock and the event publisher. Each capability's own
ports are in its `ports` module; adapters in `shared.adapters` implement them, and unit tests use
the in-memory fakes in `tests/fakes.py`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...

    def publish_all(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None: ...
