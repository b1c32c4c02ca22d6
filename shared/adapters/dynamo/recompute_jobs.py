"""Nightly recompute jobs and the profile scan, in the customers table.

| entity | pk                   | sk          | notes                            |
|--------|----------------------|-------------|----------------------------------|
| job    | RECOMPUTE#<job_id>   | JOB         | body = RecomputeJob, version     |
| sample | RECOMPUTE#<job_id>   | SAMPLE#<n>  | one part's bounded sample        |
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PynamoDBException

from shared.adapters.dynamo.conventions import is_condition_failure
from shared.adapters.dynamo.customers_table import CustomersTableItem, ProfileItem
from shared.domain.customers.profiles import Profile
from shared.domain.kernel.errors import (
    ConcurrentUpdateError,
    DependencyUnavailableError,
    UnreadableRecordError,
)
from shared.domain.segments.recompute import PartSample, RecomputeJob

SCAN_PAGE = 100


class RecomputeJobItem(CustomersTableItem, discriminator="recompute_job"):
    version = NumberAttribute()
    body = UnicodeAttribute()


class RecomputeSampleItem(CustomersTableItem, discriminator="recompute_sample"):
    body = UnicodeAttribute()


def _unavailable(error: PynamoDBException) -> DependencyUnavailableError:
    return DependencyUnavailableError("The customers table did not answer", details={"cause": error.msg})


class DynamoRecomputeJobs:
    def create(self, job: RecomputeJob) -> None:
        item = RecomputeJobItem(f"RECOMPUTE#{job.job_id}", "JOB", version=1, body=job.model_dump_json())
        try:
            item.save(condition=RecomputeJobItem.pk.does_not_exist())
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def get(self, job_id: str) -> RecomputeJob | None:
        try:
            item = RecomputeJobItem.get(f"RECOMPUTE#{job_id}", "JOB", consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return RecomputeJob.model_validate_json(item.body).model_copy(update={"version": int(item.version)})

    def save(self, job: RecomputeJob) -> None:
        item = RecomputeJobItem(
            f"RECOMPUTE#{job.job_id}", "JOB", version=job.version + 1, body=job.model_dump_json()
        )
        try:
            item.save(condition=RecomputeJobItem.version == job.version)
        except PynamoDBException as error:
            if is_condition_failure(error):
                raise ConcurrentUpdateError("The recompute job changed concurrently") from error
            raise _unavailable(error) from error

    def save_sample(self, job_id: str, part: int, sample: PartSample) -> None:
        try:
            RecomputeSampleItem(
                f"RECOMPUTE#{job_id}", f"SAMPLE#{part:04d}", body=sample.model_dump_json()
            ).save()
        except PynamoDBException as error:
            raise _unavailable(error) from error

    def samples(self, job_id: str) -> list[PartSample]:
        try:
            items = RecomputeSampleItem.query(
                f"RECOMPUTE#{job_id}", RecomputeSampleItem.sk.startswith("SAMPLE#"), consistent_read=True
            )
            return [PartSample.model_validate_json(item.body) for item in items]
        except PynamoDBException as error:
            raise _unavailable(error) from error


class DynamoProfileScanner:
    """One segment of a parallel Scan of the customers table, profiles only, a page at a time."""

    def pages(self, *, part: int, parts: int) -> Iterator[list[Profile]]:
        page: list[Profile] = []
        try:
            for item in ProfileItem.scan(segment=part, total_segments=parts, page_size=SCAN_PAGE):
                if item.merged_into:
                    continue
                try:
                    page.append(item.to_profile())
                except UnreadableRecordError:
                    continue  # quarantined (logged): the scan goes on without it
                if len(page) == SCAN_PAGE:
                    yield page
                    page = []
        except PynamoDBException as error:
            raise _unavailable(error) from error
        if page:
            yield page


class DynamoProfileSampler:
    """Up to `limit` profiles from a random parallel-scan segment: a preview's sample. Says when
    the whole table was read (the count is then exact)."""

    def __init__(self, *, segments: int = 64) -> None:
        self._segments = segments

    def sample(self, limit: int) -> tuple[list[Profile], bool]:
        found: list[Profile] = []
        start = random.randrange(self._segments)  # noqa: S311 - sampling, not secrecy
        try:
            for offset in range(self._segments):
                segment = (start + offset) % self._segments
                for item in ProfileItem.scan(
                    segment=segment, total_segments=self._segments, page_size=SCAN_PAGE
                ):
                    if not item.merged_into:
                        try:
                            found.append(item.to_profile())
                        except UnreadableRecordError:
                            continue  # quarantined (logged)
                    if len(found) >= limit:
                        return found, False
        except PynamoDBException as error:
            raise _unavailable(error) from error
        return found, True
