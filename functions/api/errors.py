"""One view decorator translates every error into the JSON error envelope (Chalice middleware
never sees exceptions raised in views)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice.app import Response
from pydantic import ValidationError

from shared.domain.kernel.errors import AuthenticationError, InvalidInputError, OmnireachError
from shared.error_envelope import envelope, from_domain_error, from_validation_error
from shared.observability import logger

JSON_HEADERS: dict[str, str | list[str]] = {"Content-Type": "application/json"}
BASIC_CHALLENGE = 'Basic realm="omnireach-tracking"'
BEARER_CHALLENGE = 'Bearer realm="omnireach-admin"'

View = Callable[..., Any]
# A path parameter is an id, a code or a token; DynamoDB refuses a sort key over 1,024 bytes, so a
# longer one must be a 400 here rather than the table's error (a 503) later.
MAX_PATH_PARAMETER_BYTES = 512


def _check_path(parameters: dict[str, Any]) -> None:
    for name, value in parameters.items():
        if isinstance(value, str) and len(value.encode("utf-8")) > MAX_PATH_PARAMETER_BYTES:
            raise InvalidInputError(
                f"{name}: longer than {MAX_PATH_PARAMETER_BYTES} bytes",
                details=[{"field": name, "message": "too long", "type": "string_too_long"}],
            )


def http_errors(*, challenge: str) -> Callable[[View], View]:
    """`challenge` is the WWW-Authenticate value sent with a 401 from this view."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                _check_path(kwargs)
                return view(*args, **kwargs)
            except OmnireachError as error:
                status, body = from_domain_error(error)
                if status >= 500:
                    logger.exception("request failed", extra={"error_code": error.code})
                else:
                    logger.info("request refused", extra={"error_code": error.code, "status": status})
                headers = dict(JSON_HEADERS)
                if isinstance(error, AuthenticationError):
                    headers["WWW-Authenticate"] = challenge
                return Response(body=body, status_code=status, headers=headers)
            except ValidationError as error:
                status, body = from_validation_error(error)
                logger.info("request refused", extra={"error_code": "invalid_input", "status": status})
                return Response(body=body, status_code=status, headers=JSON_HEADERS)
            except Exception:
                logger.exception("unexpected error")
                body = envelope("internal_error", "Something went wrong on our side; it has been logged")
                return Response(body=body, status_code=500, headers=JSON_HEADERS)

        return wrapper

    return decorate
