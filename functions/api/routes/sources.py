"""Admin: the source registry. Credentials are in the answer that creates or rotates them only."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from functions.api.access import require_admin
from functions.api.errors import BEARER_CHALLENGE, http_errors
from functions.api.request_body import json_object
from shared.domain.ingest.sources import (
    NewSource,
    SourceChange,
    change_source,
    create_source,
    get_source,
    rotate_signing_secret,
)
from shared.wiring import ingest as ingest_wiring

routes = Blueprint(__name__)
ADMIN_BODY_BYTES = 16 * 1024


def _admin() -> None:
    require_admin(routes.current_request.headers.get("authorization"))


def _body() -> dict[str, Any]:
    raw = routes.current_request.raw_body
    return json_object(raw, max_bytes=ADMIN_BODY_BYTES) if raw else {}


@routes.route("/sources", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def create() -> Response:
    _admin()
    request = NewSource.model_validate(_body())
    source, credentials = create_source(request, registry=ingest_wiring.get_source_registry())
    returned = {key: value for key, value in vars(credentials).items() if value is not None}
    body = {"source": source.model_dump(mode="json"), "credentials": returned}
    return Response(body=body, status_code=201, headers={"Content-Type": "application/json"})


@routes.route("/sources", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def list_sources() -> dict[str, Any]:
    _admin()
    sources = ingest_wiring.get_source_registry().all_sources()
    return {"sources": [source.model_dump(mode="json") for source in sources]}


@routes.route("/sources/{source_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def read(source_id: str) -> dict[str, Any]:
    _admin()
    return get_source(source_id, registry=ingest_wiring.get_source_registry()).model_dump(mode="json")


@routes.route("/sources/{source_id}", methods=["PATCH"])
@http_errors(challenge=BEARER_CHALLENGE)
def change(source_id: str) -> dict[str, Any]:
    _admin()
    update = SourceChange.model_validate(_body())
    return change_source(source_id, update, registry=ingest_wiring.get_source_registry()).model_dump(
        mode="json"
    )


@routes.route("/sources/{source_id}/signing-secrets", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def rotate(source_id: str) -> Response:
    _admin()
    provided = _body().get("signing_secret")
    secret = rotate_signing_secret(
        source_id,
        registry=ingest_wiring.get_source_registry(),
        provided=provided if isinstance(provided, str) else None,
    )
    return Response(
        body={"signing_secret": secret}, status_code=201, headers={"Content-Type": "application/json"}
    )
