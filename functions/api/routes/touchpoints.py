"""Admin: read archived touchpoints."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from functions.api.access import require_admin
from functions.api.errors import BEARER_CHALLENGE, http_errors
from shared import wiring
from shared.domain.ingest.intake import find_touchpoint
from shared.wiring import ingest as ingest_wiring

routes = Blueprint(__name__)


@routes.route("/touchpoints/{message_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_touchpoint(message_id: str) -> dict[str, Any]:
    require_admin(routes.current_request.headers.get("authorization"))
    touchpoint = find_touchpoint(
        message_id, archive=ingest_wiring.get_touchpoint_archive(), clock=wiring.get_clock()
    )
    return touchpoint.model_dump(mode="json")
