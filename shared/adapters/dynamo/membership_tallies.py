"""The membership summary's reads and its stored result, in the customers table.

| entity  | pk         | sk      | notes                                       |
|---------|------------|---------|---------------------------------------------|
| summary | MEMBERSHIP | SUMMARY | body = the latest summary (loyalty nightly) |

Accounts (`LOYALTY`) and coupons (`COUPON#<code>`) carry `tally` and `points` (see
loyalty_store.py); the sparse `by_tally` index holds only them, with `points` projected, so the
summary scans a few dozen bytes per member instead of the whole table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from shared.adapters.dynamo.low_level import LowLevelTable, load

INDEX = "by_tally"


class DynamoMembershipTallies(LowLevelTable):
    """Implements MembershipTallies."""

    name = "customers"

    def tallies(self) -> Iterator[tuple[str, int]]:
        kwargs: dict[str, Any] = {"IndexName": INDEX, "ProjectionExpression": "tally, points"}
        while True:
            response = self._call("scan", **kwargs)
            for raw in response.get("Items", []):
                item = load(raw)
                yield str(item["tally"]), int(item.get("points", 0))
            if not response.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def save_summary(self, summary: dict[str, Any]) -> None:
        self._put(
            {
                "pk": "MEMBERSHIP",
                "sk": "SUMMARY",
                "kind": "membership_summary",
                "body": json.dumps(summary, separators=(",", ":")),
            }
        )

    def summary(self) -> dict[str, Any] | None:
        item = self._get("MEMBERSHIP", "SUMMARY", consistent=False)
        return json.loads(item["body"]) if item else None
