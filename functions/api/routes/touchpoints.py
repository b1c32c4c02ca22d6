"""Admin: read archived touchpoints."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from chalice.app import Blueprint

from functions.api.access import require_admin
from functions.api.errors import BEARER_CHALLENGE, http_errors
from shared import wiring
from shared.domain.ingest.intake import find_touchpoint
from shared.domain.kernel.errors import TouchpointNotFoundError
from shared.wiring import ingest as ingest_wiring

routes = Blueprint(__name__)


@routes.route("/touchpoints/{message_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_touchpoint(message_id: str) -> dict[str, Any]:
    """An id that needs percent-encoding in a URL (`#`, `:`, spaces, non-ASCII) is found whether the
    gateway hands the path parameter over decoded or still encoded."""
    require_admin(routes.current_request.headers.get("authorization"))
    archive, clock = ingest_wiring.get_touchpoint_archive(), wiring.get_clock()
    try:
        touchpoint = find_touchpoint(message_id, archive=archive, clock=clock)
    except TouchpointNotFoundError:
        decoded = unquote(message_id)
        if decoded == message_id:
            raise
        touchpoint = find_touchpoint(decoded, archive=archive, clock=clock)
    return touchpoint.model_dump(mode="json")
