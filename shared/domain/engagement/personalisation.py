"""What a message may say about its customer: name, tier and points, segment and classification,
the product they last viewed, their next-best products (`recommended_sku`, `recommended_skus`),
a product's effective price, a coupon issued for this very send."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from shared.domain.customers.profiles import Profile
from shared.domain.engagement.models import Program


class Classifications(Protocol):
    def state(self, profile_id: str) -> Any: ...


class Accounts(Protocol):
    def account(self, profile_id: str) -> Any: ...


class Prices(Protocol):
    def price(self, sku: str, channel: str) -> tuple[str, str] | None:
        """(price, currency) on that channel now."""
        ...


class RecommendedProducts(Protocol):
    def skus(self, profile: Profile, *, limit: int) -> list[str]:
        """The customer's next-best products, best first (available somewhere, fit to them)."""
        ...


class CouponIssuer(Protocol):
    def issue_once(self, profile_id: str, definition_id: str, *, issue_key: str, reason: str) -> Any: ...


ACCOUNT_NAMES = frozenset({"points", "member_tier", "tier"})  # read from the loyalty account
CLASSIFICATION_NAMES = frozenset({"tier"})  # read from the segment state (the account's tier is the fallback)
RECOMMENDATION_NAMES = frozenset({"recommended_sku", "recommended_skus"})  # asked of recommendations
RECOMMENDED_IN_CONTENT = 3


@dataclass
class ProfilePersonaliser:
    classifications: Classifications | None = None
    accounts: Accounts | None = None
    prices: Prices | None = None
    coupons: CouponIssuer | None = None
    recommendations: RecommendedProducts | None = None

    def facts(self, profile: Profile) -> dict[str, set[str]]:
        state = self.classifications.state(profile.profile_id) if self.classifications else None
        facts: dict[str, set[str]] = {"segment": set(getattr(state, "segments", {}) or {})}
        summary = getattr(state, "classification", None)
        if summary is not None:
            facts["tier"] = {str(summary.tier.value)}
            facts["price_sensitivity"] = {str(summary.price_sensitivity.value)}
            facts["stage"] = {str(summary.stage.value)}
        return facts

    def context(
        self,
        profile: Profile,
        program: Program,
        channel: str,
        *,
        dispatch_key: str,
        issue_coupon: bool,
        names: Collection[str] | None = None,
        facts: dict[str, set[str]] | None = None,
    ) -> dict[str, Any]:
        """`names`: the placeholders the content uses (None: all), so only what they need is read
        (the loyalty account for points and tiers, the classification for the tier); `facts`: the
        customer's facts if already read."""
        wanted = (
            set(ACCOUNT_NAMES | CLASSIFICATION_NAMES | RECOMMENDATION_NAMES) if names is None else set(names)
        )
        context: dict[str, Any] = {
            "first_name": profile.trait("first_name") or profile.trait("name"),
            "last_name": profile.trait("last_name"),
            "orders": profile.orders,
            "last_viewed_sku": _last_viewed(profile),
            "store_open": program.store_hours.start if program.store_hours else None,
            "store_close": program.store_hours.end if program.store_hours else None,
        }
        if self.accounts is not None and wanted & ACCOUNT_NAMES:
            account = self.accounts.account(profile.profile_id)
            if account is not None:
                context["points"] = getattr(account, "balance", None)
                context["member_tier"] = getattr(account, "tier", None)
        if facts is None:
            facts = self.facts(profile) if self.classifications and wanted & CLASSIFICATION_NAMES else {}
        context["tier"] = next(iter(facts.get("tier", set())), None) or context.get("member_tier")
        if self.recommendations is not None and wanted & RECOMMENDATION_NAMES:
            skus = self.recommendations.skus(profile, limit=RECOMMENDED_IN_CONTENT)
            context["recommended_sku"] = skus[0] if skus else None
            context["recommended_skus"] = ", ".join(skus) if skus else None
        if program.sku and self.prices is not None:
            found = self.prices.price(program.sku, channel)
            if found:
                context["price"], context["currency"] = found
        if issue_coupon and program.coupon_definition_id and self.coupons is not None:
            key = "send:" + hashlib.sha256(dispatch_key.encode()).hexdigest()[:40]
            issued = self.coupons.issue_once(
                profile.profile_id, program.coupon_definition_id, issue_key=key, reason="campaign"
            )
            coupon = issued[0] if isinstance(issued, tuple) else issued
            context["coupon_code"] = coupon.code
        return context


def _last_viewed(profile: Profile) -> str | None:
    viewed = [
        (at, key.split("|", 1)[1])
        for key, at in profile.last_did.items()
        if key.startswith("Product Viewed|")
    ]
    return max(viewed)[1] if viewed else None
