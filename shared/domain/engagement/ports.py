"""What dispatch needs from the outside world: the engagement store, profiles, personalisation,
rival programs and the program directory."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

from shared.domain.customers.profiles import Profile
from shared.domain.engagement.frequency import ContactHistory, FrequencyPolicy
from shared.domain.engagement.models import DispatchTask, LedgerRow, Program
from shared.domain.engagement.plans import ContactPlan


class EngagementStore(Protocol):
    def policy(self) -> FrequencyPolicy: ...

    def forget_person(self, profile_id: str) -> int:
        """Remove what is kept per person (inbox, unsubscribes, contact history, journey instances
        and their timers) for an erased profile. Returns how many items. Idempotent."""
        ...

    def row(self, program_id: str, run_key: str, profile_id: str) -> LedgerRow | None: ...

    def create_row(self, row: LedgerRow) -> bool: ...

    def save_row(self, row: LedgerRow, *, expected_version: int) -> bool: ...

    def contact_history(self, profile_id: str) -> ContactHistory:
        """The customer's recent contacts and unsubscribes, in one strongly consistent read."""
        ...

    def save_contact_history(self, history: ContactHistory, *, expected_version: int) -> bool:
        """Store the contacts if nothing changed them since `expected_version` was read (0: none
        stored). False when something did: read again and decide again."""
        ...

    def contact_plan(self, plan_id: str) -> ContactPlan | None:
        """A contact plan (cached briefly): owned sends stay under its maximum per channel."""
        ...

    def defer(self, task: DispatchTask, until: datetime) -> None: ...

    def park(self, task: DispatchTask) -> None: ...


class ProfileSource(Protocol):
    def profiles(self, profile_ids: Sequence[str]) -> dict[str, Profile]: ...


class Personaliser(Protocol):
    def facts(self, profile: Profile) -> dict[str, set[str]]:
        """What variants match on: tier, price_sensitivity, stage, segment (sets of values)."""
        ...

    def context(
        self,
        profile: Profile,
        program: Program,
        channel: str,
        *,
        dispatch_key: str,
        issue_coupon: bool,
        names: Collection[str] | None = None,
        facts: dict[str, set[str]] | None = None,
    ) -> dict[str, Any]:
        """Values the templates may use (`names`: only those, so only what they need is read;
        `facts`: the customer's facts, already read); a coupon is issued (once per dispatch key)
        when asked."""
        ...


class Rivals(Protocol):
    def higher_priority_waiting(
        self, profile_id: str, priority: int, *, now: datetime, until: datetime | None = None
    ) -> bool:
        """A running program of higher priority targets this customer and has not reached them
        (a journey's send: one due before `until`, the window's end)."""
        ...


class ProgramDirectory(Protocol):
    def program(self, program_id: str, run_key: str) -> tuple[Program, str] | None:
        """The program and its state (`active`, `paused`, `cancelled`), or None if gone."""
        ...
