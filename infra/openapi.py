"""The public contract: `openapi.json`, generated from the pydantic models and the route table.
`python -m infra.openapi` rewrites it; a test fails if the committed file and the code differ.

Over 600 lines on purpose: it is declarative data, the route table of one document, read top to
bottom in the order of the API reference; the per-capability path groups are its functions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from functions.api.routes.appointments import Move, Outcome
from functions.api.routes.campaigns import NewCampaign, NewJourney
from functions.api.routes.members import DefinitionChange, ExchangeRequest, IssueRequest, ReferrerRequest
from shared.domain.appointments.bookings import BookingRequest
from shared.domain.appointments.schedule import Location as AppointmentLocation
from shared.domain.appointments.schedule import ServiceType
from shared.domain.commerce.pricing import PriceChange, Promotion
from shared.domain.commerce.sales_channels import ChannelChange, LocationChange
from shared.domain.commerce.stock import (
    AdjustmentRequest,
    CommitRequest,
    CountRequest,
    ReservationRequest,
    StockSettingsChange,
)
from shared.domain.engagement.frequency import FrequencyPolicy
from shared.domain.engagement.plans import EXPOSURE_COLUMNS, MAX_EXPOSURE_ROWS, ContactPlanChange
from shared.domain.ingest.channels.standard import StandardWebhookPayload
from shared.domain.ingest.sources import NewSource, SourceChange
from shared.domain.ingest.touchpoints import SegmentCall, Source, Touchpoint
from shared.domain.kernel.identifiers import IdentifierType
from shared.domain.loyalty.book import AdjustRequest, RedeemRequest
from shared.domain.loyalty.coupons import CouponCheck, CouponDefinition
from shared.domain.segments.live import SegmentChange
from shared.error_envelope import ErrorEnvelope

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi.json"
REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {"description": "Error envelope", **_json(_ref("ErrorEnvelope"))} for status in statuses
    }


SOURCE_ID = {"name": "source_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _header(name: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}


def build() -> dict[str, Any]:
    _, definitions = models_json_schema(
        [
            (SegmentCall, "validation"),
            (NewSource, "validation"),
            (SourceChange, "validation"),
            (Source, "serialization"),
            (Touchpoint, "serialization"),
            (StandardWebhookPayload, "validation"),
            (ErrorEnvelope, "serialization"),
            (CouponDefinition, "validation"),
            (CouponCheck, "validation"),
            (RedeemRequest, "validation"),
            (AdjustRequest, "validation"),
            (ExchangeRequest, "validation"),
            (IssueRequest, "validation"),
            (ReferrerRequest, "validation"),
            (DefinitionChange, "validation"),
            (LocationChange, "validation"),
            (ChannelChange, "validation"),
            (CountRequest, "validation"),
            (AdjustmentRequest, "validation"),
            (StockSettingsChange, "validation"),
            (ReservationRequest, "validation"),
            (CommitRequest, "validation"),
            (PriceChange, "validation"),
            (Promotion, "validation"),
            (FrequencyPolicy, "validation"),
            (NewCampaign, "validation"),
            (NewJourney, "validation"),
            (SegmentChange, "validation"),
            (ServiceType, "validation"),
            (AppointmentLocation, "validation"),
            (BookingRequest, "validation"),
            (Move, "validation"),
            (Outcome, "validation"),
            (ContactPlanChange, "validation"),
        ],
        by_alias=True,
        ref_template=REF,
    )
    schemas: dict[str, Any] = definitions["$defs"]
    single = json.loads(json.dumps(schemas["SegmentCall"]))
    single["properties"].pop("type")
    single["required"] = [name for name in single.get("required", []) if name != "type"]
    single["properties"]["writeKey"] = {"type": "string"}
    schemas["SegmentCallBody"] = single
    schemas["SegmentBatch"] = {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {"type": "array", "items": _ref("SegmentCall"), "maxItems": 2500},
            "context": {"type": "object"},
            "integrations": {"type": "object"},
            "sentAt": {"type": "string", "format": "date-time"},
            "writeKey": {"type": "string"},
        },
    }
    segment_ok = {"200": {"description": "Accepted", **_json({"type": "object"})}}
    paths: dict[str, Any] = {}
    for call in ("identify", "track", "page", "screen", "group", "alias"):
        paths[f"/v1/{call}"] = {
            "post": {
                "summary": f"Segment {call} call",
                "tags": ["tracking"],
                "security": [{"writeKey": []}],
                "requestBody": {"required": True, **_json(_ref("SegmentCallBody"))},
                "responses": {**segment_ok, **_errors(400, 401, 403, 413, 503)},
            }
        }
    paths["/v1/batch"] = {
        "post": {
            "summary": "Segment batch: good events are accepted, each bad one is reported with its index",
            "tags": ["tracking"],
            "security": [{"writeKey": []}],
            "requestBody": {"required": True, **_json(_ref("SegmentBatch"))},
            "responses": {**segment_ok, **_errors(400, 401, 403, 413, 503)},
        }
    }
    received = {"200": {"description": "Received", **_json({"type": "object"})}}
    webhook_errors = _errors(400, 401, 403, 404, 413, 503)
    paths["/webhooks/shopify/{source_id}"] = {
        "post": {
            "summary": "Shopify-style webhook (X-Shopify-Hmac-Sha256 over the raw body)",
            "tags": ["webhooks"],
            "parameters": [
                SOURCE_ID,
                _header("X-Shopify-Hmac-Sha256"),
                _header("X-Shopify-Topic"),
                _header("X-Shopify-Event-Id"),
            ],
            "requestBody": {"required": True, **_json({"type": "object"})},
            "responses": {**received, **webhook_errors},
        }
    }
    paths["/webhooks/standard/{source_id}"] = {
        "post": {
            "summary": "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)",
            "tags": ["webhooks"],
            "parameters": [
                SOURCE_ID,
                _header("webhook-id"),
                _header("webhook-timestamp"),
                _header("webhook-signature"),
            ],
            "requestBody": {"required": True, **_json(_ref("StandardWebhookPayload"))},
            "responses": {**received, **webhook_errors},
        }
    }
    wechat_query = [
        {"name": name, "in": "query", "required": True, "schema": {"type": "string"}}
        for name in ("signature", "timestamp", "nonce")
    ]
    paths["/webhooks/wechat/{source_id}"] = {
        "get": {
            "summary": "WeChat server check: answers echostr",
            "tags": ["webhooks"],
            "parameters": [
                SOURCE_ID,
                *wechat_query,
                {"name": "echostr", "in": "query", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {"description": "echostr", "content": {"text/plain": {"schema": {"type": "string"}}}},
                **webhook_errors,
            },
        },
        "post": {
            "summary": "WeChat message or event (XML; safe mode adds encrypt_type=aes and msg_signature)",
            "tags": ["webhooks"],
            "parameters": [SOURCE_ID, *wechat_query],
            "requestBody": {"required": True, "content": {"text/xml": {"schema": {"type": "string"}}}},
            "responses": {
                "200": {"description": "success", "content": {"text/plain": {"schema": {"type": "string"}}}},
                **webhook_errors,
            },
        },
    }
    paths["/webhooks/ses/{source_id}"] = {
        "post": {
            "summary": "SES events via SNS (SNS message signature, pinned topic)",
            "tags": ["webhooks"],
            "parameters": [SOURCE_ID],
            "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}},
            "responses": {**received, **webhook_errors},
        }
    }
    admin: list[dict[str, list[str]]] = [{"adminKey": []}]
    paths["/sources"] = {
        "post": {
            "summary": "Register a source; its write key or signing secret is in this answer only",
            "tags": ["admin"],
            "security": admin,
            "requestBody": {"required": True, **_json(_ref("NewSource"))},
            "responses": {
                "201": {"description": "Created", **_json({"type": "object"})},
                **_errors(400, 401, 409),
            },
        },
        "get": {
            "summary": "List sources (never their credentials)",
            "tags": ["admin"],
            "security": admin,
            "responses": {"200": {"description": "Sources", **_json({"type": "object"})}, **_errors(401)},
        },
    }
    paths["/sources/{source_id}"] = {
        "get": {
            "summary": "One source",
            "tags": ["admin"],
            "security": admin,
            "parameters": [SOURCE_ID],
            "responses": {"200": {"description": "Source", **_json(_ref("Source"))}, **_errors(401, 404)},
        },
        "patch": {
            "summary": "Rename, enable or disable a source",
            "tags": ["admin"],
            "security": admin,
            "parameters": [SOURCE_ID],
            "requestBody": {"required": True, **_json(_ref("SourceChange"))},
            "responses": {
                "200": {"description": "Source", **_json(_ref("Source"))},
                **_errors(400, 401, 404),
            },
        },
    }
    paths["/sources/{source_id}/signing-secrets"] = {
        "post": {
            "summary": "Rotate the signing secret (the previous one stays valid until the next rotation)",
            "tags": ["admin"],
            "security": admin,
            "parameters": [SOURCE_ID],
            "responses": {
                "201": {"description": "The new secret", **_json({"type": "object"})},
                **_errors(400, 401, 404),
            },
        },
    }
    paths["/touchpoints/{message_id}"] = {
        "get": {
            "summary": "An archived touchpoint",
            "tags": ["admin"],
            "security": admin,
            "parameters": [
                {"name": "message_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {"description": "Touchpoint", **_json(_ref("Touchpoint"))},
                **_errors(401, 404),
            },
        },
    }
    profile_id = {"name": "profile_id", "in": "path", "required": True, "schema": {"type": "string"}}
    profile = {"200": {"description": "Profile", **_json({"type": "object"})}}
    identifier_query = [
        {"name": kind.value, "in": "query", "required": False, "schema": {"type": "string"}}
        for kind in IdentifierType
    ]
    paths["/profiles"] = {
        "get": {
            "summary": "Look a profile up by exactly one identifier (normalised as at ingest)",
            "tags": ["profiles"],
            "security": admin,
            "parameters": [
                *identifier_query,
                {"name": "country_code", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "responses": {**profile, **_errors(400, 401, 404)},
        }
    }
    paths["/profiles/{profile_id}"] = {
        "get": {
            "summary": "A profile (a merged profile's id answers with the survivor)",
            "tags": ["profiles"],
            "security": admin,
            "parameters": [profile_id],
            "responses": {**profile, **_errors(401, 404)},
        }
    }
    paths["/profiles/{profile_id}/touchpoints"] = {
        "get": {
            "summary": "The profile's recent touchpoints, newest first",
            "tags": ["profiles"],
            "security": admin,
            "parameters": [
                profile_id,
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                },
            ],
            "responses": {
                "200": {"description": "Touchpoints", **_json({"type": "object"})},
                **_errors(400, 401, 404),
            },
        }
    }
    paths["/profiles/{profile_id}/merges"] = {
        "get": {
            "summary": "The merge log of merges this profile survived",
            "tags": ["profiles"],
            "security": admin,
            "parameters": [profile_id],
            "responses": {"200": {"description": "Merges", **_json({"type": "object"})}, **_errors(401, 404)},
        }
    }
    paths["/profiles/{profile_id}/merges/{merge_id}/unmerge"] = {
        "post": {
            "summary": "Undo a merge: both profiles restored from the log, never merged again",
            "tags": ["profiles"],
            "security": admin,
            "parameters": [
                profile_id,
                {"name": "merge_id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {"description": "Both profiles", **_json({"type": "object"})},
                **_errors(401, 404, 409),
            },
        }
    }
    segment_id = {"name": "segment_id", "in": "path", "required": True, "schema": {"type": "string"}}
    anything = {"type": "object"}
    segment_body = {
        "type": "object",
        "required": ["segment_id", "name", "rule"],
        "properties": {
            "segment_id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"},
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": {"type": "string", "maxLength": 2000},
            "rule": {"type": "object", "description": "The segment rule language (README: Segments)"},
        },
    }
    paths["/segments"] = {
        "post": {
            "summary": "Create a segment (the rule is validated; errors name their path)",
            "tags": ["segments"],
            "security": admin,
            "requestBody": {"required": True, **_json(segment_body)},
            "responses": {"201": {"description": "Created", **_json(anything)}, **_errors(400, 401, 409)},
        },
        "get": {
            "summary": "Every segment",
            "tags": ["segments"],
            "security": admin,
            "responses": {"200": {"description": "Segments", **_json(anything)}, **_errors(401)},
        },
    }
    paths["/segments/preview"] = {
        "post": {
            "summary": "How many would match a rule, before saving it (exact or from a sample)",
            "tags": ["segments"],
            "security": admin,
            "requestBody": {"required": True, **_json({"type": "object", "required": ["rule"]})},
            "responses": {"200": {"description": "Estimate", **_json(anything)}, **_errors(400, 401)},
        }
    }
    paths["/segments/{segment_id}"] = {
        "get": {
            "summary": "A segment and its member count",
            "tags": ["segments"],
            "security": admin,
            "parameters": [segment_id],
            "responses": {"200": {"description": "Segment", **_json(anything)}, **_errors(401, 404)},
        },
        "patch": {
            "summary": "Change a segment's name, description or rule (a field left out, or null, is kept)",
            "tags": ["segments"],
            "security": admin,
            "parameters": [segment_id],
            "requestBody": {"required": True, **_json(_ref("SegmentChange"))},
            "responses": {
                "200": {"description": "Segment", **_json(anything)},
                **_errors(400, 401, 404, 409),
            },
        },
        "delete": {
            "summary": "Delete a segment (its members leave as they are next evaluated)",
            "tags": ["segments"],
            "security": admin,
            "parameters": [segment_id],
            "responses": {"204": {"description": "Deleted"}, **_errors(401, 404)},
        },
    }
    paths["/segments/{segment_id}/members"] = {
        "get": {
            "summary": "A page of member profile ids (cursor in `next`)",
            "tags": ["segments"],
            "security": admin,
            "parameters": [
                segment_id,
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
                {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "responses": {"200": {"description": "Members", **_json(anything)}, **_errors(400, 401, 404)},
        }
    }
    paths["/profiles/{profile_id}/segments"] = {
        "get": {
            "summary": "A profile's segments and its classification (RFMCL, stage, tier, price sensitivity)",
            "tags": ["segments"],
            "security": admin,
            "parameters": [profile_id],
            "responses": {"200": {"description": "Segments", **_json(anything)}, **_errors(401, 404)},
        }
    }
    paths["/segments/recompute"] = {
        "post": {
            "summary": "Start the recompute now (it also runs nightly)",
            "tags": ["segments"],
            "security": admin,
            "responses": {"202": {"description": "The job", **_json(anything)}, **_errors(401)},
        }
    }
    paths["/segments/recompute/{job_id}"] = {
        "get": {
            "summary": "A recompute's phase and progress",
            "tags": ["segments"],
            "security": admin,
            "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The job", **_json(anything)}, **_errors(401, 404)},
        }
    }
    paths["/segments/{segment_id}/exports"] = {
        "post": {
            "summary": "Export the segment as hashed emails and phones for an ad platform (background job)",
            "tags": ["segments"],
            "security": admin,
            "parameters": [segment_id],
            "requestBody": {
                "required": False,
                **_json(
                    {
                        "type": "object",
                        "properties": {"format": {"type": "string", "enum": ["google", "meta"]}},
                        "additionalProperties": False,
                    }
                ),
            },
            "responses": {
                "202": {"description": "The export job", **_json(anything)},
                **_errors(400, 401, 404),
            },
        }
    }
    paths["/segments/{segment_id}/exports/{export_id}"] = {
        "get": {
            "summary": "An export's progress; when done, a time-limited download link",
            "tags": ["segments"],
            "security": admin,
            "parameters": [
                segment_id,
                {"name": "export_id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {"200": {"description": "The export", **_json(anything)}, **_errors(400, 401, 404)},
        }
    }
    paths["/privacy/erasures"] = {
        "post": {
            "summary": "Erase a person by any identifier: suppressed at once, data removed by a job",
            "tags": ["privacy"],
            "security": admin,
            "requestBody": {
                "required": True,
                **_json(
                    {
                        "type": "object",
                        "required": ["type", "value"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"type": "string", "enum": [kind.value for kind in IdentifierType]},
                            "value": {"type": "string", "minLength": 1, "maxLength": 255},
                            "country_code": {"type": "string", "pattern": "^[1-9][0-9]{0,2}$"},
                        },
                    }
                ),
            },
            "responses": {
                "202": {"description": "The request (audit record)", **_json({"type": "object"})},
                **_errors(400, 401),
            },
        }
    }
    paths["/privacy/erasures/{request_id}"] = {
        "get": {
            "summary": "An erasure request: status, sweeps, what was removed (hashes only, no PII)",
            "tags": ["privacy"],
            "security": admin,
            "parameters": [
                {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {"description": "The request", **_json({"type": "object"})},
                **_errors(401, 404),
            },
        }
    }
    paths["/privacy/export"] = {
        "get": {
            "summary": "Everything held about a person (access request), by exactly one identifier",
            "tags": ["privacy"],
            "security": admin,
            "parameters": [
                *identifier_query,
                {"name": "country_code", "in": "query", "required": False, "schema": {"type": "string"}},
                {
                    "name": "offset",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 0},
                },
            ],
            "responses": {
                "200": {"description": "The export", **_json({"type": "object"})},
                **_errors(400, 401, 404),
            },
        }
    }
    _membership_paths(paths, admin)
    _inventory_paths(paths, admin)
    _campaign_paths(paths, admin)
    _appointment_paths(paths, admin)
    _recommendation_and_plan_paths(paths, admin)
    _console_paths(paths, admin)
    paths["/health"] = {
        "get": {
            "summary": "Liveness",
            "tags": ["ops"],
            "responses": {"200": {"description": "ok", **_json({"type": "object"})}},
        }
    }
    paths["/reference"] = {
        "get": {
            "summary": "This document as an HTML page for a browser",
            "tags": ["ops"],
            "responses": {
                "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
            },
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "summary": "This document",
            "tags": ["ops"],
            "responses": {"200": {"description": "OpenAPI 3.1", **_json({"type": "object"})}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Omnireach",
            "version": "1",
            "description": "Omnichannel precision-marketing engine.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "writeKey": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The source write key as username",
                },
                "adminKey": {"type": "http", "scheme": "bearer", "description": "The admin API key"},
            },
        },
    }


def _membership_paths(paths: dict[str, Any], admin: Any) -> None:
    """Membership routes; `channel` ones also take a source's write key (the till's channel key)."""
    channel: list[dict[str, list[str]]] = [{"adminKey": []}, {"writeKey": []}]

    def param(name: str) -> dict[str, Any]:
        return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}

    def op(
        summary: str, security: Any, params: list[str], body: str | None, ok: str, errors: tuple[int, ...]
    ) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "summary": summary,
            "tags": ["membership"],
            "security": security,
            "parameters": [param(name) for name in params],
            "responses": {ok: {"description": "OK", **_json({"type": "object"})}, **_errors(*errors)},
        }
        if body:
            operation["requestBody"] = {"required": True, **_json(_ref(body))}
        return operation

    member = ["profile_id"]
    paths["/members/{profile_id}"] = {
        "get": op(
            "Member summary: tier, balance, expiring points, coupons",
            channel,
            member,
            None,
            "200",
            (401, 403),
        )
    }
    ledger = op("Ledger entries, newest first (cursor: next_before)", admin, member, None, "200", (400, 401))
    ledger["parameters"] += [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
        },
        {"name": "before", "in": "query", "required": False, "schema": {"type": "integer"}},
    ]
    paths["/members/{profile_id}/ledger"] = {"get": ledger}
    paths["/members/{profile_id}/points/redemptions"] = {
        "post": op(
            "Spend points (once per request_id)",
            channel,
            member,
            "RedeemRequest",
            "201",
            (400, 401, 403, 422),
        )
    }
    paths["/members/{profile_id}/points/adjustments"] = {
        "post": op(
            "Operator correction (once per request_id)",
            admin,
            member,
            "AdjustRequest",
            "201",
            (400, 401, 422),
        )
    }
    paths["/members/{profile_id}/exchanges"] = {
        "post": op(
            "Buy a coupon with points", channel, member, "ExchangeRequest", "201", (400, 401, 403, 404, 422)
        )
    }
    paths["/members/{profile_id}/coupons"] = {
        "post": op(
            "Issue a coupon (once per issue_key)", admin, member, "IssueRequest", "201", (400, 401, 404, 422)
        )
    }
    paths["/members/{profile_id}/referral-code"] = {
        "post": op("The member's referral code (created once)", channel, member, None, "200", (401, 403))
    }
    paths["/members/{profile_id}/referrer"] = {
        "put": op(
            "Name the referrer by code", channel, member, "ReferrerRequest", "200", (400, 401, 403, 422)
        )
    }
    paths["/coupon-definitions"] = {
        "post": op("Create a coupon definition", admin, [], "CouponDefinition", "201", (400, 401, 409)),
        "get": op("Coupon definitions", admin, [], None, "200", (401,)),
    }
    paths["/coupon-definitions/{definition_id}"] = {
        "get": op("A coupon definition", admin, ["definition_id"], None, "200", (401, 404)),
        "patch": op(
            "Switch a definition on or off",
            admin,
            ["definition_id"],
            "DefinitionChange",
            "200",
            (400, 401, 404),
        ),
    }
    paths["/coupons/{code}"] = {
        "get": op("A coupon and its uses", channel, ["code"], None, "200", (401, 403, 404))
    }
    paths["/coupons/{code}/validation"] = {
        "post": op(
            "The discount this order gets, or why not",
            channel,
            ["code"],
            "CouponCheck",
            "200",
            (400, 401, 403, 404, 422),
        )
    }
    paths["/coupons/{code}/redemptions"] = {
        "post": op(
            "Redeem once (replays answer 200)",
            channel,
            ["code"],
            "CouponCheck",
            "201",
            (400, 401, 403, 404, 422),
        )
    }
    paths["/coupons/{code}/redemptions/{redemption_id}/reversal"] = {
        "post": op(
            "Give a use back (refund)", channel, ["code", "redemption_id"], None, "200", (401, 403, 404)
        )
    }


def _inventory_paths(paths: dict[str, Any], admin: Any) -> None:
    """Inventory and pricing; `channel` routes also take the write key of the source a sales
    channel names (the till's or checkout's channel key)."""
    channel: list[dict[str, list[str]]] = [{"adminKey": []}, {"writeKey": []}]

    def param(name: str, where: str = "path") -> dict[str, Any]:
        return {"name": name, "in": where, "required": where == "path", "schema": {"type": "string"}}

    def op(
        summary: str,
        security: Any,
        params: list[str],
        body: str | None,
        ok: str,
        errors: tuple[int, ...],
        *,
        query: tuple[str, ...] = (),
        tag: str = "inventory",
    ) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "summary": summary,
            "tags": [tag],
            "security": security,
            "parameters": [param(name) for name in params] + [param(name, "query") for name in query],
            "responses": {ok: {"description": "OK", **_json({"type": "object"})}, **_errors(*errors)},
        }
        if body:
            operation["requestBody"] = {"required": True, **_json(_ref(body))}
        return operation

    stock = ["sku", "location_id"]
    paths["/inventory/locations/{location_id}"] = {
        "put": op(
            "Create or replace a location (warehouse or store)",
            admin,
            ["location_id"],
            "LocationChange",
            "200",
            (400, 401),
        )
    }
    paths["/inventory/locations"] = {"get": op("Every location", admin, [], None, "200", (401,))}
    paths["/inventory/channels/{channel_id}"] = {
        "put": op(
            "Create or replace a sales channel: its locations, rules and endpoint (the signing secret is "
            "returned once, when made or rotated)",
            admin,
            ["channel_id"],
            "ChannelChange",
            "200",
            (400, 401),
        )
    }
    paths["/inventory/channels"] = {
        "get": op("Every sales channel (no secrets)", admin, [], None, "200", (401,))
    }
    paths["/inventory/stock/{sku}/{location_id}"] = {
        "put": op(
            "Absolute count (compare-and-set with expected_on_hand; an older counted_at is ignored)",
            admin,
            stock,
            "CountRequest",
            "200",
            (400, 401, 404, 409),
        )
    }
    paths["/inventory/stock/{sku}/{location_id}/adjustments"] = {
        "post": op(
            "Relative adjustment, once per request_id",
            admin,
            stock,
            "AdjustmentRequest",
            "201",
            (400, 401, 404),
        )
    }
    paths["/inventory/stock/{sku}/{location_id}/settings"] = {
        "put": op(
            "Safety stock, incoming, and counter buckets for a hot SKU",
            admin,
            stock,
            "StockSettingsChange",
            "200",
            (400, 401, 404),
        )
    }
    paths["/inventory/stock/{sku}/{location_id}/movements"] = {
        "get": op(
            "The movement ledger, newest first (cursor: next_before)",
            admin,
            stock,
            None,
            "200",
            (400, 401),
            query=("limit", "before"),
        )
    }
    paths["/inventory/availability/{sku}"] = {
        "get": op(
            "Availability per location and published per channel, with prices",
            channel,
            ["sku"],
            None,
            "200",
            (400, 401, 403, 404),
            query=("channel",),
        )
    }
    paths["/inventory/reservations"] = {
        "post": op(
            "Reserve a cart, all or nothing (pickup_location_id: only that store); 200 on a replay",
            channel,
            [],
            "ReservationRequest",
            "201",
            (400, 401, 403, 404, 409),
        )
    }
    reservation = ["reservation_id"]
    paths["/inventory/reservations/{reservation_id}"] = {
        "get": op("A reservation", channel, reservation, None, "200", (400, 401, 403, 404))
    }
    paths["/inventory/reservations/{reservation_id}/commit"] = {
        "post": op(
            "The order is placed: the held units are sold",
            channel,
            reservation,
            "CommitRequest",
            "200",
            (400, 401, 403, 404, 409),
        )
    }
    paths["/inventory/reservations/{reservation_id}/release"] = {
        "post": op("Give the held units back", channel, reservation, None, "200", (400, 401, 403, 404, 409))
    }
    paths["/inventory/reconciliation"] = {
        "get": op("Latest reconciliation reports", admin, [], None, "200", (400, 401), query=("limit",))
    }
    paths["/prices/{sku}"] = {
        "put": op(
            "Set a SKU's base price, currency, category and channel overrides",
            admin,
            ["sku"],
            "PriceChange",
            "200",
            (400, 401),
            tag="pricing",
        ),
        "get": op(
            "Effective price per channel, now or at `at`",
            channel,
            ["sku"],
            None,
            "200",
            (400, 401, 403, 404),
            query=("channel", "at"),
            tag="pricing",
        ),
    }
    paths["/promotions/{promotion_id}"] = {
        "put": op(
            "Create or replace a promotion",
            admin,
            ["promotion_id"],
            "Promotion",
            "200",
            (400, 401),
            tag="pricing",
        ),
        "delete": op(
            "Delete a promotion", admin, ["promotion_id"], None, "204", (400, 401, 404), tag="pricing"
        ),
    }
    paths["/promotions"] = {"get": op("Every promotion", admin, [], None, "200", (401,), tag="pricing")}


def _campaign_paths(paths: dict[str, Any], admin: Any) -> None:
    """Campaigns, journeys, the frequency policy, reports, the inbox and one-click unsubscribe."""
    channel: list[dict[str, list[str]]] = [{"adminKey": []}, {"writeKey": []}]

    def op(
        summary: str,
        security: Any,
        params: list[str],
        body: str | None,
        ok: str,
        errors: tuple[int, ...],
        tag: str = "campaigns",
        media: str = "application/json",
    ) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "summary": summary,
            "tags": [tag],
            "security": security,
            "parameters": [
                {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in params
            ],
            "responses": {
                ok: {
                    "description": "OK",
                    "content": {
                        media: {"schema": {"type": "object" if media.endswith("json") else "string"}}
                    },
                },
                **_errors(*errors),
            },
        }
        if body:
            operation["requestBody"] = {"required": True, **_json(_ref(body))}
        return operation

    paths["/frequency-policy"] = {
        "get": op(
            "The frequency policy: caps, quiet hours, default timezone, attribution windows, costs",
            admin,
            [],
            None,
            "200",
            (401,),
        ),
        "put": op("Replace the frequency policy", admin, [], "FrequencyPolicy", "200", (400, 401)),
    }
    paths["/campaigns"] = {
        "post": op("Create a campaign (draft)", admin, [], "NewCampaign", "201", (400, 401, 404, 409)),
        "get": op("Every campaign", admin, [], None, "200", (401,)),
    }
    cid = ["campaign_id"]
    paths["/campaigns/{campaign_id}"] = {"get": op("A campaign", admin, cid, None, "200", (400, 401, 404))}
    for action, summary in (
        ("launch", "Launch (or resume) a campaign"),
        ("pause", "Pause: nothing more is sent; waiting sends are parked"),
        ("resume", "Resume from where it stopped (no resends, no skips)"),
        ("cancel", "Cancel: the rest are suppressed as cancelled"),
    ):
        paths[f"/campaigns/{{campaign_id}}/{action}"] = {
            "post": op(summary, admin, cid, None, "200", (400, 401, 404, 409))
        }
    paths["/campaigns/{campaign_id}/report"] = {
        "get": op(
            "Audience, outcomes, conversions, revenue, holdout, lift (95 % interval), cost, ROI",
            admin,
            cid,
            None,
            "200",
            (400, 401, 404),
        )
    }
    paths["/campaigns/{campaign_id}/outcomes.csv"] = {
        "get": op(
            "Every targeted customer's outcome, as CSV",
            admin,
            cid,
            None,
            "200",
            (400, 401, 404),
            media="text/csv",
        )
    }
    paths["/journey-templates"] = {
        "get": op("The shipped journey templates", admin, [], None, "200", (401,), tag="journeys")
    }
    paths["/journeys"] = {
        "post": op(
            "Create a journey from a template or a definition",
            admin,
            [],
            "NewJourney",
            "201",
            (400, 401, 404, 409),
            tag="journeys",
        ),
        "get": op("Every journey", admin, [], None, "200", (401,), tag="journeys"),
    }
    jid = ["journey_id"]
    paths["/journeys/{journey_id}"] = {
        "get": op("A journey", admin, jid, None, "200", (400, 401, 404), tag="journeys")
    }
    paths["/journeys/{journey_id}/pause"] = {
        "post": op("Pause (timers wait)", admin, jid, None, "200", (400, 401, 404), tag="journeys")
    }
    paths["/journeys/{journey_id}/resume"] = {
        "post": op("Resume", admin, jid, None, "200", (400, 401, 404), tag="journeys")
    }
    paths["/journeys/{journey_id}/report"] = {
        "get": op("Outcomes and conversions", admin, jid, None, "200", (400, 401, 404), tag="journeys")
    }
    paths["/journeys/{journey_id}/outcomes.csv"] = {
        "get": op(
            "Every send's outcome, as CSV",
            admin,
            jid,
            None,
            "200",
            (400, 401, 404),
            tag="journeys",
            media="text/csv",
        )
    }
    paths["/inbox/{profile_id}"] = {
        "get": op("The in-app inbox, newest first", channel, ["profile_id"], None, "200", (401, 403))
    }
    paths["/unsubscribe/{token}"] = {
        "get": op("What the link unsubscribes from (changes nothing)", [], ["token"], None, "200", (400,)),
        "post": op("One-click unsubscribe (RFC 8058)", [], ["token"], None, "200", (400,)),
    }


def _appointment_paths(paths: dict[str, Any], admin: Any) -> None:
    """Service types and locations (admin), slots (any key), bookings (admin, a server-side
    channel's key, or the member's token with `member:book`), outcomes (console or signed webhook)."""
    anyone: list[dict[str, list[str]]] = [{"adminKey": []}, {"writeKey": []}]

    def op(
        summary: str, security: Any, params: list[str], body: str | None, ok: str, errors: tuple[int, ...]
    ) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "summary": summary,
            "tags": ["appointments"],
            "security": security,
            "parameters": [
                {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in params
            ],
            "responses": {ok: {"description": "OK", **_json({"type": "object"})}, **_errors(*errors)},
        }
        if body:
            operation["requestBody"] = {"required": True, **_json(_ref(body))}
        return operation

    paths["/appointment-services"] = {
        "get": op("Every service type (any key: it names nobody)", anyone, [], None, "200", (401,))
    }
    paths["/appointment-services/{service_id}"] = {
        "put": op(
            "A service type: duration, buffer, cut-off, notice, horizon, the SKUs it is for",
            admin,
            ["service_id"],
            "ServiceType",
            "200",
            (400, 401),
        )
    }
    paths["/appointment-locations"] = {
        "get": op("Every location with its hours (any key)", anyone, [], None, "200", (401,))
    }
    paths["/appointment-locations/{location_id}"] = {
        "put": op(
            "A location: timezone, weekly hours, closures, special hours, capacity per service",
            admin,
            ["location_id"],
            "Location",
            "200",
            (400, 401),
        )
    }
    slots = op(
        "Bookable slots with places left (service_id, location_id, from, to: local dates, 31 days)",
        anyone,
        [],
        None,
        "200",
        (400, 401, 404),
    )
    slots["parameters"] = [
        {"name": name, "in": "query", "required": name != "to", "schema": {"type": "string"}}
        for name in ("service_id", "location_id", "from", "to")
    ]
    paths["/appointments/slots"] = {"get": slots}
    listing = op(
        "A customer's bookings (query: profile_id; a member token lists its own)",
        anyone,
        [],
        None,
        "200",
        (400, 401, 403),
    )
    listing["parameters"] = [
        {"name": "profile_id", "in": "query", "required": False, "schema": {"type": "string"}}
    ]
    paths["/appointments"] = {
        "post": op(
            "Book a slot (201; 200 when the same booking was made before; 409 slot_taken with alternatives)",
            anyone,
            [],
            "BookingRequest",
            "201",
            (400, 401, 403, 404, 409, 422),
        ),
        "get": listing,
    }
    bid = ["booking_id"]
    paths["/appointments/{booking_id}"] = {
        "get": op("A booking", anyone, bid, None, "200", (400, 401, 403, 404))
    }
    paths["/appointments/{booking_id}/reschedule"] = {
        "post": op(
            "Move to another slot (before the cut-off, unless the admin key)",
            anyone,
            bid,
            "Move",
            "200",
            (400, 401, 403, 404, 409, 422),
        )
    }
    paths["/appointments/{booking_id}/cancel"] = {
        "post": op(
            "Cancel and give the place back (before the cut-off, unless the admin key)",
            anyone,
            bid,
            None,
            "200",
            (400, 401, 403, 404, 422),
        )
    }
    for action, summary in (("attended", "Record that the customer came"), ("no-show", "Record a no-show")):
        paths[f"/appointments/{{booking_id}}/{action}"] = {
            "post": op(summary, admin, bid, None, "200", (400, 401, 404, 409, 422))
        }
    paths["/appointments/outcomes/{source_id}"] = {
        "post": op(
            "The location's system reports attended or no-show (Standard Webhooks signature)",
            [],
            ["source_id"],
            "Outcome",
            "200",
            (400, 401, 403, 404, 409, 422),
        )
    }


def path_params(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]


def query(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}} for n in names]


def ok(description: str) -> dict[str, Any]:
    return {"description": description, **_json({"type": "object"})}


def _recommendation_and_plan_paths(paths: dict[str, Any], admin: Any) -> None:
    """Next-best products (admin, a server-side source's key, or the member's own token with
    `member:read`); contact plans and the paid exposures reported back (admin)."""

    paths["/profiles/{profile_id}/recommendations"] = {
        "get": {
            "summary": "Next-best products: bought together, due again, popular; never out of stock "
            "where asked (channel: published there; location: sellable there), weighed by price "
            "sensitivity and tier",
            "tags": ["recommendations"],
            "security": [{"adminKey": []}, {"writeKey": []}],
            "parameters": path_params("profile_id") + query("channel", "location", "limit"),
            "responses": {"200": ok("Ranked SKUs with score and reason"), **_errors(400, 401, 403, 404)},
        }
    }
    tags = ["contact plans"]
    paths["/contact-plans"] = {
        "get": {
            "summary": "Every contact plan",
            "tags": tags,
            "security": admin,
            "responses": {"200": ok("Plans"), **_errors(401)},
        }
    }
    paths["/contact-plans/{plan_id}"] = {
        "put": {
            "summary": "A plan: a segment, a period, per channel (owned and paid) a target and a "
            "maximum per person",
            "tags": tags,
            "security": admin,
            "parameters": path_params("plan_id"),
            "requestBody": {"required": True, **_json(_ref("ContactPlanChange"))},
            "responses": {"200": ok("The plan"), **_errors(400, 401, 404)},
        },
        "get": {
            "summary": "A plan and its current period",
            "tags": tags,
            "security": admin,
            "parameters": path_params("plan_id"),
            "responses": {"200": ok("The plan"), **_errors(401, 404)},
        },
    }
    paths["/contact-plans/{plan_id}/refresh"] = {
        "post": {
            "summary": "Queue a refresh now (a daily schedule runs one): the report and each paid "
            "channel's sync",
            "tags": tags,
            "security": admin,
            "parameters": path_params("plan_id"),
            "responses": {"202": ok("Queued"), **_errors(401, 404)},
        }
    }
    paths["/contact-plans/{plan_id}/report"] = {
        "get": {
            "summary": "The period's report: per channel under / at target / over (adding up to the "
            "members), cross-channel totals, each paid sync's file",
            "tags": tags,
            "security": admin,
            "parameters": path_params("plan_id") + query("period"),
            "responses": {"200": ok("The report"), **_errors(400, 401, 404)},
        }
    }
    paths["/ad-exposures/{source}"] = {
        "post": {
            "summary": f"An ad platform's exposures as CSV ({', '.join(EXPOSURE_COLUMNS)}; at most "
            f"{MAX_EXPOSURE_ROWS} rows), matched to the people synced, counted once per exposure id",
            "tags": tags,
            "security": admin,
            "parameters": path_params("source"),
            "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}},
            "responses": {"200": ok("Rows, matched, unmatched, counted, people"), **_errors(400, 401, 413)},
        }
    }


def _console_paths(paths: dict[str, Any], admin: list[dict[str, list[str]]]) -> None:
    """What the console reads besides the routes above, and the console itself."""

    paths["/journeys/{journey_id}/waiting"] = {
        "get": {
            "summary": "How many customers wait at each step of the journey now",
            "tags": ["journeys"],
            "security": admin,
            "parameters": path_params("journey_id"),
            "responses": {"200": ok("steps with their waiting count, and the total"), **_errors(401, 404)},
        }
    }
    paths["/membership/summary"] = {
        "get": {
            "summary": "Members per tier, points outstanding, coupons issued and redeemed per "
            "definition, as the nightly loyalty run last summed them",
            "tags": ["membership"],
            "security": admin,
            "responses": {
                "200": ok("computed_at (null before the first run), members, tiers, coupons"),
                **_errors(401),
            },
        }
    }
    paths["/overview"] = {
        "get": {
            "summary": "Touchpoints per channel, profiles created and merges over the last 24 hours "
            "(hourly) and 7 days (daily), and the queue monitor's latest reading",
            "tags": ["ops"],
            "security": admin,
            "responses": {"200": ok("last_day, last_week, queues"), **_errors(401)},
        }
    }
    paths["/prices"] = {
        "get": {
            "summary": "Every priced SKU, a page at a time (limit 1-100, after: the previous page's next)",
            "tags": ["pricing"],
            "security": admin,
            "parameters": [
                {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}},
                {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "responses": {"200": ok("prices and next"), **_errors(400, 401)},
        }
    }
    paths["/campaigns/{campaign_id}/preview"] = {
        "post": {
            "summary": "The message one customer would get: the variant chosen for them, rendered with "
            "their data (nothing is sent, no coupon issued)",
            "tags": ["campaigns"],
            "security": admin,
            "parameters": path_params("campaign_id"),
            "requestBody": {
                "required": True,
                **_json(
                    {
                        "type": "object",
                        "required": ["profile_id"],
                        "properties": {"profile_id": {"type": "string"}, "channel": {"type": "string"}},
                        "additionalProperties": False,
                    }
                ),
            },
            "responses": {"200": ok("channel, variant_id, rendered"), **_errors(400, 401, 404)},
        }
    }
    paths["/profiles/{profile_id}/messages"] = {
        "get": {
            "summary": "What the customer was sent in the last 32 days, newest first, with each "
            "message's outcome",
            "tags": ["profiles"],
            "security": admin,
            "parameters": path_params("profile_id"),
            "responses": {"200": ok("messages"), **_errors(400, 401)},
        }
    }
    html = {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
    paths["/console"] = {
        "get": {
            "summary": "The web console (signs in with the admin key, which it keeps in the tab's "
            "session storage; it calls only this API)",
            "tags": ["ops"],
            "responses": {"200": html},
        }
    }
    paths["/console/{name}"] = {
        "get": {
            "summary": "One of the console's modules or its stylesheet",
            "tags": ["ops"],
            "parameters": path_params("name"),
            "responses": {
                "200": {
                    "description": "JavaScript or CSS",
                    "content": {"text/javascript": {"schema": {"type": "string"}}},
                },
                **_errors(404),
            },
        }
    }


def render() -> str:
    return json.dumps(build(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    OPENAPI_PATH.write_text(render())
    print(f"wrote {OPENAPI_PATH}", file=sys.stderr)
