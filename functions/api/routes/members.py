"""Membership: member summary and ledger, points redemption and adjustment, points exchange,
referrals, coupon definitions, and coupons validated, redeemed and reversed from any channel.

Routes a till or checkout calls take the admin key or a server-side source's write key (HTTP
Basic, the "channel key"): with a channel key the channel is the source's; with the admin key
the body names it. A member's own app or web page calls the member routes with a member token
(`functions.api.access`); `/members/me/...` names the token's own member."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from functions.api.access import (
    MemberAccess,
    member_access,
    member_claims,
    member_profile_id,
    require_admin,
    sales_caller,
)
from functions.api.errors import BEARER_CHALLENGE, http_errors
from functions.api.request_body import json_object
from functions.api.routes.sources import ADMIN_BODY_BYTES
from shared.domain.customers.admin import survivor_id
from shared.domain.ingest.touchpoints import Source
from shared.domain.kernel.errors import InvalidInputError
from shared.domain.loyalty.book import (
    AdjustRequest,
    Recorded,
    RedeemRequest,
    referral_code,
    set_referrer,
    summary,
)
from shared.domain.loyalty.coupons import CouponCheck, CouponDefinition, CouponNotFoundError
from shared.domain.loyalty.ledger import adjust, redeem
from shared.domain.loyalty.perks import exchange_points, member_view
from shared.domain.loyalty.summary import empty_summary
from shared.wiring import customers as customers_wiring
from shared.wiring import loyalty as loyalty_wiring

routes = Blueprint(__name__)
MAX_PAGE = 200


def _body() -> dict[str, Any]:
    return json_object(routes.current_request.raw_body or b"", max_bytes=ADMIN_BODY_BYTES)


def _admin() -> None:
    require_admin(routes.current_request.headers.get("authorization"))


def _caller() -> Source | None:
    """Authenticated before the body is read: the channel key's source, or None for the admin."""
    return sales_caller(routes.current_request.headers.get("authorization"))


def _member(profile_id: str, scope: str) -> MemberAccess:
    """Authenticated before the body is read: admin, a server-side till, or the member's token."""
    return member_access(routes.current_request.headers.get("authorization"), profile_id, scope=scope)


def _channel(caller: Source | None, body: dict[str, Any]) -> str:
    """The caller's channel: the channel key's, or (admin, member) the body's `channel`."""
    from_key = caller.channel.value if caller is not None else None
    named = body.pop("channel", None)
    channel = from_key or named
    if not isinstance(channel, str) or not channel:
        raise InvalidInputError(
            "channel: name the channel (pos, web, app, ...) when calling with the admin key or a member token"
        )
    return channel


class ExchangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition_id: str = Field(min_length=1, max_length=63)
    request_id: str = Field(min_length=1, max_length=100)


class IssueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition_id: str = Field(min_length=1, max_length=63)
    issue_key: str = Field(pattern=r"^[A-Za-z0-9:_.-]{1,200}$")
    reason: str = Field(default="issued", max_length=200)


class ReferrerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=4, max_length=20)


class DefinitionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool


def _recorded(recorded: Recorded) -> Response:
    """201 with the new entries, or 200 with the first result for a replayed request id."""
    return Response(
        body={
            "entries": [entry.view() for entry in recorded.entries],
            "balance": recorded.account.balance,
            "replayed": recorded.duplicate,
        },
        status_code=200 if recorded.duplicate else 201,
    )


