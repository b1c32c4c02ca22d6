"""Domain error types. Each trigger translates them once: HTTP through `shared.error_envelope`,
SQS by letting the record fail so the batch processor reports it."""

from __future__ import annotations

from typing import Any


class OmnireachError(Exception):
    """Base of every error the product raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInputError(OmnireachError):
    code = "invalid_input"


class MalformedJsonError(InvalidInputError):
    code = "malformed_json"


class PayloadTooLargeError(InvalidInputError):
    code = "payload_too_large"


class AuthenticationError(OmnireachError):
    code = "unauthenticated"


class PermissionDeniedError(OmnireachError):
    code = "forbidden"


class NotFoundError(OmnireachError):
    code = "not_found"


class TouchpointNotFoundError(NotFoundError):
    code = "touchpoint_not_found"


class ConflictError(OmnireachError):
    code = "conflict"


class UnreadableRecordError(ConflictError):
    """A stored record this version cannot read (written by an older one, or damaged). It is
    quarantined: left as it is, logged for an operator, and never a failure for anyone else."""

    code = "record_unreadable"


class RuleRefusedError(OmnireachError):
    """Well-formed, but a business rule says no (not enough points, coupon used up, ...)."""

    code = "refused"


class DependencyUnavailableError(OmnireachError):
    """A queue, table or bus did not answer; the caller may retry."""

    code = "dependency_unavailable"


class ConfigurationError(OmnireachError):
    """The deployment is missing a setting; nothing the caller can fix."""

    code = "misconfigured"


class TooManyEventsError(InvalidInputError):
    code = "too_many_events"


class InvalidBatchError(InvalidInputError):
    code = "invalid_batch"


class ConcurrentUpdateError(OmnireachError):
    """Another writer changed an item between our read and our conditional write."""

    code = "concurrent_update"
