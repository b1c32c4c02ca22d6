// Membership: members per tier and points outstanding (as the nightly loyalty run last summed
// them), coupon definitions with how many codes were issued and uses redeemed.
import { get } from "./api.js";
import { partsBar } from "./charts.js";
import { h, table, tile } from "./dom.js";
import { compact, date, dateTime, money, number, t } from "./i18n.js";

export async function membershipPage() {
  const [summary, definitions] = await Promise.all([get("/membership/summary"), get("/coupon-definitions")]);
  const tiers = Object.entries(summary.tiers || {});
  const coupons = summary.coupons || {};
  return h(
    "div",
    {},
    h("h1", {}, t("Membership")),
    h(
      "p",
      { class: "muted" },
      summary.computed_at ? t("As of {time}", { time: dateTime(summary.computed_at) }) : t("Summed by the nightly loyalty run; not run yet."),
    ),
    h(
      "div",
      { class: "tiles" },
      tile(t("Members"), compact(summary.members), { testid: "members" }),
      tile(t("Points outstanding"), number(summary.points_outstanding), { testid: "points", points: String(summary.points_outstanding) }),
    ),
    tiers.length ? partsBar(t("Tiers"), tiers.map(([tier, n]) => [tier === "-" ? t("None") : tier, n]), summary.members) : null,
    h("h2", {}, t("Coupon definitions")),
    table(
      [t("Name"), t("Value"), t("Channel"), t("From"), t("To"), t("Points"), t("Issued"), t("Redeemed"), t("Active")],
      (definitions.definitions || []).map((d) => {
        const counts = coupons[d.definition_id] || { issued: 0, redeemed: 0 };
        return [
          d.name,
          d.discount_type === "percent" ? `${number(d.value)} %` : money(d.value, d.currency),
          (d.channels || []).join(", ") || "*",
          date(d.valid_from),
          date(d.valid_until),
          d.points_price ? number(d.points_price) : "–",
          h("span", { dataset: { issued: String(counts.issued) } }, number(counts.issued)),
          h("span", { dataset: { redeemed: String(counts.redeemed) } }, number(counts.redeemed)),
          d.active ? t("Yes") : t("No"),
        ];
      }),
    ),
  );
}
