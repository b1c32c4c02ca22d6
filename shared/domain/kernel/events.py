"""The bus's event names that cross capabilities: what ingest, the touchpoint pipeline and privacy
announce, and segments, loyalty, commerce and engagement consume."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

TOUCHPOINT_RECORDED = "TouchpointRecorded"
PROFILE_CHANGED = "ProfileChanged"
ORDER_PLACED = "OrderPlaced"
ORDER_REFUNDED = "OrderRefunded"
CART_UPDATED = "CartUpdated"
CONSENT_CHANGED = "ConsentChanged"
PROFILES_MERGED = "ProfilesMerged"
PROFILES_UNMERGED = "ProfilesUnmerged"
PROFILE_ERASED = "ProfileErased"

# The touchpoint pipeline announces its two most frequent events once per batch, not once per
# touchpoint or profile (EventBridge bills each event, and each rule's delivery is an SQS request):
# the batch event lists the single events' details under one key, beside the values its rules
# filter on (EventBridge matches a pattern against an array of values, not inside a list of objects).
TOUCHPOINTS_RECORDED = "TouchpointsRecorded"
PROFILES_CHANGED = "ProfilesChanged"
BATCHES = {
    TOUCHPOINTS_RECORDED: (TOUCHPOINT_RECORDED, "touchpoints"),
    PROFILES_CHANGED: (PROFILE_CHANGED, "profiles"),
}
BATCH_OF = {single: (batch, key) for batch, (single, key) in BATCHES.items()}
# An event's detail stays under EventBridge's 256 KB for an entry, and the delivered SQS message
# (the envelope around it) under SQS's 256 KB.
MAX_BATCH_DETAIL_BYTES = 240_000

Event = tuple[str, dict[str, Any]]


def _summary(single: str, details: list[dict[str, Any]]) -> dict[str, Any]:
    if single == TOUCHPOINT_RECORDED:
        return {
            "types": sorted({str(d["type"]) for d in details if d.get("type")}),
            "events": sorted({str(d["event"]) for d in details if d.get("event")}),
        }
    return {"changed": sorted({str(field) for d in details for field in d.get("changed") or ()})}


def batched(events: Sequence[Event], *, max_bytes: int = MAX_BATCH_DETAIL_BYTES) -> list[Event]:
    """The events as announced: the batchable ones packed into batch events of at most `max_bytes`
    of detail each (in order), the others as they are."""
    single_ones: dict[str, list[dict[str, Any]]] = {}
    others: list[Event] = []
    for detail_type, detail in events:
        if detail_type in BATCH_OF:
            single_ones.setdefault(detail_type, []).append(detail)
        else:
            others.append((detail_type, detail))
    announced: list[Event] = []
    for single, details in single_ones.items():
        batch, key = BATCH_OF[single]
        packs: list[list[dict[str, Any]]] = [[]]
        size = 0
        for detail in details:
            # the detail's JSON and a comma, and what it may add to the summary (its values again)
            own = len(json.dumps(detail, separators=(",", ":"), default=str).encode()) + 1
            grows = own + len(json.dumps(_summary(single, [detail]), separators=(",", ":")).encode())
            if packs[-1] and size + grows > max_bytes:
                packs.append([])
                size = 0
            packs[-1].append(detail)
            size += grows
        announced += [(batch, {**_summary(single, pack), "count": len(pack), key: pack}) for pack in packs]
    return announced + others


def unbatched(detail_type: str, detail: dict[str, Any]) -> list[Event]:
    """The single events a bus event stands for: a batch event's, or itself."""
    if detail_type not in BATCHES:
        return [(detail_type, detail)]
    single, key = BATCHES[detail_type]
    return [(single, item) for item in detail.get(key) or () if isinstance(item, dict)]
