"""The identity graph: the port every capability reads profiles through, and the records a merge
or an unmerge commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from shared.domain.customers.identity import IdentityRecord
from shared.domain.customers.profiles import Profile
from shared.domain.kernel.identifiers import Identifier


class MergeRecord(BaseModel):
    """The merge log: who, when, why, which touchpoint, and both profiles as they were."""

    merge_id: str
    survivor_id: str
    loser_id: str
    merged_at: datetime
    touchpoint_id: str
    source_id: str
    reason: str  # the identifier types that linked them (never their values)
    survivor_before: Profile
    loser_before: Profile
    loser_identifiers: list[Identifier]
    unmerged_at: datetime | None = None


@dataclass
class MergeCommit:
    survivor: Profile
    losers: list[Profile]  # tombstones (merged_into set)
    records: list[IdentityRecord]  # repointed and newly claimed
    log: list[MergeRecord]


@dataclass
class UnmergeCommit:
    survivor: Profile
    restored: Profile  # the loser, live again
    records: list[IdentityRecord]  # pointed back at the restored profile
    log: MergeRecord  # with `unmerged_at` set


class CustomerGraph(Protocol):
    def id_key(self) -> bytes:
        """The deployment's secret for naming new profiles: the same for the deployment's life
        (a redelivered touchpoint names the same profile), known to nobody outside it."""
        ...

    def identities(self, keys: Collection[str]) -> dict[str, IdentityRecord]:
        """Stored records among `keys` (strongly consistent)."""
        ...

    def profiles(self, profile_ids: Collection[str]) -> dict[str, Profile]:
        """Stored profiles among `profile_ids`, tombstones included (strongly consistent)."""
        ...

    def save_identities(self, records: Sequence[IdentityRecord]) -> None:
        """Each put only if its stored version is still `record.version`; then bumps it.
        Raises ConcurrentUpdateError."""
        ...

    def save_profile(self, profile: Profile) -> None:
        """Put only if the stored version is still `profile.version`; then bumps it."""
        ...

    def merge(self, commit: MergeCommit) -> None:
        """All of it in one transaction, each item conditional on its version."""
        ...

    def merges(self, profile_id: str) -> list[MergeRecord]:
        """The merge log entries of merges this profile survived."""
        ...

    def unmerge(self, commit: UnmergeCommit) -> None:
        """One transaction; the log entry only if not unmerged yet. Raises ConcurrentUpdateError."""
        ...
