"""Campaigns, journeys, the frequency policy, reports (JSON and CSV), the in-app inbox and one-click
unsubscribe. Admin key everywhere except the inbox (a channel key may read it) and unsubscribe
(the signed link is the credential)."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
from typing import Any

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from functions.api.access import member_access, require_admin
from functions.api.errors import BEARER_CHALLENGE, http_errors
from functions.api.request_body import json_object
from functions.api.routes.sources import ADMIN_BODY_BYTES
from shared import wiring
from shared.domain.customers.admin import live_profile
from shared.domain.engagement.dispatch import preview_message
from shared.domain.engagement.frequency import CHANNELS, FrequencyPolicy
from shared.domain.engagement.journeys import TEMPLATES, JourneyChange, from_template, program_id_of
from shared.domain.engagement.measurement import measure
from shared.domain.engagement.models import ID, CampaignChange
from shared.domain.engagement.programs import JOURNEY_PREFIX
from shared.domain.engagement.unsubscribe import open_link
from shared.domain.ingest.touchpoints import Channel, ConsentSignal, ConsentStatus
from shared.domain.kernel.errors import InvalidInputError, NotFoundError
from shared.wiring import customers as customers_wiring
from shared.wiring import engagement as engagement_wiring
from shared.wiring import segments as segments_wiring
from shared.wiring import server_touchpoints

routes = Blueprint(__name__)
CSV_ROWS_MAX = 100_000
# The message channels whose consent a profile keeps (the inbox is the app's).
CONSENT_CHANNELS = {
    "email": Channel.EMAIL,
    "sms": Channel.SMS,
    "push": Channel.PUSH,
    "wechat": Channel.WECHAT,
}


class NewCampaign(CampaignChange):
    campaign_id: str = Field(pattern=ID)


class NewJourney(BaseModel):
    """From a shipped template (`template`, with `overrides` of its fields) or a full definition."""

    model_config = ConfigDict(extra="forbid")

    journey_id: str = Field(pattern=ID)
    template: str | None = Field(default=None, min_length=1, max_length=63)
    overrides: dict[str, Any] = Field(default_factory=dict)
    definition: JourneyChange | None = None


def _body() -> dict[str, Any]:
    return json_object(routes.current_request.raw_body or b"", max_bytes=ADMIN_BODY_BYTES)


def _admin() -> None:
    require_admin(routes.current_request.headers.get("authorization"))


def _id(value: str, name: str) -> str:
    if not re.fullmatch(ID, value):
        raise InvalidInputError(f"{name}: {value!r} is not a valid id")
    return value


# ------------------------------------------------------------------ frequency policy
@routes.route("/frequency-policy", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_policy() -> dict[str, Any]:
    _admin()
    return engagement_wiring.get_engagement().policy().model_dump(mode="json")


@routes.route("/frequency-policy", methods=["PUT"])
@http_errors(challenge=BEARER_CHALLENGE)
def put_policy() -> dict[str, Any]:
    _admin()
    policy = FrequencyPolicy.model_validate(_body())
    engagement_wiring.get_engagement().save_policy(policy)
    return policy.model_dump(mode="json")


# ------------------------------------------------------------------ campaigns
@routes.route("/campaigns", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_campaign() -> Response:
    _admin()
    new = NewCampaign.model_validate(_body())
    if new.campaign_id.startswith(JOURNEY_PREFIX):
        raise InvalidInputError(f"campaign_id: {JOURNEY_PREFIX}* names journeys")
    if segments_wiring.get_segment_store().definition(new.segment_id) is None:
        raise NotFoundError(f"No segment {new.segment_id!r}")
    campaign = engagement_wiring.get_campaign_service().create(
        new.campaign_id, CampaignChange.model_validate(new.model_dump(exclude={"campaign_id"}))
    )
    return Response(body=campaign.model_dump(mode="json"), status_code=201)


@routes.route("/campaigns", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_campaigns() -> dict[str, Any]:
    _admin()
    return {
        "campaigns": [
            c.model_dump(
                mode="json",
                include={"campaign_id", "name", "status", "segment_id", "priority", "launched_at"},
            )
            for c in engagement_wiring.get_engagement().campaigns()
        ]
    }


@routes.route("/campaigns/{campaign_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_campaign(campaign_id: str) -> dict[str, Any]:
    _admin()
    return (
        engagement_wiring.get_campaign_service().get(_id(campaign_id, "campaign_id")).model_dump(mode="json")
    )


def _campaign_action(campaign_id: str, action: str) -> dict[str, Any]:
    _admin()
    service = engagement_wiring.get_campaign_service()
    verbs = {
        "launch": service.launch,
        "pause": service.pause,
        "resume": service.resume,
        "cancel": service.cancel,
    }
    return verbs[action](_id(campaign_id, "campaign_id")).model_dump(mode="json")


@routes.route("/campaigns/{campaign_id}/launch", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_launch(campaign_id: str) -> dict[str, Any]:
    return _campaign_action(campaign_id, "launch")


@routes.route("/campaigns/{campaign_id}/pause", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_pause(campaign_id: str) -> dict[str, Any]:
    return _campaign_action(campaign_id, "pause")


@routes.route("/campaigns/{campaign_id}/resume", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_resume(campaign_id: str) -> dict[str, Any]:
    return _campaign_action(campaign_id, "resume")


@routes.route("/campaigns/{campaign_id}/cancel", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_cancel(campaign_id: str) -> dict[str, Any]:
    return _campaign_action(campaign_id, "cancel")


@routes.route("/campaigns/{campaign_id}/report", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_campaign_report(campaign_id: str) -> dict[str, Any]:
    _admin()
    return engagement_wiring.get_campaign_service().report(_id(campaign_id, "campaign_id"))


CSV_FIELDS = [
    "profile_id",
    "run_key",
    "status",
    "reason",
    "channel",
    "variant",
    "at",
    "sent_at",
    "deferred_until",
    "timezone",
    "timezone_source",
    "holdout",
]


def _csv(program_id: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for count, row in enumerate(engagement_wiring.get_engagement().rows(program_id)):
        if count >= CSV_ROWS_MAX:
            break
        writer.writerow(row.model_dump(mode="json"))
    return Response(body=out.getvalue(), status_code=200, headers={"Content-Type": "text/csv; charset=utf-8"})


@routes.route("/campaigns/{campaign_id}/outcomes.csv", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_campaign_csv(campaign_id: str) -> Response:
    _admin()
    engagement_wiring.get_campaign_service().get(_id(campaign_id, "campaign_id"))
    return _csv(campaign_id)


# ------------------------------------------------------------------ journeys
@routes.route("/journey-templates", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_templates() -> dict[str, Any]:
    _admin()
    return {"templates": TEMPLATES}


@routes.route("/journeys", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_journey() -> Response:
    _admin()
    new = NewJourney.model_validate(_body())
    if (new.template is None) == (new.definition is None):
        raise InvalidInputError("Give either `template` (with `overrides`) or `definition`")
    change = from_template(new.template, new.overrides) if new.template is not None else new.definition
    if change is None:
        raise InvalidInputError("Give either `template` (with `overrides`) or `definition`")
    for step in change.steps:
        if step.send is not None:
            missing = [c for c in step.send.channels if c not in engagement_wiring.get_senders()]
            if missing:
                raise InvalidInputError(
                    "no sender is configured for these channels", details={"channels": missing}
                )
    journey = engagement_wiring.get_journeys().create(new.journey_id, change)
    return Response(body=journey.model_dump(mode="json", by_alias=True), status_code=201)


@routes.route("/journeys", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_journeys() -> dict[str, Any]:
    _admin()
    return {
        "journeys": [
            j.model_dump(mode="json", include={"journey_id", "name", "trigger", "status"})
            for j in engagement_wiring.get_engagement().journeys()
        ]
    }


@routes.route("/journeys/{journey_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_journey(journey_id: str) -> dict[str, Any]:
    _admin()
    journey = engagement_wiring.get_engagement().journey(_id(journey_id, "journey_id"))
    if journey is None:
        raise NotFoundError(f"No journey {journey_id!r}")
    return journey.model_dump(mode="json", by_alias=True)


def _journey_status(journey_id: str, status: str) -> dict[str, Any]:
    _admin()
    journey = engagement_wiring.get_journeys().set_status(_id(journey_id, "journey_id"), status)  # type: ignore[arg-type]
    return journey.model_dump(mode="json", by_alias=True)


@routes.route("/journeys/{journey_id}/pause", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_journey_pause(journey_id: str) -> dict[str, Any]:
    return _journey_status(journey_id, "paused")


@routes.route("/journeys/{journey_id}/resume", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_journey_resume(journey_id: str) -> dict[str, Any]:
    return _journey_status(journey_id, "active")


@routes.route("/journeys/{journey_id}/waiting", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_journey_waiting(journey_id: str) -> dict[str, Any]:
    """How many customers wait to run each step now (an instance waits for its next step: after a
    wait step, they are counted at the step that follows it). The by_waiting_step index, counted."""
    _admin()
    engagement = engagement_wiring.get_engagement()
    journey = engagement.journey(_id(journey_id, "journey_id"))
    if journey is None:
        raise NotFoundError(f"No journey {journey_id!r}")
    steps = [
        {"step": index, "type": step.type, "waiting": engagement.waiting_at(journey_id, index)}
        for index, step in enumerate(journey.steps)
    ]
    return {"journey_id": journey_id, "steps": steps, "waiting": sum(s["waiting"] for s in steps)}


@routes.route("/journeys/{journey_id}/report", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_journey_report(journey_id: str) -> dict[str, Any]:
    _admin()
    engagement = engagement_wiring.get_engagement()
    if engagement.journey(_id(journey_id, "journey_id")) is None:
        raise NotFoundError(f"No journey {journey_id!r}")
    program_id = program_id_of(journey_id)
    rows = list(engagement.rows(program_id))
    return {
        "journey_id": journey_id,
        **measure(rows, engagement.conversions(program_id), engagement.policy()),
    }


@routes.route("/journeys/{journey_id}/outcomes.csv", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_journey_csv(journey_id: str) -> Response:
    _admin()
    if engagement_wiring.get_engagement().journey(_id(journey_id, "journey_id")) is None:
        raise NotFoundError(f"No journey {journey_id!r}")
    return _csv(program_id_of(journey_id))


# ------------------------------------------------------------------ inbox and unsubscribe
class PreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_id: str = Field(min_length=1, max_length=100)
    channel: str | None = Field(default=None, max_length=20)


@routes.route("/campaigns/{campaign_id}/preview", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_campaign_preview(campaign_id: str) -> dict[str, Any]:
    """The message one real customer would get: the variant chosen for them and its content
    rendered with their data (no coupon is issued: `coupon_code` shows as COUPON). Nothing is
    sent or recorded."""
    require_admin(routes.current_request.headers.get("authorization"))
    body = PreviewBody.model_validate(
        json_object(routes.current_request.raw_body or b"", max_bytes=ADMIN_BODY_BYTES)
    )
    campaign = engagement_wiring.get_engagement().campaign(campaign_id)
    if campaign is None:
        raise NotFoundError(f"No campaign {campaign_id!r}", details={"campaign_id": campaign_id})
    program = campaign.program()
    channel = body.channel or program.channels[0]
    profile = live_profile(body.profile_id, graph=customers_wiring.get_customer_graph())
    variant, rendered = preview_message(
        campaign_id, program, profile, channel, engagement_wiring.get_personaliser()
    )
    return {
        "campaign_id": campaign_id,
        "profile_id": profile.profile_id,
        "channel": channel,
        "variant_id": variant.variant_id,
        "rendered": rendered,
    }


@routes.route("/profiles/{profile_id}/messages", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_profile_messages(profile_id: str) -> dict[str, Any]:
    """What the customer was sent in the last 32 days (their contact history), newest first, each
    with its outcome from the program's ledger (sent, delivered, failed, ... and why)."""
    require_admin(routes.current_request.headers.get("authorization"))
    if not re.fullmatch(ID, profile_id):
        raise InvalidInputError("profile_id: a profile id", details={"profile_id": profile_id[:100]})
    store = engagement_wiring.get_engagement()
    history = store.contact_history(profile_id)
    sends = [(c.program_id, c.run_key) for c in history.contacts if not c.paid]
    rows = store.rows_of(sends, profile_id)  # one batch read, not one read per message
    messages = []
    for contact in sorted(history.contacts, key=lambda c: c.at, reverse=True):
        row = None if contact.paid else rows.get((contact.program_id, contact.run_key))
        messages.append(
            {
                "program_id": contact.program_id,
                "run_key": contact.run_key,
                "at": contact.at.isoformat(),
                "channel": contact.channel,
                "variant": contact.variant,
                "holdout": contact.holdout,
                "paid": contact.paid,
                "outcome": row.status if row else ("exposed" if contact.paid else None),
                "reason": row.reason if row else None,
            }
        )
    return {"profile_id": profile_id, "messages": messages}


