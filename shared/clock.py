"""Time comes from one injectable clock (the domain's `Clock` port)."""

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
