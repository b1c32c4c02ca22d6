"""Routes that more than one app registers: ingest's, in the ingest function's app and in the
whole API's (the admin function's, the tests' and the local gateway's). Chalice's Blueprint is
made for one app: it reads the request from the app it was registered with last, and its first
registration consumes the route's options (Chalice pops `methods` from them, so a second app
would get the route as GET only). This one reads the request being handled, whichever app handles
it (each app remembers it with `remember_request`), and gives each app its own copy of the
options."""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from chalice.app import Blueprint, Request, Response

_handled: ContextVar[Request | None] = ContextVar("handled_request", default=None)


class SharedBlueprint(Blueprint):
    @property
    def current_request(self) -> Request:
        request = _handled.get()
        if request is None:
            raise RuntimeError("no request is being handled (is remember_request registered?)")
        return request

    def _register_handler(
        self,
        handler_type: str,
        name: str,
        user_handler: Any,
        wrapped_handler: Any,
        kwargs: dict[str, Any],
        options: dict[Any, Any] | None = None,
    ) -> None:
        pristine = copy.deepcopy(kwargs)
        super()._register_handler(handler_type, name, user_handler, wrapped_handler, kwargs, options)
        register = self._deferred_registrations.pop()

        def register_with_its_own_options(app: Any, app_options: dict[Any, Any]) -> None:
            kwargs.clear()
            kwargs.update(copy.deepcopy(pristine))
            register(app, app_options)

        self._deferred_registrations.append(register_with_its_own_options)


def remember_request(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """HTTP middleware: the request is the current one while its route runs."""
    token = _handled.set(event)
    try:
        return get_response(event)
    finally:
        _handled.reset(token)
