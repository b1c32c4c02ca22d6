"""Liveness for load balancers, the local stack and the e2e tests. Touches no dependency."""

from __future__ import annotations

from chalice.app import Blueprint

routes = Blueprint(__name__)


@routes.route("/health", methods=["GET"])
def health() -> dict[str, str]:
    return {"status": "ok"}
