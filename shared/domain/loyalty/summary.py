"""The membership at a glance: members per tier, points outstanding (the programme's liability),
and per coupon definition how many codes were issued and how many uses redeemed.

Exact as of when it was computed: the nightly loyalty run reads every account's and every
coupon's tally from a sparse index that holds only those (a few dozen bytes each) and stores the
sums; nothing is counted on the hot path, so nothing can drift."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

NO_TIER = "-"


def account_tally(tier: str | None) -> str:
    return f"tier#{tier or NO_TIER}"


def coupon_tally(definition_id: str) -> str:
    return f"coupon#{definition_id}"


class MembershipTallies(Protocol):
    def tallies(self) -> Iterator[tuple[str, int]]:
        """Every account's (`tier#<tier>`, balance) and every coupon's (`coupon#<definition>`, uses)."""
        ...

    def save_summary(self, summary: dict[str, Any]) -> None: ...

    def summary(self) -> dict[str, Any] | None: ...


def empty_summary() -> dict[str, Any]:
    """What the summary says before the nightly run has ever computed one."""
    return {"computed_at": None, "members": 0, "points_outstanding": 0, "tiers": {}, "coupons": {}}


def summarise_membership(tallies: MembershipTallies, now: datetime) -> dict[str, Any]:
    members: Counter[str] = Counter()
    issued: Counter[str] = Counter()
    redeemed: Counter[str] = Counter()
    points = 0
    for tally, value in tallies.tallies():
        kind, _, name = tally.partition("#")
        if kind == "tier":
            members[name] += 1
            points += value
        elif kind == "coupon":
            issued[name] += 1
            redeemed[name] += value
    summary = {
        "computed_at": now.isoformat(),
        "members": sum(members.values()),
        "points_outstanding": points,
        "tiers": dict(sorted(members.items())),
        "coupons": {name: {"issued": issued[name], "redeemed": redeemed[name]} for name in sorted(issued)},
    }
    tallies.save_summary(summary)
    return summary
