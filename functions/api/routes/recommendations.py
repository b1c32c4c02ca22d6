"""Next-best products for one customer: the admin key, a server-side source's key (a shop's
backend personalising its pages), or the member's own token with `member:read`."""

from __future__ import annotations

import re
from typing import Any

from chalice.app import Blueprint

from functions.api.access import member_access
from functions.api.errors import BEARER_CHALLENGE, http_errors
from shared.domain.commerce.stock import ID_PATTERN
from shared.domain.customers.admin import live_profile
from shared.domain.kernel.errors import InvalidInputError, NotFoundError
from shared.domain.recommendations.service import MAX_LIMIT
from shared.wiring import commerce as commerce_wiring
from shared.wiring import customers as customers_wiring
from shared.wiring import recommendations as recommendations_wiring

routes = Blueprint(__name__)


def _where(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not re.fullmatch(ID_PATTERN, value):
        raise InvalidInputError(f"{name}: a {name} id", details={name: value[:100]})
    return value


@routes.route("/profiles/{profile_id}/recommendations", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_recommendations(profile_id: str) -> dict[str, Any]:
    """`?channel=` (a sales channel: published there) or `?location=` (sellable there), `?limit=`
    (1-50, default 5)."""
    request = routes.current_request
    access = member_access(request.headers.get("authorization"), profile_id, scope="member:read")
    params = dict(request.query_params or {})
    raw_limit = params.get("limit", "5")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be 1 to {MAX_LIMIT}", details={"limit": raw_limit[:20]})
    channel_id, location_id = _where(params, "channel"), _where(params, "location")
    catalog = commerce_wiring.get_catalog()
    if channel_id is not None and catalog.channel(channel_id) is None:
        raise NotFoundError(f"No sales channel {channel_id!r}", details={"channel": channel_id})
    if location_id is not None and catalog.location(location_id) is None:
        raise NotFoundError(f"No location {location_id!r}", details={"location": location_id})
    profile = live_profile(access.profile_id, graph=customers_wiring.get_customer_graph())
    shopper = recommendations_wiring.shopper(profile)
    found = recommendations_wiring.get_recommender().for_shopper(
        shopper, channel_id=channel_id, location_id=location_id, limit=int(raw_limit)
    )
    return {
        "profile_id": profile.profile_id,
        "channel": channel_id,
        "location": location_id,
        "price_sensitivity": shopper.price_sensitivity,
        "tier": shopper.tier,
        "recommendations": [{"sku": r.sku, "score": r.score, "reason": r.reason} for r in found],
    }
