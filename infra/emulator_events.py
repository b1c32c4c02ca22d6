"""EventBridge in the emulator without rebuilding a parser per event, or an event per rule.

Upstream (moto 5): a rule target with an input transformer parses each of its JSONPath
expressions for every event it delivers, and `jsonpath_ng.ext.parse` builds a new parser (its
PLY grammar tables) on each call: about 5 ms per expression, which made publishing a touchpoint's
events the largest cost of folding it. The expressions of a stack's rules are few and fixed, so
the parsed expression is kept per text; a parsed expression is not changed by `find`.

Upstream also builds each event once per rule of its bus (a deep copy of the envelope, the
detail parsed again) before asking the rule whether it matches: with the stack's rules that was
about 1.3 ms per event whether or not anything matched. Here the event is built once, each rule
is asked, and only a rule that matches gets its own copy to deliver (a target may change it).
Entries with a missing field or a detail that is not JSON take upstream's path, which answers
their errors.

`install()` replaces `jsonpath_ng.ext.parse`, which moto imports when it delivers an event, and
`EventsBackend.put_events`.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import jsonpath_ng.ext
from moto.core.utils import unix_time
from moto.events.models import EventsBackend
from moto.events.utils import _BASE_EVENT_MESSAGE
from moto.moto_api._internal import mock_random

upstream_parse = jsonpath_ng.ext.parse  # type: ignore[attr-defined]
upstream_put_events = EventsBackend.put_events


@functools.lru_cache(maxsize=1024)
def parse_once(expression: str) -> Any:
    return upstream_parse(expression)


def _detail(entry: dict[str, Any]) -> Any:
    if not (entry.get("Source") and entry.get("DetailType") and entry.get("Detail")):
        return None
    try:
        detail = json.loads(entry["Detail"])
    except ValueError:
        return None
    return detail if isinstance(detail, dict) else None


def put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    details = [_detail(event) for event in events]
    if len(events) > 10 or any(detail is None for detail in details):
        return upstream_put_events(self, events)
    entries = []
    for event, detail in zip(events, details, strict=True):
        event_id = str(mock_random.uuid4())
        entries.append({"EventId": event_id})
        bus = self.describe_event_bus(self._normalize_event_bus_arn(event.get("EventBusName")))
        message = copy.deepcopy(_BASE_EVENT_MESSAGE)
        message.update(
            {
                "id": event_id,
                "detail-type": event["DetailType"],
                "source": event["Source"],
                "account": self.account_id,
                "time": event.get("Time", unix_time()),
                "region": self.region_name,
                "resources": event.get("Resources", []),
                "detail": detail,
                "ingestion-time": unix_time(),
            }
        )
        for rule in bus.rules.values():
            if rule.event_pattern.matches_event(message):
                rule.send_to_targets(copy.deepcopy(message))
    return entries


def install() -> None:
    jsonpath_ng.ext.parse = parse_once  # type: ignore[attr-defined]
    EventsBackend.put_events = put_events  # type: ignore[method-assign]
