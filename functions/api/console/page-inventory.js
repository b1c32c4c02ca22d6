// Inventory and pricing: a SKU × location grid (on hand, reserved, available), what every sales
// channel publishes, a count form, promotions on a timeline.
import { get, put, q, seg } from "./api.js";
import { colour } from "./charts.js";
import { field, h, replace, showFieldError, table } from "./dom.js";
import { date, dateTime, money, number, t } from "./i18n.js";
import { errorBox, go } from "./app.js";

function cell(level) {
  if (!level) return "–";
  return h(
    "span",
    { class: "stock", dataset: { onHand: String(level.on_hand), reserved: String(level.reserved), available: String(level.available) } },
    h("strong", {}, number(level.available)),
    h("span", { class: "muted" }, ` (${number(level.on_hand)} / ${number(level.reserved)})`),
  );
}

function countForm(skus, locations) {
  const sku = h("select", { name: "sku" }, skus.map((s) => h("option", { value: s }, s)));
  const location = h("select", { name: "location" }, locations.map((l) => h("option", { value: l.location_id }, l.name || l.location_id)));
  const onHand = h("input", { type: "number", min: "0", step: "1", required: true, name: "on_hand" });
  const status = h("div", { role: "status" });
  return h(
    "form",
    {
      class: "inline-form card",
      "aria-labelledby": "set-stock",
      onsubmit: async (event) => {
        event.preventDefault();
        showFieldError(onHand, "");
        try {
          const requestId = `console-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
          await put(`/inventory/stock/${seg(sku.value)}/${seg(location.value)}`, { on_hand: Number(onHand.value), request_id: requestId, source: "console" });
          go(`#/inventory?${q({ at: Date.now() })}`);
        } catch (error) {
          if (error.details && error.details.on_hand !== undefined) showFieldError(onHand, error.message);
          else replace(status, errorBox(error));
        }
      },
    },
    h("h2", { id: "set-stock" }, t("Set stock")),
    field(t("SKU"), sku),
    field(t("Location"), location),
    field(t("New on-hand count"), onHand),
    h("button", { type: "submit", class: "primary" }, t("Set stock")),
    status,
  );
}

function timeline(promotions) {
  if (!promotions.length) return h("p", {}, t("None"));
  const starts = promotions.map((p) => Date.parse(p.starts_at));
  const ends = promotions.map((p) => (p.ends_at ? Date.parse(p.ends_at) : Date.parse(p.starts_at) + 30 * 86400000));
  const first = Math.min(...starts, Date.now());
  const last = Math.max(...ends, Date.now() + 86400000);
  const width = 960;
  const left = 200;
  const row = 28;
  const x = (at) => left + ((at - first) / (last - first)) * (width - left - 10);
  const svg = h("svg", { viewBox: `0 0 ${width} ${promotions.length * row + 30}`, class: "chart", role: "img", "aria-label": t("Promotions"), focusable: "false" });
  promotions.forEach((promotion, index) => {
    const y = index * row + 4;
    svg.append(h("text", { x: 0, y: y + 16, class: "axis" }, promotion.name.slice(0, 28)));
    svg.append(h("rect", { x: x(starts[index]), y, width: Math.max(3, x(ends[index]) - x(starts[index])), height: row - 8, fill: colour(index) }, h("title", {}, `${promotion.name}: ${date(promotion.starts_at)} – ${promotion.ends_at ? date(promotion.ends_at) : "…"}`)));
  });
  const now = x(Date.now());
  svg.append(h("line", { x1: now, x2: now, y1: 0, y2: promotions.length * row, class: "now" }));
  svg.append(h("text", { x: left, y: promotions.length * row + 22, class: "axis" }, date(first)));
  svg.append(h("text", { x: width - 10, y: promotions.length * row + 22, class: "axis", "text-anchor": "end" }, date(last)));
  return h(
    "figure",
    { class: "chart-figure" },
    svg,
    table(
      [t("Name"), t("Value"), t("From"), t("To"), t("Channel")],
      promotions.map((p) => [p.name, p.kind === "percent" ? `${number(p.value)} %` : number(p.value), date(p.starts_at), p.ends_at ? date(p.ends_at) : "–", (p.channels || []).join(", ") || "*"]),
    ),
  );
}

export async function inventoryPage() {
  const [prices, locations, channels, promotions] = await Promise.all([
    get("/prices?limit=50"),
    get("/inventory/locations"),
    get("/inventory/channels"),
    get("/promotions"),
  ]);
  const entries = prices.prices || [];
  const places = locations.locations || [];
  const availability = await Promise.all(entries.map((entry) => get(`/inventory/availability/${seg(entry.sku)}`)));
  const channelList = channels.channels || [];
  return h(
    "div",
    {},
    h("h1", {}, t("Inventory and pricing")),
    h("p", { class: "muted" }, `${t("Available")} (${t("On hand")} / ${t("Reserved")})`),
    h(
      "div",
      { class: "scroll" },
      table(
        [t("SKU"), t("Price"), ...places.map((l) => l.name || l.location_id)],
        entries.map((entry, index) => {
          const levels = Object.fromEntries((availability[index].locations || []).map((level) => [level.location_id, level]));
          return [entry.sku, money(entry.base, entry.currency), ...places.map((l) => cell(levels[l.location_id]))];
        }),
      ),
    ),
    h("h2", {}, t("Availability per channel")),
    h(
      "div",
      { class: "scroll" },
      table(
        [t("SKU"), ...channelList.map((c) => c.name || c.channel_id)],
        entries.map((entry, index) => {
          const views = Object.fromEntries((availability[index].channels || []).map((view) => [view.channel_id, view]));
          return [
            entry.sku,
            ...channelList.map((c) => {
              const view = views[c.channel_id];
              if (!view) return "–";
              const push = view.last_push;
              return h(
                "div",
                {},
                h("span", { class: "published", dataset: { sku: entry.sku, channel: c.channel_id, available: String(view.available) } }, `${number(view.available)} · ${money(view.price, view.currency)}`),
                h(
                  "p",
                  { class: "muted small" },
                  push ? `${t("Last push")}: ${number(push.available)} · ${dateTime(push.sent_at)}` : `${t("Last push")}: –`,
                ),
              );
            }),
          ];
        }),
      ),
    ),
    countForm(entries.map((e) => e.sku), places),
    h("h2", {}, t("Promotions")),
    timeline(promotions.promotions || []),
  );
}
