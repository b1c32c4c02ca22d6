"""Campaign lifecycle and the scheduler: launch, pause, resume, cancel; each tick creates the runs
that are due (once, however often the schedule fires), pages their audience from segment
membership onto the dispatch queue (resuming from the saved cursor after a crash or a pause),
brings deferred sends back when their time comes, and completes what has finished.

A page is claimed on its run (where it starts and ends) before it is sent, and the cursor moves
past it after: two ticks never send the same page, and a page whose tick died after claiming it
is sent again only to the customers without a ledger row (those with one were sent and handled),
once the claim is a few minutes old so that what reached the queue has been handled.

A run is `complete` when every targeted customer's row has its outcome; it is looked at every
10 minutes once paged (one read of the run's rows). A campaign whose schedule has no occurrence
left and whose runs are all complete is `completed`: its report is computed once and stored, and
read from that one item after. A later change of a row (a bounce) or a conversion marks it for
one recomputation."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.domain.engagement.frequency import FrequencyPolicy
from shared.domain.engagement.measurement import measure
from shared.domain.engagement.messaging import Senders
from shared.domain.engagement.models import (
    FINAL,
    Campaign,
    CampaignChange,
    DispatchTask,
    LedgerRow,
    PendingPage,
    Run,
)
from shared.domain.kernel.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from shared.domain.kernel.ports import Clock

PAGE = 500
LAUNCH_BUDGET_SECONDS = 5.0  # paging done inside the launch call; the scheduler pages the rest
TASKS_PER_MESSAGE = 20
CHECK_COMPLETION_EVERY = timedelta(minutes=10)
RESEND_CLAIMED_AFTER = timedelta(minutes=5)


class CampaignStore(Protocol):
    def policy(self) -> FrequencyPolicy: ...

    def campaigns(self) -> list[Campaign]: ...

    def active_campaigns(self) -> list[tuple[str, int, str]]: ...

    def index_active(self, campaign: Campaign) -> None: ...

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

    def run_rows(self, program_id: str, run_key: str) -> Iterator[LedgerRow]: ...

    def row(self, program_id: str, run_key: str, profile_id: str) -> LedgerRow | None: ...

    def conversions(self, program_id: str) -> list[dict[str, Any]]: ...

    def stored_report(self, campaign_id: str) -> tuple[dict[str, Any] | None, int | None]:
        """The stored report (None when stale or not yet computed) and its generation (None: no
        report item at all)."""
        ...

    def store_report(
        self, campaign_id: str, report: dict[str, Any] | None, *, generation: int | None
    ) -> bool:
        """Store the report if its generation is still `generation` (None: create the item, stale,
        with no report yet). False when a change came meanwhile."""
        ...


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
        counts["completed"] = 0
        campaigns = self.store.campaigns()
        indexed = {campaign_id for campaign_id, _, _ in self.store.active_campaigns()}
        for campaign in campaigns:  # the index follows the campaigns (a crash between the two writes)
            if (campaign.status == "active") != (campaign.campaign_id in indexed):
                self.store.index_active(campaign)
        for campaign in campaigns:
            if campaign.status == "active" and campaign.launched_at is not None:
                self._advance(campaign, started=started, budget_seconds=budget_seconds, counts=counts)
                counts["completed"] += self._complete(campaign.campaign_id)
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
        now = self.clock.now()
        if run.pending is not None:
            return self._resend_claimed(campaign, run, now)
        members, cursor = self.audience.members(campaign.segment_id, after=run.cursor, limit=PAGE)
        claimed = run.model_copy(
            update={
                "pending": PendingPage(after=run.cursor, cursor=cursor, count=len(members), claimed_at=now),
                "version": run.version + 1,
            }
        )
        if not self.store.save_run(claimed, expected_version=run.version):
            return self._fresh(run), 0  # another tick claimed this page: it sends it
        tasks = self._tasks(campaign, run, members)
        if tasks:
            self.queue.send(packed(tasks))
        return self._settle(claimed, cursor, len(members)), len(tasks)

    def _tasks(self, campaign: Campaign, run: Run, members: Sequence[str]) -> list[DispatchTask]:
        return [
            DispatchTask(
                program_id=campaign.campaign_id,
                run_key=run.run_id,
                profile_id=profile_id,
                planned_at=run.planned_at,
            )
            for profile_id in members
        ]

    def _fresh(self, run: Run) -> Run:
        return self.store.run(run.run_id) or run.model_copy(update={"status": "dispatching"})

    def _settle(self, claimed: Run, cursor: str | None, count: int) -> Run:
        moved = claimed.model_copy(
            update={
                "cursor": cursor,
                "targeted": claimed.targeted + count,
                "status": "paging" if cursor else "dispatching",
                "pending": None,
                "version": claimed.version + 1,
            }
        )
        if not self.store.save_run(moved, expected_version=claimed.version):
            return self._fresh(claimed)
        return moved

    def _resend_claimed(self, campaign: Campaign, run: Run, now: datetime) -> tuple[Run, int]:
        """A page claimed by a tick that died before moving the cursor past it: it may have been
        sent. Its customers that have a ledger row were; the others are sent now."""
        assert run.pending is not None
        if run.pending.claimed_at is not None and now - run.pending.claimed_at < RESEND_CLAIMED_AFTER:
            return run.model_copy(update={"status": "dispatching"}), 0  # let the queue drain first
        members, cursor = self.audience.members(campaign.segment_id, after=run.pending.after, limit=PAGE)
        unsent = [m for m in members if self.store.row(campaign.campaign_id, run.run_id, m) is None]
        tasks = self._tasks(campaign, run, unsent)
        if tasks:
            self.queue.send(packed(tasks))
        return self._settle(run, cursor, len(members)), len(tasks)

    # ---------------------------------------------------------- completion
    def _complete(self, campaign_id: str) -> int:
        """Mark the runs that have finished `complete` (looked at every 10 minutes); then, when the
        schedule has nothing left and every run is complete, the campaign `completed` with its
        report stored. 1 when the campaign completed now."""
        now = self.clock.now()
        runs = self.store.runs(campaign_id)
        for index, run in enumerate(runs):
            if run.status != "dispatching" or run.pending is not None:
                continue
            if run.checked_at is not None and now - run.checked_at < CHECK_COMPLETION_EVERY:
                continue
            rows = list(self.store.run_rows(campaign_id, run.run_id))
            done = len(rows) >= run.targeted and all(row.status in FINAL for row in rows)
            checked = run.model_copy(
                update={
                    "status": "complete" if done else "dispatching",
                    "checked_at": now,
                    "version": run.version + 1,
                }
            )
            if self.store.save_run(checked, expected_version=run.version):
                runs[index] = checked
        campaign = self.store.campaign(campaign_id)
        if (
            campaign is None
            or campaign.status != "active"
            or not campaign.schedule.finished(campaign.last_run_at)
            or not runs
            or any(run.status != "complete" for run in runs)
        ):
            return 0
        # The report's item first (stale, empty): a bounce or an order from now on marks it.
        self.store.store_report(campaign_id, None, generation=None)
        completed = campaign.model_copy(update={"status": "completed", "version": campaign.version + 1})
        if not self.store.save_campaign(completed, expected_version=campaign.version):
            return 0
        self.report(campaign_id)
        return 1

    # ---------------------------------------------------------- the report
    def report(self, campaign_id: str) -> dict[str, Any]:
        """A completed campaign's report is read from its stored item (computed once, and again
        only after a change marked it); a running one's is computed from its rows."""
        campaign = self.get(campaign_id)
        if campaign.status != "completed":
            return self._compute_report(campaign)
        stored, generation = self.store.stored_report(campaign_id)
        if stored is not None:
            return stored
        report = self._compute_report(campaign)
        self.store.store_report(campaign_id, report, generation=generation or 0)
        return report

    def _compute_report(self, campaign: Campaign) -> dict[str, Any]:
        campaign_id = campaign.campaign_id
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
            "computed_at": self.clock.now().isoformat(),
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
