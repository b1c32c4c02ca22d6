"""Admin: contact plans across owned and paid channels — the plan, its refresh (report and
audience syncs), its report per period, and the paid exposures the ad platforms report back."""

from __future__ import annotations

import re
from typing import Any

from chalice.app import Blueprint, Response

from functions.api.access import require_admin
from functions.api.errors import BEARER_CHALLENGE, http_errors
from functions.api.request_body import decoded, json_object
from functions.api.routes.sources import ADMIN_BODY_BYTES
from shared import wiring
from shared.domain.engagement.plans import (
    PLAN_ID,
    ContactPlanChange,
    PlanNotFoundError,
    find_plan,
    parse_exposures,
    parse_period,
    period_of,
    record_exposures,
    save_plan,
)
from shared.domain.kernel.errors import InvalidInputError, NotFoundError, PayloadTooLargeError
from shared.wiring import customers as customers_wiring
from shared.wiring import engagement as engagement_wiring
from shared.wiring import segments as segments_wiring

routes = Blueprint(__name__)
EXPOSURE_FILE_BYTES = 200_000  # 500 rows of two hashes and an id fit with room to spare


class PlanReportNotFoundError(NotFoundError):
    code = "plan_report_not_found"


def _admin() -> dict[str, str]:
    request = routes.current_request
    require_admin(request.headers.get("authorization"))
    return dict(request.query_params or {})


def _plan_id(plan_id: str) -> str:
    if not re.fullmatch(PLAN_ID, plan_id):
        raise PlanNotFoundError("No contact plan with this id", details={"plan_id": plan_id[:100]})
    return plan_id


@routes.route("/contact-plans/{plan_id}", methods=["PUT"])
@http_errors(challenge=BEARER_CHALLENGE)
def put_plan(plan_id: str) -> dict[str, Any]:
    _admin()
    change = ContactPlanChange.model_validate(
        json_object(routes.current_request.raw_body or b"", max_bytes=ADMIN_BODY_BYTES)
    )
    plan = save_plan(
        plan_id,
        change,
        store=engagement_wiring.get_engagement(),
        segments=segments_wiring.get_segment_store(),
        now=wiring.get_clock().now(),
    )
    return plan.model_dump(mode="json")


@routes.route("/contact-plans", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def list_plans() -> dict[str, Any]:
    _admin()
    return {"plans": [p.model_dump(mode="json") for p in engagement_wiring.get_engagement().contact_plans()]}


@routes.route("/contact-plans/{plan_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_plan(plan_id: str) -> dict[str, Any]:
    _admin()
    plan = find_plan(_plan_id(plan_id), store=engagement_wiring.get_engagement())
    return plan.model_dump(mode="json") | {
        "period": period_of(plan, wiring.get_clock().now()).model_dump(mode="json")
    }


@routes.route("/contact-plans/{plan_id}/refresh", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_refresh(plan_id: str) -> Response:
    """Queue a refresh now (the schedule runs one daily): the report and the syncs."""
    _admin()
    plan = find_plan(_plan_id(plan_id), store=engagement_wiring.get_engagement())
    engagement_wiring.get_plan_queue().submit(plan.plan_id)
    period = period_of(plan, wiring.get_clock().now())
    return Response(
        body={"plan_id": plan.plan_id, "period": period.key, "status": "queued"},
        status_code=202,
        headers={"Location": f"/contact-plans/{plan.plan_id}/report?period={period.key}"},
    )


@routes.route("/contact-plans/{plan_id}/report", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_report(plan_id: str) -> dict[str, Any]:
    """`?period=` (2026-W49, 2026-12-03, 2026-12; default: the current one)."""
    params = _admin()
    store = engagement_wiring.get_engagement()
    plan = find_plan(_plan_id(plan_id), store=store)
    raw = params.get("period")
    period = parse_period(plan, raw) if raw else period_of(plan, wiring.get_clock().now())
    report = store.plan_report(plan.plan_id, period.key)
    if report is None:
        raise PlanReportNotFoundError(
            "No report for this period yet: POST /contact-plans/{plan_id}/refresh",
            details={"plan_id": plan.plan_id, "period": period.key},
        )
    return report.view(segments_wiring.get_export_files().url)


@routes.route("/ad-exposures/{source}", methods=["POST"], content_types=["text/csv", "text/plain"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_exposures(source: str) -> dict[str, Any]:
    """An ad platform's exposures (impressions, clicks, views) as CSV: `exposure_id, channel,
    kind, at, email_sha256, phone_sha256`, at most 500 rows. `source` names the platform
    account; an exposure id is counted once per source however often it is sent."""
    _admin()
    if not re.fullmatch(r"^[a-z0-9][a-z0-9_-]{0,62}$", source):
        raise InvalidInputError("source: 1-63 of a-z 0-9 _ - naming the ad account")
    request = routes.current_request
    raw = request.raw_body or b""
    body = decoded(
        raw if isinstance(raw, bytes) else raw.encode(),
        request.headers.get("content-encoding"),
        max_bytes=EXPOSURE_FILE_BYTES,
    )
    if len(body) > EXPOSURE_FILE_BYTES:
        raise PayloadTooLargeError(
            f"At most {EXPOSURE_FILE_BYTES} bytes per upload", details={"limit": EXPOSURE_FILE_BYTES}
        )
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInputError("The file is not UTF-8 text") from error
    now = wiring.get_clock().now()
    result = record_exposures(
        parse_exposures(text, now=now),
        source=source,
        store=engagement_wiring.get_engagement(),
        graph=customers_wiring.get_customer_graph(),
        touchpoints=engagement_wiring.ExposureTouchpoints(),
        now=now,
    )
    return {"source": source, **result.__dict__}