@routes.route("/members/{profile_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_member(profile_id: str) -> dict[str, Any]:
    access = _member(profile_id, "member:read")
    return member_view(
        loyalty_wiring.get_loyalty_book(),
        loyalty_wiring.get_coupons(),
        access.profile_id,
        graph=customers_wiring.get_customer_graph(),
    )


@routes.route("/members/{profile_id}/ledger", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_ledger(profile_id: str) -> dict[str, Any]:
    _admin()
    params: dict[str, str] = dict(routes.current_request.query_params or {})
    try:
        limit = int(params.get("limit", "50"))
        before = int(params["before"]) if "before" in params else None
    except ValueError as error:
        raise InvalidInputError("limit and before are whole numbers") from error
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit: between 1 and {MAX_PAGE}")
    book = loyalty_wiring.get_loyalty_book()
    book.account(profile_id)  # completes a change a crash left half-written
    entries, cursor = book.store.ledger(profile_id, before=before, limit=limit)
    return {"entries": [entry.view() for entry in entries], "next_before": cursor}


@routes.route("/members/{profile_id}/points/redemptions", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_redemption(profile_id: str) -> Response:
    access = _member(profile_id, "member:redeem")
    profile_id = access.profile_id
    body = _body()
    channel = _channel(access.till, body)
    request = RedeemRequest.model_validate(body)
    book = loyalty_wiring.get_loyalty_book()
    entry_id = f"redeem:{request.request_id}"
    recorded = book.record(
        profile_id,
        lambda account: redeem(
            account,
            entry_id=entry_id,
            points=request.points,
            now=book.clock.now(),
            rules=book.rules,
            channel=channel,
            reason=request.reason,
        ),
        entry_id=entry_id,
    )
    return _recorded(recorded)


@routes.route("/members/{profile_id}/points/adjustments", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_adjustment(profile_id: str) -> Response:
    _admin()
    request = AdjustRequest.model_validate(_body())
    book = loyalty_wiring.get_loyalty_book()
    entry_id = f"adjust:{request.request_id}"
    recorded = book.record(
        profile_id,
        lambda account: adjust(
            account,
            entry_id=entry_id,
            points=request.points,
            reason=request.reason,
            now=book.clock.now(),
            rules=book.rules,
        ),
        entry_id=entry_id,
    )
    return _recorded(recorded)


@routes.route("/members/{profile_id}/exchanges", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_exchange(profile_id: str) -> Response:
    profile_id = _member(profile_id, "member:exchange").profile_id
    request = ExchangeRequest.model_validate(_body())
    book, coupons = loyalty_wiring.get_loyalty_book(), loyalty_wiring.get_coupons()
    coupon, replayed = exchange_points(book, coupons, profile_id, request.definition_id, request.request_id)
    return Response(
        body={
            "coupon": coupon.view(book.clock.now()),
            "balance": book.account(profile_id).balance,
            "replayed": replayed,
        },
        status_code=200 if replayed else 201,
    )


@routes.route("/members/{profile_id}/coupons", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_member_coupon(profile_id: str) -> Response:
    _admin()
    request = IssueRequest.model_validate(_body())
    coupons = loyalty_wiring.get_coupons()
    coupon = coupons.issue(
        profile_id, request.definition_id, issue_key=request.issue_key, reason=request.reason
    )
    return Response(body=coupon.view(coupons.clock.now()), status_code=201)


@routes.route("/members/{profile_id}/referral-code", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_referral_code(profile_id: str) -> dict[str, Any]:
    profile_id = _member(profile_id, "member:referral").profile_id
    return {"referral_code": referral_code(loyalty_wiring.get_loyalty_book(), profile_id)}


@routes.route("/members/{profile_id}/referrer", methods=["PUT"])
@http_errors(challenge=BEARER_CHALLENGE)
def put_referrer(profile_id: str) -> dict[str, Any]:
    profile_id = _member(profile_id, "member:referral").profile_id
    request = ReferrerRequest.model_validate(_body())
    book = loyalty_wiring.get_loyalty_book()
    account = set_referrer(book, profile_id, request.code)
    return summary(account, now=book.clock.now(), rules=book.rules)


@routes.route("/coupon-definitions", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_definition() -> Response:
    _admin()
    definition = loyalty_wiring.get_coupons().create_definition(CouponDefinition.model_validate(_body()))
    return Response(
        body=definition.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/coupon-definitions/{definition.definition_id}"},
    )


@routes.route("/membership/summary", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_membership_summary() -> dict[str, Any]:
    """Members per tier, points outstanding, coupons issued and redeemed per definition, as the
    nightly loyalty run last computed them (`computed_at` null before its first run)."""
    _admin()
    return loyalty_wiring.get_membership_tallies().summary() or empty_summary()


@routes.route("/coupon-definitions", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def list_definitions() -> dict[str, Any]:
    _admin()
    return {
        "definitions": [d.model_dump(mode="json") for d in loyalty_wiring.get_loyalty_store().definitions()]
    }


@routes.route("/coupon-definitions/{definition_id}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_definition(definition_id: str) -> dict[str, Any]:
    _admin()
    return loyalty_wiring.get_coupons().definition(definition_id).model_dump(mode="json")


@routes.route("/coupon-definitions/{definition_id}", methods=["PATCH"])
@http_errors(challenge=BEARER_CHALLENGE)
def patch_definition(definition_id: str) -> dict[str, Any]:
    _admin()
    change = DefinitionChange.model_validate(_body())
    return loyalty_wiring.get_coupons().set_active(definition_id, change.active).model_dump(mode="json")


@routes.route("/coupons/{code}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def get_coupon(code: str) -> dict[str, Any]:
    """A till or the admin reads any code; a member (token, `member:read`) only their own."""
    authorization = routes.current_request.headers.get("authorization")
    claims = member_claims(authorization)
    if claims is None:
        sales_caller(authorization)
    coupons = loyalty_wiring.get_coupons()
    coupon = coupons.find(code)
    if claims is not None:
        claims.require("member:read")
        owner = survivor_id(coupon.profile_id, graph=customers_wiring.get_customer_graph())
        if owner != member_profile_id(claims):
            raise CouponNotFoundError("No such coupon code")  # as if unknown: codes are not probed
    return coupon.view(coupons.clock.now())


@routes.route("/coupons/{code}/validation", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_validation(code: str) -> dict[str, Any]:
    caller = _caller()
    body = _body()
    channel = _channel(caller, body)
    return loyalty_wiring.get_coupons().validate(code, CouponCheck.model_validate(body), channel=channel)


@routes.route("/coupons/{code}/redemptions", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_coupon_redemption(code: str) -> Response:
    caller = _caller()
    body = _body()
    channel = _channel(caller, body)
    redemption, replayed = loyalty_wiring.get_coupons().redeem(
        code,
        CouponCheck.model_validate(body),
        channel=channel,
        source_id=caller.source_id if caller is not None else None,
    )
    return Response(
        body={**redemption.model_dump(mode="json"), "replayed": replayed},
        status_code=200 if replayed else 201,
    )


@routes.route("/coupons/{code}/redemptions/{redemption_id}/reversal", methods=["POST"])
@http_errors(challenge=BEARER_CHALLENGE)
def post_coupon_reversal(code: str, redemption_id: str) -> dict[str, Any]:
    """Only the till's source that redeemed (or the admin key) gives a use back."""
    caller = _caller()
    source_id = caller.source_id if caller is not None else None
    return (
        loyalty_wiring.get_coupons().reverse(code, redemption_id, source_id=source_id).model_dump(mode="json")
    )
