"""Engagement's composition root: the engagement table, the dispatch queue, senders, and the
dispatcher, campaigns and journeys. Personalisation reaches loyalty (points, coupons), segments
(classification) and commerce (prices) here, through the ports engagement declares."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from shared import wiring
from shared.adapters.dynamo.engagement_table import DynamoEngagement
from shared.adapters.senders import HttpSender, InboxSender, SesSender, SnsSender
from shared.adapters.sqs.engagement import SqsDispatchQueue, SqsPlanQueue
from shared.domain.customers.profiles import Profile
from shared.domain.engagement.campaigns import CampaignService
from shared.domain.engagement.dispatch import Dispatcher
from shared.domain.engagement.journeys import Journeys
from shared.domain.engagement.messaging import Sender
from shared.domain.engagement.personalisation import ProfilePersonaliser
from shared.domain.engagement.plans import Exposure
from shared.domain.engagement.programs import CampaignRivals, StoredPrograms
from shared.domain.engagement.unsubscribe import seal_link
from shared.domain.ingest.touchpoints import Channel
from shared.settings import get_settings
from shared.wiring import appointments as appointments_wiring
from shared.wiring import built_once, server_touchpoints
from shared.wiring import commerce as commerce_wiring
from shared.wiring import customers as customers_wiring
from shared.wiring import ingest as ingest_wiring
from shared.wiring import loyalty as loyalty_wiring
from shared.wiring import recommendations as recommendations_wiring
from shared.wiring import segments as segments_wiring


@built_once
def get_engagement() -> DynamoEngagement:
    settings = get_settings()
    return DynamoEngagement(
        settings.require("engagement_table"), cache_seconds=settings.catalog_cache_seconds
    )


@built_once
def get_dispatch_queue() -> SqsDispatchQueue:
    return SqsDispatchQueue(get_settings().require("dispatch_queue_url"))


@built_once
def get_plan_queue() -> SqsPlanQueue:
    return SqsPlanQueue(get_settings().require("plan_queue_url"))


class ExposureTouchpoints:
    """Implements plans.ExposureTouchpoints: each exposure a touchpoint on the touchpoint queue."""

    def record(self, profile: Profile, exposures: Sequence[Exposure], source: str) -> None:
        ingest_wiring.get_touchpoint_queue().send_all(
            [
                server_touchpoints.touchpoint_about(
                    profile,
                    touchpoint_id="exposure:"
                    + hashlib.sha256(f"{source}:{exposure.exposure_id}".encode()).hexdigest()[:40],
                    source_id="ads",
                    event=f"Ad {exposure.kind.title()}",
                    channel=Channel.OTHER,
                    at=exposure.at,
                    properties={
                        "ad_channel": exposure.channel,
                        "exposure_id": exposure.exposure_id,
                        "source": source,
                    },
                )
                for exposure in exposures
            ]
        )


_senders: dict[str, Sender] = {}


def use_senders(senders: dict[str, Sender]) -> None:
    """Replace the senders (tests and the local stack's simulated providers)."""
    _senders.clear()
    _senders.update(senders)


def get_senders() -> dict[str, Sender]:
    if _senders:
        return dict(_senders)
    settings = get_settings()
    senders: dict[str, Sender] = {
        "email": SesSender(settings.ses_from_address),
        "sms": SnsSender("sms"),
        "push": SnsSender("push"),
        "inbox": InboxSender(get_engagement(), lambda: wiring.get_clock().now()),
    }
    if settings.wechat_gateway_url:
        senders["wechat"] = HttpSender(settings.wechat_gateway_url)
    if settings.message_webhook_url:
        senders["webhook"] = HttpSender(settings.message_webhook_url)
    return senders


def get_personaliser() -> ProfilePersonaliser:
    settings = get_settings()
    return ProfilePersonaliser(
        classifications=segments_wiring.get_segment_store() if settings.customers_table else None,
        accounts=loyalty_wiring.get_loyalty_store() if settings.customers_table else None,
        prices=commerce_wiring.CatalogPrices(),
        coupons=loyalty_wiring.get_coupons() if settings.customers_table else None,
        recommendations=recommendations_wiring.RecommendedSkus() if settings.recommendations_table else None,
    )


def unsubscribe_link(profile_id: str, channel: str, program_id: str) -> str | None:
    settings = get_settings()
    secrets = link_secrets()
    if not settings.public_api_url or not secrets:
        return None
    token = seal_link(secrets, profile_id, channel, now=wiring.get_clock().now())
    return f"{settings.public_api_url.rstrip('/')}/unsubscribe/{token}"


def link_secrets() -> list[str]:
    """The unsubscribe-link secrets, newest first (LINK_SIGNING_SECRETS)."""
    return [secret.strip() for secret in get_settings().link_signing_secrets.split(",") if secret.strip()]


def get_dispatcher() -> Dispatcher:
    engagement = get_engagement()
    return Dispatcher(
        store=engagement,
        programs=StoredPrograms(engagement),
        profiles=customers_wiring.get_customer_graph(),
        personaliser=get_personaliser(),
        senders=get_senders(),
        rivals=CampaignRivals(engagement, segments_wiring.get_segment_store()),
        clock=wiring.get_clock(),
        unsubscribe_url=unsubscribe_link,
    )


def get_campaign_service() -> CampaignService:
    return CampaignService(
        store=get_engagement(),
        queue=get_dispatch_queue(),
        audience=segments_wiring.get_segment_store(),
        clock=wiring.get_clock(),
        senders=get_senders(),
    )


def get_journeys() -> Journeys:
    engagement = get_engagement()
    return Journeys(
        store=engagement,
        queue=get_dispatch_queue(),
        profiles=customers_wiring.get_customer_graph(),
        clock=wiring.get_clock(),
        default_zone=engagement.policy().default_timezone,
        facts=get_personaliser().facts,
        opening=appointments_wiring.latest_open,
    )
