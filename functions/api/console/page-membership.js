// Membership: coupon definitions (what they give, where, whether active); a member looked up on
// the customer's page shows points, tier and coupons.
import { get } from "./api.js";
import { h, table } from "./dom.js";
import { date, money, number, t } from "./i18n.js";

export async function membershipPage() {
  const definitions = await get("/coupon-definitions");
  return h(
    "div",
    {},
    h("h1", {}, t("Membership")),
    h("h2", {}, t("Coupon definitions")),
    table(
      [t("Name"), t("Value"), t("Channel"), t("From"), t("To"), t("Points"), t("Active")],
      (definitions.definitions || []).map((d) => [
        d.name,
        d.discount_type === "percent" ? `${number(d.value)} %` : money(d.value, d.currency),
        (d.channels || []).join(", ") || "*",
        date(d.valid_from),
        date(d.valid_until),
        d.points_price ? number(d.points_price) : "–",
        d.active ? t("Yes") : t("No"),
      ]),
    ),
  );
}
