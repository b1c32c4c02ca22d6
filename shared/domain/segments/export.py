"""Audience export for ad platforms (customer match): a segment's members as a CSV of SHA-256
hashes of their normalised emails and phones, built by a background job with progress.

Normalisation before hashing, as the platforms publish it:
- **google** (Google Ads Customer Match): trim, lower-case; for gmail.com and googlemail.com
  remove the dots before the @; phones in E.164 with the `+` (`+8613800138000`).
- **meta** (Meta custom audiences): trim, lower-case; phones as digits with the country code and
  no `+` (`8613800138000`).
Nothing else is exported: no raw identifier, no name, no profile id.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel

from shared.domain.customers.ports import CustomerGraph
from shared.domain.kernel.errors import NotFoundError
from shared.domain.kernel.identifiers import IdentifierType, normalise_email
from shared.domain.segments.live import SegmentStore, find_segment

PAGE = 500


class ExportNotFoundError(NotFoundError):
    code = "export_not_found"


class ExportFormat(StrEnum):
    GOOGLE = "google"
    META = "meta"


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class AudienceExport(BaseModel):
    export_id: str
    segment_id: str
    format: ExportFormat
    requested_at: datetime
    status: ExportStatus = ExportStatus.QUEUED
    members_total: int = 0  # members when requested: the denominator of progress
    members_done: int = 0
    rows: int = 0
    file_key: str | None = None
    finished_at: datetime | None = None

    def view(self) -> dict[str, Any]:
        progress = (
            1.0
            if self.status is ExportStatus.DONE
            else (round(min(self.members_done / self.members_total, 0.99), 3) if self.members_total else 0.0)
        )
        return self.model_dump(mode="json") | {"progress": progress}


class ExportJobs(Protocol):
    def save_export(self, export: AudienceExport) -> None: ...

    def find_export(self, export_id: str) -> AudienceExport | None: ...


class ExportQueue(Protocol):
    def submit(self, export_id: str) -> None: ...


class ExportFiles(Protocol):
    def write(self, key: str, lines: Iterator[str]) -> None: ...

    def url(self, key: str) -> str:
        """A time-limited download link."""
        ...


def normalised_email(raw: str, fmt: ExportFormat) -> str | None:
    email = normalise_email(raw)
    if email is None:
        return None
    local, _, domain = email.partition("@")
    if fmt is ExportFormat.GOOGLE and domain in ("gmail.com", "googlemail.com"):
        local = local.replace(".", "")
    return f"{local}@{domain}"


def normalised_phone(e164: str, fmt: ExportFormat) -> str:
    return e164 if fmt is ExportFormat.GOOGLE else e164.lstrip("+")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


HEADER = {ExportFormat.GOOGLE: "Email,Phone", ExportFormat.META: "email,phone"}


def rows_for(emails: list[str], phones: list[str], fmt: ExportFormat) -> list[str]:
    hashed_emails = sorted({sha256(e) for raw in emails if (e := normalised_email(raw, fmt))})
    hashed_phones = sorted({sha256(normalised_phone(p, fmt)) for p in phones})
    count = max(len(hashed_emails), len(hashed_phones))
    emails_padded = hashed_emails + [""] * (count - len(hashed_emails))
    phones_padded = hashed_phones + [""] * (count - len(hashed_phones))
    return [f"{email},{phone}" for email, phone in zip(emails_padded, phones_padded, strict=True)]


def request_export(
    segment_id: str,
    fmt: ExportFormat,
    *,
    segments: SegmentStore,
    jobs: ExportJobs,
    queue: ExportQueue,
    now: datetime,
) -> AudienceExport:
    find_segment(segment_id, store=segments)
    export = AudienceExport(
        export_id=str(uuid.uuid4()),
        segment_id=segment_id,
        format=fmt,
        requested_at=now,
        members_total=segments.count(segment_id),
    )
    jobs.save_export(export)
    queue.submit(export.export_id)
    return export


def find_export(export_id: str, *, jobs: ExportJobs) -> AudienceExport:
    found = jobs.find_export(export_id)
    if found is None:
        raise ExportNotFoundError("No export with this id", details={"export_id": export_id})
    return found


def run_export(
    export_id: str,
    *,
    segments: SegmentStore,
    graph: CustomerGraph,
    jobs: ExportJobs,
    files: ExportFiles,
    now: datetime,
) -> AudienceExport:
    """Build the file page by page, saving progress after each page. Idempotent: a redelivered
    job for a finished export does nothing; an interrupted one starts the file again."""
    export = find_export(export_id, jobs=jobs)
    if export.status is ExportStatus.DONE:
        return export
    export = export.model_copy(update={"status": ExportStatus.RUNNING, "members_done": 0, "rows": 0})
    jobs.save_export(export)
    key = f"exports/{export.segment_id}/{export.export_id}-{export.format.value}.csv"
    progress = {"members": 0, "rows": 0}

    def lines() -> Iterator[str]:
        nonlocal export
        yield HEADER[export.format]
        after: str | None = None
        while True:
            member_ids, after = segments.members(export.segment_id, after=after, limit=PAGE)
            profiles = graph.profiles(member_ids)
            for profile_id in member_ids:
                profile = profiles.get(profile_id)
                if profile is None or profile.merged_into is not None:
                    continue
                for row in rows_for(
                    profile.identifier_values(IdentifierType.EMAIL),
                    profile.identifier_values(IdentifierType.PHONE),
                    export.format,
                ):
                    progress["rows"] += 1
                    yield row
            progress["members"] += len(member_ids)
            export = export.model_copy(update={"members_done": progress["members"], "rows": progress["rows"]})
            jobs.save_export(export)
            if after is None:
                return

    files.write(key, lines())
    export = export.model_copy(update={"status": ExportStatus.DONE, "file_key": key, "finished_at": now})
    jobs.save_export(export)
    return export
