"""Admin: unified profiles — by id or by any identifier, their touchpoints, merge log, unmerge."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from functions.api.access import require_admin
from functions.api.errors import BEARER_CHALLENGE, http_errors
from shared import wiring
from shared.domain.customers.admin import (
    MAX_RECENT_TOUCHPOINTS,
    find_by_identifier,
    live_profile,
    lookup_identifier,
    merge_log,
    merge_view,
    recent_touchpoints,
    unmerge,
)
from shared.domain.kernel.errors import InvalidInputError
from shared.wiring import customers as customers_wiring
from shared.wiring import ingest as ingest_wiring

routes = Blueprint(__name__)


def _admin() -> dict[str, str]:
    request = routes.current_request
    require_admin(request.headers.get("authorization"))
    return dict(request.query_params or {})


def _limit(query: dict[str, str], default: int = 20) -> int:
    raw = query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_RECENT_TOUCHPOINTS:
        raise InvalidInputError(f"limit must be 1 to {MAX_RECENT_TOUCHPOINTS}", details={"limit": raw})
    return int(raw)


@routes.route("/profiles", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def find_profile() -> dict[str, Any]:
    query = _admin()
    identifier = lookup_identifier(query, default_country_code=query.get("country_code"))
    return find_by_identifier(identifier, graph=customers_wiring.get_customer_graph()).view()


@routes.route("/profiles/{profile_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_profile(profile_id: str) -> dict[str, Any]:
    _admin()
    return live_profile(profile_id, graph=customers_wiring.get_customer_graph()).view()


@routes.route("/profiles/{profile_id}/touchpoints", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_profile_touchpoints(profile_id: str) -> dict[str, Any]:
    query = _admin()
    limit = _limit(query)
    graph = customers_wiring.get_customer_graph()
    profile = live_profile(profile_id, graph=graph)
    found = recent_touchpoints(
        profile,
        graph=graph,
        archive=ingest_wiring.get_touchpoint_archive(),
        clock=wiring.get_clock(),
        limit=limit,
    )
    return {"profile_id": profile.profile_id, "touchpoints": [tp.model_dump(mode="json") for tp in found]}


@routes.route("/profiles/{profile_id}/merges", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_merges(profile_id: str) -> dict[str, Any]:
    _admin()
    graph = customers_wiring.get_customer_graph()
    profile = live_profile(profile_id, graph=graph)
    return {
        "profile_id": profile.profile_id,
        "merges": [merge_view(e) for e in merge_log(profile, graph=graph)],
    }


@routes.route("/profiles/{profile_id}/merges/{merge_id}/unmerge", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_unmerge(profile_id: str, merge_id: str) -> dict[str, Any]:
    _admin()
    result = unmerge(
        profile_id,
        merge_id,
        graph=customers_wiring.get_customer_graph(),
        archive=ingest_wiring.get_touchpoint_archive(),
        clock=wiring.get_clock(),
        publisher=wiring.get_event_publisher(),
    )
    return {
        "survivor": result.survivor.view(),
        "restored": result.restored.view(),
        "moved_touchpoints": result.moved_touchpoints,
    }
