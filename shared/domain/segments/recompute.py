"""The nightly recompute, in parallel parts with progress.

1. `start_recompute` creates the job and queues one **sampling** task per part (a parallel scan
   segment of the customers table).
2. Each sampling task reads its part's profiles and keeps a bounded, deterministic sample of the
   buyers' (recency, frequency, monetary) and of every profile's revenue (exact up to
   `SAMPLE_SIZE` per part). The last part to finish computes the cut points from all samples,
   saves them, and queues one **applying** task per part.
3. Each applying task re-evaluates its part's profiles with the new cut points (the same
   evaluation as live updates and timers), writing only what changed; the last part marks the
   job done. Progress (parts and profiles done) is on the job, readable through the API.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field

from shared.domain.customers.profiles import Profile
from shared.domain.kernel.errors import ConcurrentUpdateError, NotFoundError
from shared.domain.segments.classification import ClassificationRules, CutPoints, compute_cut_points, facts
from shared.domain.segments.live import Refresher

SAMPLE_SIZE = 5000  # per part: cut points are exact below parts x this many profiles
DEFAULT_PARTS = 8


class RecomputeNotFoundError(NotFoundError):
    code = "recompute_not_found"


class Phase(StrEnum):
    SAMPLING = "sampling"
    APPLYING = "applying"
    DONE = "done"


class RecomputeJob(BaseModel):
    job_id: str
    started_at: datetime
    parts: int
    phase: Phase = Phase.SAMPLING
    sampled_parts: list[int] = Field(default_factory=list)
    applied_parts: list[int] = Field(default_factory=list)
    profiles_sampled: int = 0
    profiles_evaluated: int = 0
    profiles_changed: int = 0
    cut_points: CutPoints | None = None
    finished_at: datetime | None = None
    version: int = 0

    def view(self) -> dict[str, Any]:
        done = len(self.sampled_parts) + len(self.applied_parts)
        return self.model_dump(mode="json", exclude={"version"}) | {
            "progress": round(done / (2 * self.parts), 3) if self.parts else 1.0
        }


class PartSample(BaseModel):
    buyers: list[tuple[float, float, float]] = Field(default_factory=list)
    revenues: list[float] = Field(default_factory=list)
    seen: int = 0


class RecomputeJobs(Protocol):
    def create(self, job: RecomputeJob) -> None: ...

    def get(self, job_id: str) -> RecomputeJob | None: ...

    def save(self, job: RecomputeJob) -> None:
        """Conditional on `job.version`; bumps it. Raises ConcurrentUpdateError."""
        ...

    def save_sample(self, job_id: str, part: int, sample: PartSample) -> None: ...

    def samples(self, job_id: str) -> list[PartSample]: ...


class RecomputeTasks(Protocol):
    def submit(self, job_id: str, *, phase: Phase, part: int) -> None: ...


class ProfileScanner(Protocol):
    def pages(self, *, part: int, parts: int) -> Iterator[list[Profile]]:
        """Every live profile of one parallel-scan part, a page at a time."""
        ...


class CutPointStore(Protocol):
    def save_cut_points(self, cuts: CutPoints) -> None: ...


def start_recompute(
    *, jobs: RecomputeJobs, tasks: RecomputeTasks, now: datetime, parts: int = DEFAULT_PARTS
) -> RecomputeJob:
    job = RecomputeJob(job_id=f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}", started_at=now, parts=parts)
    jobs.create(job)
    for part in range(parts):
        tasks.submit(job.job_id, phase=Phase.SAMPLING, part=part)
    return job


def find_recompute(job_id: str, *, jobs: RecomputeJobs) -> RecomputeJob:
    job = jobs.get(job_id)
    if job is None:
        raise RecomputeNotFoundError("No recompute with this id", details={"job_id": job_id})
    return job


def _reservoir(items: Iterator[Any], size: int, seed: str) -> tuple[list[Any], int]:
    chooser = random.Random(seed)  # noqa: S311 - sampling, not secrecy
    kept: list[Any] = []
    seen = 0
    for item in items:
        seen += 1
        if len(kept) < size:
            kept.append(item)
        else:
            slot = chooser.randrange(seen)
            if slot < size:
                kept[slot] = item
    return kept, seen


def sample_part(
    job_id: str,
    part: int,
    *,
    jobs: RecomputeJobs,
    tasks: RecomputeTasks,
    scanner: ProfileScanner,
    cut_store: CutPointStore,
    rules: ClassificationRules,
    now: datetime,
) -> RecomputeJob:
    job = find_recompute(job_id, jobs=jobs)
    if part not in job.sampled_parts:
        profiles = [p for page in scanner.pages(part=part, parts=job.parts) for p in page]
        buyers, _ = _reservoir(
            iter([f for p in profiles if (f := facts(p))]), SAMPLE_SIZE, f"{job_id}/{part}/b"
        )
        revenues, seen = _reservoir(
            iter([float(p.revenue) for p in profiles]), SAMPLE_SIZE, f"{job_id}/{part}/r"
        )
        jobs.save_sample(job_id, part, PartSample(buyers=buyers, revenues=revenues, seen=seen))
        job = _record(jobs, job_id, sampled=part, sampled_profiles=seen)
    if job.phase is Phase.SAMPLING and len(job.sampled_parts) == job.parts:
        samples = jobs.samples(job_id)
        cuts = compute_cut_points(
            [b for s in samples for b in s.buyers],
            [r for s in samples for r in s.revenues],
            rules=rules.tiers,
            computed_at=now,
        )
        cut_store.save_cut_points(cuts)
        job = _advance(jobs, job_id, cuts)
    if job.phase is Phase.APPLYING:
        # Queued by whichever part advanced the job; again on a redelivery (applying is idempotent).
        for each in range(job.parts):
            if each not in job.applied_parts:
                tasks.submit(job_id, phase=Phase.APPLYING, part=each)
    return job


def apply_part(
    job_id: str,
    part: int,
    *,
    jobs: RecomputeJobs,
    scanner: ProfileScanner,
    refresher: Refresher,
    now: datetime,
) -> RecomputeJob:
    job = find_recompute(job_id, jobs=jobs)
    if part in job.applied_parts or job.cut_points is None:
        return job
    refresher.cuts = job.cut_points
    evaluated = changed = 0
    for page in scanner.pages(part=part, parts=job.parts):
        before = refresher.result.changed
        refresher.refresh([], read=page)  # the scan just read them: no second read
        evaluated += len(page)
        changed += refresher.result.changed - before
    return _record(jobs, job_id, applied=part, evaluated=evaluated, changed=changed, now=now)


def _record(
    jobs: RecomputeJobs,
    job_id: str,
    *,
    sampled: int | None = None,
    applied: int | None = None,
    sampled_profiles: int = 0,
    evaluated: int = 0,
    changed: int = 0,
    now: datetime | None = None,
) -> RecomputeJob:
    for _attempt in range(50):
        job = find_recompute(job_id, jobs=jobs)
        if (sampled is not None and sampled in job.sampled_parts) or (
            applied is not None and applied in job.applied_parts
        ):
            return job
        update: dict[str, Any] = {}
        if sampled is not None:
            update |= {
                "sampled_parts": sorted([*job.sampled_parts, sampled]),
                "profiles_sampled": job.profiles_sampled + sampled_profiles,
            }
        if applied is not None:
            parts = sorted([*job.applied_parts, applied])
            update |= {
                "applied_parts": parts,
                "profiles_evaluated": job.profiles_evaluated + evaluated,
                "profiles_changed": job.profiles_changed + changed,
            }
            if len(parts) == job.parts:
                update |= {"phase": Phase.DONE, "finished_at": now}
        changed_job = job.model_copy(update=update)
        try:
            jobs.save(changed_job)
            return changed_job.model_copy(update={"version": job.version + 1})
        except ConcurrentUpdateError:
            continue
    raise ConcurrentUpdateError("The recompute job kept changing")


def _advance(jobs: RecomputeJobs, job_id: str, cuts: CutPoints) -> RecomputeJob:
    job = find_recompute(job_id, jobs=jobs)
    if job.phase is not Phase.SAMPLING:
        return job
    advanced = job.model_copy(update={"phase": Phase.APPLYING, "cut_points": cuts})
    try:
        jobs.save(advanced)
    except ConcurrentUpdateError:
        return find_recompute(job_id, jobs=jobs)
    return advanced.model_copy(update={"version": job.version + 1})


def live_ids(profiles: Sequence[Profile]) -> list[str]:
    return [p.profile_id for p in profiles if p.merged_into is None and p.exists]
