"""API Gateway sends every request to a greedy route (`/{proxy+}`, or `/v1/{proxy+}` for the
ingest function; any method); this finds the Chalice route it is for and hands the app the event
Chalice expects, as if API Gateway had one resource per route.

One proxy route means one invoke permission for the API instead of one per route: per-route
events made the SAM transform emit ~100 `AWS::Lambda::Permission`, whose resource policy is past
Lambda's 20 KB limit, and the deploy fails. The routes stay the app's: `GET /openapi.json`
lists them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Route = tuple[str, tuple[str, ...]]  # the pattern and its segments
NOT_FOUND = {
    "statusCode": 404,
    "headers": {"Content-Type": "application/json"},
    "body": json.dumps({"error": {"code": "not_found", "message": "No such route", "details": None}}),
}


def _segments(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.strip("/").split("/") if part)


def _specificity(route: Route) -> tuple[int, ...]:
    """Literal segments win over parameters, position by position (`/profiles/erasures` before
    `/profiles/{id}`)."""
    return tuple(1 if part.startswith("{") else 0 for part in route[1])


class RouteTable:
    def __init__(self, patterns: list[str]) -> None:
        routes = [(pattern, _segments(pattern)) for pattern in patterns]
        self._routes = sorted(routes, key=_specificity)

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The route pattern a concrete path is for, with its path parameters."""
        parts = _segments(path)
        for pattern, segments in self._routes:
            if len(segments) != len(parts):
                continue
            parameters: dict[str, str] = {}
            for segment, part in zip(segments, parts, strict=True):
                if segment.startswith("{") and segment.endswith("}"):
                    parameters[segment[1:-1]] = part
                elif segment != part:
                    break
            else:
                return pattern, parameters
        return None


class ProxiedApp:
    """The Lambda handler: an event of the proxy route, rewritten for the route it is for."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.routes = RouteTable(list(app.routes))

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        routed = for_route(event, self.routes)
        if routed is None:
            return NOT_FOUND
        return self.app(routed, context)


def for_route(event: dict[str, Any], table: RouteTable) -> dict[str, Any] | None:
    """The event as API Gateway would send it to a resource of this route (None: no route has
    this path). An event of a greedy route (`/{proxy+}`, `/v1/{proxy+}`) or the root is routed;
    one already for a route passes unchanged."""
    context: Mapping[str, Any] = event.get("requestContext") or {}
    resource = event.get("resource") or context.get("resourcePath")
    if resource != "/" and not str(resource).endswith("/{proxy+}"):
        return event
    path = str(event.get("path") or "/")
    found = table.match(path)
    if found is None:
        return None
    pattern, parameters = found
    return {
        **event,
        "resource": pattern,
        "pathParameters": parameters or None,
        "requestContext": {**context, "resourcePath": pattern},
    }
