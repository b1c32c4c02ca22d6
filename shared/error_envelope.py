"""The HTTP error envelope: `{"error": {"code", "message", "details"}}`.

4xx for anything the caller can fix; 5xx only for our own faults and unavailable dependencies.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from shared.domain.kernel import errors

_STATUS_BY_ERROR: tuple[tuple[type[errors.OmnireachError], int], ...] = (
    (errors.PayloadTooLargeError, 413),
    (errors.InvalidInputError, 400),
    (errors.AuthenticationError, 401),
    (errors.PermissionDeniedError, 403),
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.RuleRefusedError, 422),
    (errors.DependencyUnavailableError, 503),
    (errors.ConfigurationError, 500),
)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def status_for(error: errors.OmnireachError) -> int:
    for error_type, status in _STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    return 500


def envelope(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return ErrorEnvelope(error=ErrorBody(code=code, message=message, details=details)).model_dump(mode="json")


def from_domain_error(error: errors.OmnireachError) -> tuple[int, dict[str, Any]]:
    return status_for(error), envelope(error.code, error.message, error.details)


def from_validation_error(error: PydanticValidationError) -> tuple[int, dict[str, Any]]:
    details = [
        {
            "field": ".".join(str(part) for part in issue["loc"]),
            "message": issue["msg"],
            "type": issue["type"],
        }
        for issue in error.errors(include_url=False, include_input=False)
    ]
    return 400, envelope("invalid_input", "The request body does not match the schema", details)
