"""Moving the local stack's clock forward, with what falls due on the way happening in order.

`advance` walks from the stack's time to the target, stopping at each moment something is due:
a journey timer, a deferred send, a reservation's expiry (the tables' due indexes), and each time
of a schedule that runs daily or less often (the nightly recompute, the loyalty day). At each
stop the clock is set to that moment, the schedules due there fire, and every schedule that runs
more often (the every-minute sweeps, the hourly birthday perks) fires once: what those do depends
on the time, not on how many ticks they missed, and a daily stop comes at least once a day.
Then the stack waits until its queues are empty before it moves on, so work caused at one stop
is done, at that stop's time, before the next. Each timer therefore fires once, at its minute.

`python -m infra.time_travel [advance DURATION]` (`make clock ARGS=...`) asks a running stack.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from infra.lambda_runtime import Report, ScheduleFirer, VirtualClock

LONG_PERIOD = timedelta(days=1)  # schedules this far apart or more fire at each of their times
DRAIN_TIMEOUT_SECONDS = 120.0
MAX_ADVANCE = timedelta(days=400)


class DueIndex(Protocol):
    def next_due(self, prefix: str, after: datetime, until: datetime) -> datetime | None: ...


@dataclass(frozen=True)
class DueSource:
    index: Callable[[], DueIndex]
    prefix: str


class QueueBacklog(Protocol):
    def __call__(self) -> dict[str, int]:
        """Messages waiting or in flight, per queue that has any."""
        ...


def period_of(firer: ScheduleFirer, around: datetime) -> timedelta:
    first = firer.schedule.next_after(around)
    return firer.schedule.next_after(first) - first


@dataclass
class TimeTravel:
    clock: VirtualClock
    firers: list[ScheduleFirer]
    due: list[DueSource]
    backlog: QueueBacklog
    report: Report
    stop: threading.Event = field(default_factory=threading.Event)  # the stack is stopping: stop here
    drain_timeout: float = DRAIN_TIMEOUT_SECONDS

    def advance(self, by: timedelta) -> dict[str, Any]:
        if not timedelta(0) < by <= MAX_ADVANCE:
            raise ValueError(f"advance by more than 0 and at most {MAX_ADVANCE.days} days")
        started = time.monotonic()
        with self.clock.moving():
            self._drain()  # work already under way finishes at the present time, then time moves
            moment = self.clock.stack_now()
            target = moment + by
            long = [f for f in self.firers if period_of(f, moment) >= LONG_PERIOD]
            short = [f for f in self.firers if f not in long]
            next_long = {id(f): f.schedule.next_after(moment) for f in long}
            stops, fired, undrained = 0, 0, {}
            while moment < target and not self.stop.is_set():
                candidates = [target, *next_long.values()]
                for source in self.due:
                    due = self._next_due(source, moment, target)
                    if due is not None:
                        candidates.append(due)
                stop = max(min(candidates), moment + timedelta(seconds=1))
                self.clock.move_to(stop)
                due_here = [f for f in long if next_long[id(f)] <= stop]
                for firer in sorted(due_here, key=lambda f: next_long[id(f)]):
                    fired += firer.fire(next_long[id(firer)])
                    while next_long[id(firer)] <= stop:
                        next_long[id(firer)] = firer.schedule.next_after(next_long[id(firer)])
                for firer in short:
                    fired += firer.fire(stop)
                undrained = self._drain()
                stops, moment = stops + 1, stop
            if not self.stop.is_set():
                self.clock.move_to(target)
        outcome = {
            "now": self.clock.stack_now().isoformat(),
            "advanced_seconds": by.total_seconds(),
            "stops": stops,
            "fired": fired,
            "seconds": round(time.monotonic() - started, 1),
            "still_queued": undrained,
        }
        self.report({"event": "clock_advanced", **outcome})
        return outcome

    @staticmethod
    def _next_due(source: DueSource, moment: datetime, target: datetime) -> datetime | None:
        """The next stop an index asks for. Items are kept by the minute and the walk stops at
        the start of an item's minute; one still there after that stop is due later in the same
        minute (a reservation expiring at 09:00:27), so the walk stops again at the minute's end.
        An item still there after that is one its sweep keeps: it asks for no more stops."""
        index = source.index()
        due = index.next_due(source.prefix, moment - timedelta(minutes=1), target)
        if due is None or due > moment:
            return due
        if due + timedelta(seconds=59) > moment:
            return min(due + timedelta(seconds=59), target)
        return index.next_due(source.prefix, moment, target)

    def _drain(self) -> dict[str, int]:
        """Wait until the queues the triggers read are empty (or the timeout: what is left)."""
        deadline = time.monotonic() + self.drain_timeout
        pause = 0.005
        while True:
            left = self.backlog()
            if not left or time.monotonic() >= deadline or self.stop.is_set():
                return left
            time.sleep(pause)  # the pollers take the messages meanwhile
            pause = min(pause * 2, 0.2)


def main(argv: list[str] | None = None) -> int:
    """`make clock`: show the running local stack's time, or move it forward."""
    import argparse
    import json
    import os
    import urllib.error
    import urllib.request

    parser = argparse.ArgumentParser(prog="make clock ARGS=...", description=main.__doc__)
    parser.add_argument("action", nargs="?", choices=["show", "advance"], default="show")
    parser.add_argument("duration", nargs="?", help="with advance: 90s, 15m, 36h or 20d")
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="the local stack's API (%(default)s)")
    parser.add_argument("--admin-key", default=os.environ.get("OMNIREACH_ADMIN_KEY", "local-admin-key"))
    args = parser.parse_args(argv)
    if args.action == "advance" and not args.duration:
        parser.error("advance needs a duration, such as 20d")
    body = json.dumps({"advance": args.duration}).encode() if args.action == "advance" else None
    request = urllib.request.Request(  # noqa: S310 (the local stack's own URL)
        f"{args.api.rstrip('/')}/_local/clock",
        data=body,
        method="POST" if body else "GET",
        headers={"Authorization": f"Bearer {args.admin_key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=3600) as response:  # noqa: S310
            print(response.read().decode())
            return 0
    except urllib.error.HTTPError as error:
        print(error.read().decode())
        return 1
    except OSError as error:
        print(f"Could not reach the local stack at {args.api}: {error} (is `make run` running?)")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
