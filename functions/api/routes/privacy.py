"""Admin: privacy requests — erasure by any identifier (with its audit record) and export."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from functions.api.access import require_admin
from functions.api.errors import BEARER_CHALLENGE, http_errors
from functions.api.request_body import json_object
from functions.api.routes.sources import ADMIN_BODY_BYTES
from shared import wiring
from shared.domain.customers.admin import lookup_identifier
from shared.domain.customers.privacy import export_person, find_erasure, request_erasure
from shared.domain.kernel.errors import InvalidInputError
from shared.domain.kernel.identifiers import IdentifierType, normalise
from shared.wiring import customers as customers_wiring
from shared.wiring import ingest as ingest_wiring

routes = Blueprint(__name__)


class ErasureBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: IdentifierType
    value: str = Field(min_length=1, max_length=255)
    country_code: str | None = Field(default=None, pattern=r"^[1-9][0-9]{0,2}$")


@routes.route("/privacy/erasures", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_erasure() -> Response:
    request = routes.current_request
    require_admin(request.headers.get("authorization"))
    body = ErasureBody.model_validate(json_object(request.raw_body or b"", max_bytes=ADMIN_BODY_BYTES))
    identifier = normalise(body.type, body.value, default_country_code=body.country_code)
    if identifier is None:
        raise InvalidInputError(f"Not a usable {body.type.value}", details={"type": body.type.value})
    erasure = request_erasure(
        identifier,
        graph=customers_wiring.get_customer_graph(),
        data=customers_wiring.get_personal_data(),
        jobs=customers_wiring.get_erasure_jobs(),
        clock=wiring.get_clock(),
    )
    return Response(
        body=erasure.view(), status_code=202, headers={"Location": f"/privacy/erasures/{erasure.request_id}"}
    )


@routes.route("/privacy/erasures/{request_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_erasure(request_id: str) -> dict[str, Any]:
    require_admin(routes.current_request.headers.get("authorization"))
    return find_erasure(request_id, data=customers_wiring.get_personal_data()).view()


@routes.route("/privacy/export", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_export() -> dict[str, Any]:
    request = routes.current_request
    require_admin(request.headers.get("authorization"))
    query = dict(request.query_params or {})
    offset = query.pop("offset", "0")
    if not offset.isdigit():
        raise InvalidInputError("offset must be a whole number", details={"offset": offset})
    identifier = lookup_identifier(query, default_country_code=query.get("country_code"))
    return export_person(
        identifier,
        graph=customers_wiring.get_customer_graph(),
        archive=ingest_wiring.get_touchpoint_archive(),
        clock=wiring.get_clock(),
        offset=int(offset),
    )
