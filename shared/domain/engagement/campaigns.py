"""Campaign lifecycle and the scheduler: launch, pause, resume, cancel; each tick creates the runs
that are due (once, however often the schedule fires), pages their audience from segment
membership onto the dispatch queue (resuming from the saved cursor after a crash or a pause),
and brings deferred sends back when their time comes."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.domain.engagement.frequency import FrequencyPolicy
from shared.domain.engagement.measurement import measure
from shared.domain.engagement.messaging import Senders
from shared.domain.engagement.models import Campaign, CampaignChange, DispatchTask, LedgerRow, Run
from shared.domain.kernel.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from shared.domain.kernel.ports import Clock

PAGE = 500
LAUNCH_BUDGET_SECONDS = 5.0  # paging done inside the launch call; the scheduler pages the rest
TASKS_PER_MESSAGE = 20


class CampaignStore(Protocol):
    def policy(self) -> FrequencyPolicy: ...

    def campaigns(self) -> list[Campaign]: ...

    def campaign(self, campaign_id: str) -> Campaign | None: ...

    def save_campaign(self, campaign: Campaign, *, expected_version: int) -> bool: ...

    def create_run(self, run: Run) -> bool: ...

    def run(self, run_id: str) -> Run | None: ...

    def save_run(self, run: Run, *, expected_version: int) -> bool: ...

    def runs(self, program_id: str) -> list[Run]: ...

    def due_deferred(self, until: datetime, *, limit: int) -> list[tuple[str, DispatchTask]]: ...

    def undefer(self, minute: str, task: DispatchTask) -> None: ...

    def parked(self, program_id: str) -> list[DispatchTask]: ...

    def unpark(self, task: DispatchTask) -> None: ...

    def rows(self, program_id: str) -> Iterator[LedgerRow]: ...

    def conversions(self, program_id: str) -> list[dict[str, Any]]: ...


class TaskQueue(Protocol):
    def send(self, batches: Sequence[Sequence[DispatchTask]]) -> None: ...


class Audience(Protocol):
    def members(self, segment_id: str, *, after: str | None, limit: int) -> tuple[list[str], str | None]: ...


def packed(tasks: Sequence[DispatchTask]) -> list[list[DispatchTask]]:
    return [
        list(tasks[start : start + TASKS_PER_MESSAGE]) for start in range(0, len(tasks), TASKS_PER_MESSAGE)
    ]


@dataclass
class CampaignService:
    store: CampaignStore
    queue: TaskQueue
    audience: Audience
    clock: Clock
    senders: Senders

    # ---------------------------------------------------------- lifecycle
    def get(self, campaign_id: str) -> Campaign:
        campaign = self.store.campaign(campaign_id)
        if campaign is None:
            raise NotFoundError(f"No campaign {campaign_id!r}")
        return campaign

    def create(self, campaign_id: str, change: CampaignChange) -> Campaign:
        validate_channels(change.channels, self.senders)
        if self.store.campaign(campaign_id) is not None:
            raise ConflictError(f"Campaign {campaign_id!r} exists", details={"campaign_id": campaign_id})
        campaign = Campaign(campaign_id=campaign_id, **change.model_dump())
        self._save(campaign, 0)
        return campaign.model_copy(update={"version": 1})

    def _save(self, campaign: Campaign, expected: int) -> Campaign:
        saved = campaign.model_copy(update={"version": expected + 1})
        if not self.store.save_campaign(saved, expected_version=expected):
            raise ConflictError("The campaign changed meanwhile; read it again")
        return saved

    def launch(self, campaign_id: str) -> Campaign:
        campaign = self.get(campaign_id)
        check_launchable(campaign)
        if campaign.status == "paused":
            return self.resume(campaign_id)
        launched = self._save(
            campaign.model_copy(update={"status": "active", "launched_at": self.clock.now()}),
            campaign.version,
        )
        if launched.schedule.kind == "now":  # "now" means now: the first pages go out with the answer
            counts = {"runs_created": 0, "paged": 0}
            self._advance(
                launched, started=time.monotonic(), budget_seconds=LAUNCH_BUDGET_SECONDS, counts=counts
            )
            return self.get(campaign_id)
        return launched

    def pause(self, campaign_id: str) -> Campaign:
        campaign = self.get(campaign_id)
        if campaign.status != "active":
            raise ConflictError(f"The campaign is {campaign.status}", details={"status": campaign.status})
        return self._save(campaign.model_copy(update={"status": "paused"}), campaign.version)

    def resume(self, campaign_id: str) -> Campaign:
        """Active again; the sends that waited while paused go back on the queue (paging resumes
        from its cursor at the next tick)."""
        campaign = self.get(campaign_id)
        if campaign.status != "paused":
            raise ConflictError(f"The campaign is {campaign.status}", details={"status": campaign.status})
        resumed = self._save(campaign.model_copy(update={"status": "active"}), campaign.version)
        parked = self.store.parked(campaign_id)
        if parked:
            self.queue.send(packed(parked))
            for task in parked:
                self.store.unpark(task)
        return resumed

    def cancel(self, campaign_id: str) -> Campaign:
        campaign = self.get(campaign_id)
        if campaign.status in ("cancelled", "completed"):
            return campaign
        cancelled = self._save(campaign.model_copy(update={"status": "cancelled"}), campaign.version)
        parked = self.store.parked(campaign_id)  # they get their outcome: suppressed, cancelled
        if parked:
            self.queue.send(packed(parked))
            for task in parked:
                self.store.unpark(task)
        return cancelled

    # ---------------------------------------------------------- the scheduler's tick
    def tick(self, *, budget_seconds: float = 40.0) -> dict[str, int]:
        started = time.monotonic()
        counts = {"runs_created": 0, "paged": 0, "deferred_due": 0}
        for campaign in self.store.campaigns():
            if campaign.status == "active" and campaign.launched_at is not None:
                self._advance(campaign, started=started, budget_seconds=budget_seconds, counts=counts)
        now = self.clock.now()
        due = self.store.due_deferred(now, limit=2000)
        if due:
            self.queue.send(packed([task for _, task in due]))
            for minute, task in due:
                self.store.undefer(minute, task)
            counts["deferred_due"] = len(due)
        return counts

    def _advance(
        self, campaign: Campaign, *, started: float, budget_seconds: float, counts: dict[str, int]
    ) -> None:
        """Create the run that is due (once), then page the campaign's runs within the budget."""
        now = self.clock.now()
        assert campaign.launched_at is not None
        occurrence = campaign.schedule.due(campaign.launched_at, campaign.last_run_at, now)
        if occurrence is not None:
            run = Run(
                run_id=f"{campaign.campaign_id}@{occurrence.strftime('%Y%m%dT%H%M%S')}",
                program_id=campaign.campaign_id,
                planned_at=occurrence,
            )
            if self.store.create_run(run):  # a schedule firing twice creates it once
                counts["runs_created"] += 1
            moved = campaign.model_copy(update={"last_run_at": occurrence, "version": campaign.version + 1})
            if not self.store.save_campaign(moved, expected_version=campaign.version):
                return  # another tick moved it: that one pages
            campaign = moved
        for run in self.store.runs(campaign.campaign_id):
            while run.status == "paging" and time.monotonic() - started < budget_seconds:
                run, paged = self._page(campaign, run)
                counts["paged"] += paged
                current = self.store.campaign(campaign.campaign_id)
                if current is None or current.status != "active":
                    return

    def _page(self, campaign: Campaign, run: Run) -> tuple[Run, int]:
        members, cursor = self.audience.members(campaign.segment_id, after=run.cursor, limit=PAGE)
        tasks = [
            DispatchTask(
                program_id=campaign.campaign_id,
                run_key=run.run_id,
                profile_id=profile_id,
                planned_at=run.planned_at,
            )
            for profile_id in members
        ]
        if tasks:
            self.queue.send(packed(tasks))  # before the cursor moves: a crash re-sends, the ledger dedupes
        moved = run.model_copy(
            update={
                "cursor": cursor,
                "targeted": run.targeted + len(tasks),
                "status": "paging" if cursor else "dispatching",
                "version": run.version + 1,
            }
        )
        if not self.store.save_run(moved, expected_version=run.version):
            fresh = self.store.run(run.run_id)
            return (fresh or run.model_copy(update={"status": "dispatching"})), 0
        return moved, len(tasks)

    # ---------------------------------------------------------- the report
    def report(self, campaign_id: str) -> dict[str, Any]:
        campaign = self.get(campaign_id)
        rows = list(self.store.rows(campaign_id))
        figures = measure(rows, self.store.conversions(campaign_id), self.store.policy())
        runs = self.store.runs(campaign_id)
        paging = any(run.status == "paging" for run in runs)
        open_rows = sum(1 for row in rows if row.status in ("processing", "parked", "deferred"))
        return {
            "campaign_id": campaign_id,
            "name": campaign.name,
            "status": campaign.status,
            "runs": [
                run.model_dump(mode="json", include={"run_id", "planned_at", "status", "targeted"})
                for run in runs
            ],
            "targeted": sum(run.targeted for run in runs),
            # Every targeted customer has a row, and every row has its outcome.
            "complete": not paging and len(rows) == sum(run.targeted for run in runs) and open_rows == 0,
            **figures,
        }


def check_launchable(campaign: Campaign) -> None:
    if campaign.status not in ("draft", "paused"):
        raise ConflictError(f"The campaign is {campaign.status}", details={"status": campaign.status})


def validate_channels(channels: Sequence[str], senders: Senders) -> None:
    missing = [channel for channel in channels if channel not in senders]
    if missing:
        raise InvalidInputError("channels: no sender is configured for these", details={"channels": missing})
