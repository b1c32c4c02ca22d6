"""Loyalty's composition root: the loyalty store and rules, coupons, the loyalty book."""

from __future__ import annotations

from pydantic import ValidationError

from shared import wiring
from shared.adapters.dynamo.loyalty_store import DynamoLoyaltyStore
from shared.adapters.dynamo.membership_tallies import DynamoMembershipTallies
from shared.domain.kernel.errors import ConfigurationError
from shared.domain.loyalty.book import LoyaltyBook
from shared.domain.loyalty.coupons import Coupons
from shared.domain.loyalty.ledger import LoyaltyRules
from shared.domain.loyalty.summary import MembershipTallies
from shared.settings import get_settings
from shared.wiring import built_once
from shared.wiring import customers as customers_wiring


@built_once
def get_loyalty_store() -> DynamoLoyaltyStore:
    customers_wiring.bind_customers_table()
    return DynamoLoyaltyStore()


@built_once
def get_membership_tallies() -> MembershipTallies:
    return DynamoMembershipTallies(get_settings().require("customers_table"))


@built_once
def get_loyalty_rules() -> LoyaltyRules:
    text = get_settings().loyalty_rules
    try:
        return LoyaltyRules.model_validate_json(text) if text.strip() else LoyaltyRules()
    except ValidationError as error:
        raise ConfigurationError(f"LOYALTY_RULES: {error}") from error


def get_coupons() -> Coupons:
    return Coupons(store=get_loyalty_store(), clock=wiring.get_clock())


def get_loyalty_book() -> LoyaltyBook:
    return LoyaltyBook(
        store=get_loyalty_store(),
        clock=wiring.get_clock(),
        rules=get_loyalty_rules(),
        publisher=wiring.get_event_publisher(),
        coupons=get_coupons(),
    )
