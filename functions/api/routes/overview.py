"""Operations at a glance, for the console's overview: touchpoints per channel, profiles created
and merges over the last day (hour by hour) and week (day by day), and the queue monitor's
latest reading of every queue and dead-letter queue."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from functions.api.access import require_admin
from functions.api.errors import BEARER_CHALLENGE, http_errors
from shared import wiring
from shared.domain.kernel.activity import overview
from shared.wiring import activity as activity_wiring

routes = Blueprint(__name__)


@routes.route("/overview", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_overview() -> dict[str, Any]:
    require_admin(routes.current_request.headers.get("authorization"))
    return overview(activity_wiring.get_activity_log(), wiring.get_clock().now())