@routes.route("/inbox/{profile_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_inbox(profile_id: str) -> dict[str, Any]:
    """The admin, a server-side source (the app's backend), or the member's own token."""
    access = member_access(
        routes.current_request.headers.get("authorization"), profile_id, scope="member:read"
    )
    return {"messages": engagement_wiring.get_engagement().inbox(access.profile_id, limit=50)}


def _token(token: str) -> tuple[str, str]:
    profile_id, channel = open_link(engagement_wiring.link_secrets(), token, now=wiring.get_clock().now())
    if channel not in (*CHANNELS, "*"):
        raise InvalidInputError("This unsubscribe link is not valid")
    return profile_id, channel


@routes.route("/unsubscribe/{token}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_unsubscribe(token: str) -> dict[str, Any]:
    """Looking at the link changes nothing (mail scanners open links); POST confirms."""
    _, channel = _token(token)
    return {"channel": channel, "confirm": "POST this URL to unsubscribe (RFC 8058 one-click)"}


@routes.route("/unsubscribe/{token}", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_unsubscribe(token: str) -> dict[str, Any]:
    """RFC 8058 one-click: effective at once; every later send on that channel is suppressed
    (`unsubscribed`), including messages already queued."""
    profile_id, channel = _token(token)
    now = wiring.get_clock().now()
    engagement_wiring.get_engagement().suppress(profile_id, channel, reason="one-click", at=now)
    # The profile's consent says so too (GET /profiles, segments, every other system that reads
    # it): a touchpoint revoking marketing consent, one per link however often it is posted.
    revoked = [
        ConsentSignal(
            channel=CONSENT_CHANNELS[c], status=ConsentStatus.REVOKED, reason="one-click unsubscribe"
        )
        for c in (CONSENT_CHANNELS if channel == "*" else [channel])
        if c in CONSENT_CHANNELS
    ]
    if revoked:
        with contextlib.suppress(NotFoundError):  # erased meanwhile: nothing left to record it on
            server_touchpoints.record_about(
                profile_id,
                touchpoint_id="unsubscribe:" + hashlib.sha256(token.encode()).hexdigest()[:40],
                source_id="unsubscribe",
                event="Unsubscribed",
                channel=Channel.EMAIL if channel == "email" else Channel.OTHER,
                at=now,
                properties={"channel": channel},
                consent=revoked,
            )
    return {"unsubscribed": True, "channel": channel}
