"""Measured results of a program: outcomes, conversions, revenue, holdout lift with its 95 %
interval, ROI, per-channel figures and retention."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from shared.domain.engagement.frequency import FrequencyPolicy
from shared.domain.engagement.models import TREATED, LedgerRow


def _variance(successes: int, total: int) -> float:
    if total == 0:
        return 0.0
    p = successes / total
    return p * (1 - p) / total


def measure(
    rows: Sequence[LedgerRow],
    conversions: Sequence[dict[str, Any]],
    policy: FrequencyPolicy,
) -> dict[str, Any]:
    """Outcomes, conversions, lift with a 95 % interval, cost and ROI for one program."""
    outcomes = Counter(row.status for row in rows)
    reasons = Counter(f"{row.status}:{row.reason}" for row in rows if row.reason)
    treated = [row for row in rows if row.status in TREATED]
    control = [row for row in rows if row.holdout]
    treated_ids = {row.profile_id for row in treated}
    control_ids = {row.profile_id for row in control}
    retained_treated = {
        c["profile_id"] for c in conversions if c["group"] == "treated" and c["profile_id"] in treated_ids
    }
    retained_control = {
        c["profile_id"] for c in conversions if c["group"] == "control" and c["profile_id"] in control_ids
    }
    conversions = [c for c in conversions if c.get("attributed", True)]
    converted_treated = {
        c["profile_id"] for c in conversions if c["group"] == "treated" and c["profile_id"] in treated_ids
    }
    converted_control = {
        c["profile_id"] for c in conversions if c["group"] == "control" and c["profile_id"] in control_ids
    }
    revenue_treated = sum((Decimal(c["revenue"]) for c in conversions if c["group"] == "treated"), Decimal(0))
    revenue_control = sum((Decimal(c["revenue"]) for c in conversions if c["group"] == "control"), Decimal(0))
    rate_t = len(converted_treated) / len(treated) if treated else 0.0
    rate_c = len(converted_control) / len(control) if control else 0.0
    lift = rate_t - rate_c
    margin = 1.96 * math.sqrt(
        _variance(len(converted_treated), len(treated)) + _variance(len(converted_control), len(control))
    )
    sent_by_channel = Counter(row.channel for row in treated)
    cost = sum(
        (
            Decimal(policy.message_cost.get(channel or "", "0")) * count
            for channel, count in sent_by_channel.items()
        ),
        Decimal(0),
    )
    per_treated = revenue_treated / len(treated) if treated else Decimal(0)
    per_control = revenue_control / len(control) if control else Decimal(0)
    incremental = (per_treated - per_control) * len(treated) if control else revenue_treated
    roi = (incremental - cost) / cost if cost else None
    by_channel = {
        channel: {
            "sent": count,
            "conversions": sum(
                1 for c in conversions if c["group"] == "treated" and c.get("channel") == channel
            ),
            "revenue": str(
                sum(
                    (
                        Decimal(c["revenue"])
                        for c in conversions
                        if c["group"] == "treated" and c.get("channel") == channel
                    ),
                    Decimal(0),
                )
            ),
        }
        for channel, count in sorted(sent_by_channel.items(), key=lambda item: str(item[0]))
    }
    return {
        "audience": len(rows),
        "outcomes": dict(sorted(outcomes.items())),
        "reasons": dict(sorted(reasons.items())),
        "treated": len(treated),
        "holdout": len(control),
        "conversions": len(converted_treated),
        "revenue": str(revenue_treated),
        "conversion_rate": round(rate_t, 6),
        "holdout_conversions": len(converted_control),
        "holdout_conversion_rate": round(rate_c, 6),
        "lift": round(lift, 6),
        "lift_ci95": [round(lift - margin, 6), round(lift + margin, 6)] if control else None,
        "relative_lift": round(lift / rate_c, 6) if rate_c else None,
        "incremental_revenue": str(incremental.quantize(Decimal("0.01"))),
        "cost": str(cost.quantize(Decimal("0.000001"))),
        "roi": None if roi is None else str(roi.quantize(Decimal("0.01"))),
        "channels": by_channel,
        "retention": {
            "treated": round(len(retained_treated) / len(treated), 6) if treated else None,
            "holdout": round(len(retained_control) / len(control), 6) if control else None,
        },
    }
