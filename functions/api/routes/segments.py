"""Admin: segments (definitions, preview, members), a profile's segments and classification,
the nightly recompute, and hashed audience exports."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict

from functions.api.access import require_admin
from functions.api.errors import BEARER_CHALLENGE, http_errors
from functions.api.request_body import json_object
from functions.api.routes.sources import ADMIN_BODY_BYTES
from shared import wiring
from shared.domain.customers.admin import live_profile
from shared.domain.kernel.errors import InvalidInputError
from shared.domain.segments.classification import classify
from shared.domain.segments.export import ExportFormat, find_export, request_export
from shared.domain.segments.live import (
    NewSegment,
    SegmentChange,
    change_segment,
    create_segment,
    find_segment,
    preview,
)
from shared.domain.segments.recompute import find_recompute, start_recompute
from shared.settings import get_settings
from shared.wiring import customers as customers_wiring
from shared.wiring import segments as segments_wiring

routes = Blueprint(__name__)
PREVIEW_SAMPLE = 2000
MAX_PAGE = 1000


def _admin() -> dict[str, str]:
    request = routes.current_request
    require_admin(request.headers.get("authorization"))
    return dict(request.query_params or {})


def _body() -> dict[str, Any]:
    raw = routes.current_request.raw_body
    return json_object(raw or b"", max_bytes=ADMIN_BODY_BYTES)


@routes.route("/segments", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_segment() -> Response:
    _admin()
    segment = create_segment(
        NewSegment.model_validate(_body()),
        store=segments_wiring.get_segment_store(),
        clock=wiring.get_clock(),
    )
    return Response(
        body=segment.view(), status_code=201, headers={"Location": f"/segments/{segment.segment_id}"}
    )


@routes.route("/segments", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def list_segments() -> dict[str, Any]:
    _admin()
    return {"segments": [segment.view() for segment in segments_wiring.get_segment_store().definitions()]}


@routes.route("/segments/preview", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_preview() -> dict[str, Any]:
    _admin()
    body = _body()
    rule = body.get("rule")
    if not isinstance(rule, dict):
        raise InvalidInputError('Send {"rule": {...}}')
    store = segments_wiring.get_segment_store()
    sample, exhausted = segments_wiring.get_profile_sampler().sample(PREVIEW_SAMPLE)
    cuts = store.cut_points()
    population = len(sample) if exhausted else max(cuts.profiles, len(sample))
    return preview(
        rule,
        sample,
        population=population,
        cuts=cuts,
        rules=segments_wiring.get_classification_rules(),
        now=wiring.get_clock().now(),
    )


@routes.route("/segments/{segment_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_segment(segment_id: str) -> dict[str, Any]:
    _admin()
    store = segments_wiring.get_segment_store()
    return find_segment(segment_id, store=store).view() | {"members": store.count(segment_id)}


@routes.route("/segments/{segment_id}", methods=["PATCH"])
@http_errors(challenge=BEARER_CHALLENGE)
def patch_segment(segment_id: str) -> dict[str, Any]:
    _admin()
    change = SegmentChange.model_validate(_body())
    return change_segment(
        segment_id, change, store=segments_wiring.get_segment_store(), clock=wiring.get_clock()
    ).view()


@routes.route("/segments/{segment_id}", methods=["DELETE"])
@http_errors(challenge=BEARER_CHALLENGE)
def delete_segment(segment_id: str) -> Response:
    _admin()
    store = segments_wiring.get_segment_store()
    find_segment(segment_id, store=store)
    store.delete_definition(segment_id)
    return Response(body="", status_code=204)


@routes.route("/segments/{segment_id}/members", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_members(segment_id: str) -> dict[str, Any]:
    query = _admin()
    raw_limit = query.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise InvalidInputError(f"limit must be 1 to {MAX_PAGE}", details={"limit": raw_limit})
    store = segments_wiring.get_segment_store()
    find_segment(segment_id, store=store)
    members, following = store.members(segment_id, after=query.get("after"), limit=int(raw_limit))
    return {"segment_id": segment_id, "profile_ids": members, "next": following}


@routes.route("/profiles/{profile_id}/segments", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_profile_segments(profile_id: str) -> dict[str, Any]:
    _admin()
    profile = live_profile(profile_id, graph=customers_wiring.get_customer_graph())
    store = segments_wiring.get_segment_store()
    state = store.state(profile.profile_id)
    classification = classify(
        profile,
        cuts=store.cut_points(),
        rules=segments_wiring.get_classification_rules(),
        now=wiring.get_clock().now(),
    )
    return {
        "profile_id": profile.profile_id,
        "segments": {
            sid: since.isoformat() for sid, since in sorted((state.segments if state else {}).items())
        },
        "classification": classification.model_dump(mode="json"),
    }


@routes.route("/segments/recompute", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_recompute() -> Response:
    _admin()
    job = start_recompute(
        jobs=segments_wiring.get_recompute_jobs(),
        tasks=segments_wiring.get_recompute_tasks(),
        now=wiring.get_clock().now(),
        parts=get_settings().recompute_parts,
    )
    return Response(
        body=job.view(), status_code=202, headers={"Location": f"/segments/recompute/{job.job_id}"}
    )


@routes.route("/segments/recompute/{job_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_recompute(job_id: str) -> dict[str, Any]:
    _admin()
    return find_recompute(job_id, jobs=segments_wiring.get_recompute_jobs()).view()


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: ExportFormat = ExportFormat.GOOGLE


@routes.route("/segments/{segment_id}/exports", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_export(segment_id: str) -> Response:
    _admin()
    raw = routes.current_request.raw_body
    body = ExportRequest.model_validate(json_object(raw, max_bytes=ADMIN_BODY_BYTES) if raw else {})
    export = request_export(
        segment_id,
        body.format,
        segments=segments_wiring.get_segment_store(),
        jobs=segments_wiring.get_export_jobs(),
        queue=segments_wiring.get_export_queue(),
        now=wiring.get_clock().now(),
    )
    return Response(
        body=export.view(),
        status_code=202,
        headers={"Location": f"/segments/{segment_id}/exports/{export.export_id}"},
    )


@routes.route("/segments/{segment_id}/exports/{export_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_export(segment_id: str, export_id: str) -> dict[str, Any]:
    _admin()
    export = find_export(export_id, jobs=segments_wiring.get_export_jobs())
    if export.segment_id != segment_id:
        raise InvalidInputError(
            "This export belongs to another segment", details={"segment_id": export.segment_id}
        )
    view = export.view()
    if export.file_key:
        view["download_url"] = segments_wiring.get_export_files().url(export.file_key)
    return view
