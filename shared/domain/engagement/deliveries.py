"""What the email provider says after a send: delivered, bounced, complained.

SES publishes these events (through SNS) for each message; ingest turns them into touchpoints
(`email.delivery`, `email.bounce`, `email.complaint`) that carry the message's tags. The send
tagged the message with its ledger row's key (`row`, base64url), so each event finds its row.
A row only moves forward (sent → delivered → bounced or complained), so events arriving late,
twice or out of order change it once. A permanent (hard) bounce suppresses email for the
customer; a transient one changes nothing (SES retries it). The stored report of a finished
campaign is marked for recomputation.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Protocol

from shared.domain.engagement.models import LedgerRow

EMAIL_EVENTS = {"email.delivery": "delivered", "email.bounce": "bounced", "email.complaint": "complained"}
PROGRESS = {"sent": 0, "delivered": 1, "bounced": 2, "complained": 3}
ROW_TAG = "row"


class DeliveryStore(Protocol):
    def row(self, program_id: str, run_key: str, profile_id: str) -> LedgerRow | None: ...

    def save_row(self, row: LedgerRow, *, expected_version: int) -> bool: ...

    def suppress(self, profile_id: str, channel: str, *, reason: str, at: datetime) -> None: ...

    def report_changed(self, program_id: str) -> None:
        """A stored report (of a finished campaign) no longer holds: recompute it on its next read."""
        ...


def row_tag(row_key: str) -> str:
    """The row's key as an SES tag value (letters, digits, `_` and `-` only)."""
    return base64.urlsafe_b64encode(row_key.encode()).decode().rstrip("=")


def row_key_of(tags: Any) -> tuple[str, str, str] | None:
    """(program, run key, profile) from an SES event's tags (`{"row": ["<value>"]}`)."""
    if not isinstance(tags, dict):
        return None
    values = tags.get(ROW_TAG)
    value = values[0] if isinstance(values, list) and values else values
    if not isinstance(value, str) or not value:
        return None
    try:
        key = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    parts = key.split("|")
    if len(parts) < 3 or not all(parts):
        return None
    return parts[0], "|".join(parts[1:-1]), parts[-1]


def record_email_event(store: DeliveryStore, event: str, properties: dict[str, Any], *, now: datetime) -> str:
    """Apply one provider event to its ledger row; what it did."""
    outcome = EMAIL_EVENTS.get(event)
    if outcome is None:
        return "ignored"
    key = row_key_of(properties.get("tags"))
    if key is None:
        return "unmatched"
    row = store.row(*key)
    if row is None or row.status not in PROGRESS:
        return "unmatched"
    reason: str | None = None
    if outcome == "bounced":
        kind = str(properties.get("bounceType") or "")
        if kind != "Permanent":
            return "soft_bounce"  # SES keeps trying; a later event says how it ended
        reason = "hard_bounce"
        store.suppress(row.profile_id, "email", reason="hard_bounce", at=now)
    elif outcome == "complained":
        reason = str(properties.get("complaintFeedbackType") or "complaint")[:64]
    for _ in range(5):
        if PROGRESS[outcome] <= PROGRESS.get(row.status, 99):
            break  # already there or beyond: a late or repeated event
        moved = row.model_copy(
            update={"status": outcome, "reason": reason, "at": now, "version": row.version + 1}
        )
        if store.save_row(moved, expected_version=row.version):
            break
        fresh = store.row(*key)
        if fresh is None:
            return "unmatched"
        row = fresh
    store.report_changed(row.program_id)
    return outcome
