"""Glue between the stores and the dispatcher: which program a send belongs to, which rival
programs outrank it for a customer's last slot, attribution of orders, unsubscribe links."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from shared.domain.engagement.frequency import ContactHistory, FrequencyPolicy
from shared.domain.engagement.journeys import Instance, Journey
from shared.domain.engagement.models import Campaign, LedgerRow, Program, Run
from shared.domain.engagement.ports import ProgramDirectory

JOURNEY_PREFIX = "journey-"
RETENTION_DAYS = 90
WAITING = {"processing", "parked", "deferred"}


class Stores(Protocol):
    def campaign(self, campaign_id: str) -> Campaign | None: ...

    def active_campaigns(self) -> list[tuple[str, int, str]]:
        """(campaign id, priority, segment id) of the active campaigns only."""
        ...

    def instances(self, profile_id: str) -> list[Instance]: ...

    def runs(self, program_id: str) -> list[Run]: ...

    def row(self, program_id: str, run_key: str, profile_id: str) -> LedgerRow | None: ...

    def journey(self, journey_id: str) -> Journey | None: ...

    def policy(self) -> FrequencyPolicy: ...

    def contact_history(self, profile_id: str) -> ContactHistory: ...

    def add_conversion(self, program_id: str, record: dict[str, Any]) -> bool: ...

    def report_changed(self, program_id: str) -> None: ...


class Memberships(Protocol):
    def state(self, profile_id: str) -> Any: ...


CAMPAIGN_STATE = {
    "active": "active",
    "completed": "active",
    "paused": "paused",
    "draft": "paused",
    "cancelled": "cancelled",
}


@dataclass
class StoredPrograms:
    stores: Stores

    def program(self, program_id: str, run_key: str) -> tuple[Program, str] | None:
        if program_id.startswith(JOURNEY_PREFIX):
            journey = self.stores.journey(program_id.removeprefix(JOURNEY_PREFIX))
            try:
                step = journey.steps[int(run_key.split(":", 1)[0])] if journey else None
            except (ValueError, IndexError):
                return None
            if journey is None or step is None or step.send is None:
                return None
            return step.send, "active" if journey.status == "active" else "paused"
        campaign = self.stores.campaign(program_id)
        if campaign is None:
            return None
        return campaign.program(), CAMPAIGN_STATE[campaign.status]


@dataclass
class ProgramsReadOnce:
    """The programs one dispatch message's sends (up to 20) name, each read once for the message
    instead of once per send. A pause or a cancel is seen from the next message on."""

    directory: ProgramDirectory
    read: dict[tuple[str, str], tuple[Program, str] | None] = field(default_factory=dict)

    def program(self, program_id: str, run_key: str) -> tuple[Program, str] | None:
        key = (program_id, run_key)
        if key not in self.read:
            self.read[key] = self.directory.program(program_id, run_key)
        return self.read[key]


@dataclass
class CampaignRivals:
    """Who outranks a send for a customer's last slot in a window: an active campaign of higher
    priority that targets them and has not reached them, or a journey of theirs whose next step
    is a send of higher priority due before the window ends (an appointment's reminder outranks a
    promotion). Only the active campaigns' index is read, and the customer's journey instances."""

    stores: Stores
    memberships: Memberships

    def higher_priority_waiting(
        self, profile_id: str, priority: int, *, now: datetime, until: datetime | None = None
    ) -> bool:
        return self._journey_waiting(profile_id, priority, until) or self._campaign_waiting(
            profile_id, priority
        )

    def _campaign_waiting(self, profile_id: str, priority: int) -> bool:
        rivals = [(cid, segment) for cid, rank, segment in self.stores.active_campaigns() if rank > priority]
        if not rivals:
            return False
        state = self.memberships.state(profile_id)
        member_of = set(getattr(state, "segments", {}) or {})
        for campaign_id, segment_id in rivals:
            if segment_id not in member_of:
                continue
            for run in self.stores.runs(campaign_id):
                row = self.stores.row(campaign_id, run.run_id, profile_id)
                if row is None or row.status in WAITING:
                    return True
        return False

    def _journey_waiting(self, profile_id: str, priority: int, until: datetime | None) -> bool:
        for instance in self.stores.instances(profile_id):
            if instance.status != "waiting" or (until is not None and instance.wake_at >= until):
                continue
            journey = self.stores.journey(instance.journey_id)
            if journey is None or journey.status != "active" or instance.step >= len(journey.steps):
                continue
            step = journey.steps[instance.step]
            if step.type == "send" and step.send is not None and step.send.priority > priority:
                return True
        return False


def attribute_order(
    stores: Stores, *, profile_id: str, order_id: str, revenue: Decimal, at: datetime
) -> list[str]:
    """The customer's last message (and last holdout assignment) within the retention window
    gets this order, once per program; `attributed` when inside the channel's attribution window."""
    policy = stores.policy()
    credited = []
    for last in stores.contact_history(profile_id).last_messages():
        if last.at > at:
            continue
        days = (at - last.at).total_seconds() / 86400
        if days > RETENTION_DAYS:
            continue
        window = (
            max(policy.attribution_days.values(), default=5)
            if last.holdout
            else policy.attribution_days.get(last.channel or "", 1)
        )
        record = {
            "profile_id": profile_id,
            "order_id": order_id,
            "revenue": str(revenue),
            "group": "control" if last.holdout else "treated",
            "channel": last.channel,
            "run_key": last.run_key,
            "at": at.isoformat(),
            "days_after": round(days, 3),
            "attributed": days <= window,
        }
        added = stores.add_conversion(last.program_id, record)
        # a completed campaign's stored report is recomputed; after a crash, the redelivered
        # order finds its conversion added and still marks it
        stores.report_changed(last.program_id)
        if added:
            credited.append(last.program_id)
    return credited
