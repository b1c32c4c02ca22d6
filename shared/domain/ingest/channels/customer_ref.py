"""How generic sources name the customer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shared.domain.kernel.identifiers import Identifier, IdentifierType, collect


class CustomerRef(BaseModel):
    """How generic sources (POS, call center, ...) name the customer."""

    model_config = ConfigDict(extra="ignore")

    user_id: str | int | None = None
    email: str | None = None
    phone: str | None = None
    anonymous_id: str | None = None
    device_id: str | None = None
    pos_customer_id: str | int | None = None
    loyalty_card: str | int | None = None
    shop_customer_id: str | int | None = None
    wechat_openid: str | None = None
    wechat_unionid: str | None = None

    def identifiers(self, *, default_country_code: str | None) -> list[Identifier]:
        return collect(
            [(IdentifierType(name), value) for name, value in self.model_dump().items()],
            default_country_code=default_country_code,
        )
