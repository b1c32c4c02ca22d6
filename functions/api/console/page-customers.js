// Customers: find anyone by any identifier, then their 360° page. Everything shown from a
// profile (traits, event names, identifiers) is attacker-controlled text and is set as text.
import { ApiError, api, get, post, q, seg } from "./api.js";
import { confirmDialog, field, h, replace, table } from "./dom.js";
import { date, dateTime, money, number, t } from "./i18n.js";
import { errorBox, go } from "./app.js";

const TYPES = ["email", "phone", "user_id", "anonymous_id", "openid", "unionid", "loyalty_card", "shop_customer_id"];

function searchForm(params) {
  const type = h("select", { name: "type" }, TYPES.map((name) => h("option", { value: name, selected: params.get("type") === name }, t(name))));
  const value = h("input", { type: "search", name: "value", value: params.get("value") || "", required: true, autocomplete: "off" });
  return h(
    "form",
    {
      class: "inline-form",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        go(`#/customers?${q({ type: type.value, value: value.value.trim() })}`);
      },
    },
    field(t("Identifier type"), type),
    field(t("Value"), value, t("Phones with their country code: +86 138 0000 0000")),
    h("button", { type: "submit", class: "primary" }, t("Search")),
  );
}

export async function customersPage({ rest, params }) {
  if (rest[0]) return customerPage(rest[0]);
  const content = [h("h1", {}, t("Find a customer")), searchForm(params)];
  if (params.get("type") && params.get("value")) {
    try {
      const profile = await get(`/profiles?${q({ [params.get("type")]: params.get("value") })}`);
      go(`#/customers/${encodeURIComponent(profile.profile_id)}`);
      return h("p", { class: "loading" }, t("Loading"));
    } catch (error) {
      content.push(error instanceof ApiError && error.status === 404 ? h("p", { role: "status" }, t("No customer has that identifier.")) : errorBox(error));
    }
  }
  return h("div", {}, content);
}

async function optional(path) {
  try {
    return await get(path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

function identifiersByChannel(profile, touchpoints) {
  const seen = new Map();
  for (const identifier of profile.identifiers || []) seen.set(`${identifier.type}:${identifier.value}`, new Set());
  for (const touchpoint of touchpoints) {
    for (const identifier of touchpoint.identifiers || []) {
      const key = `${identifier.type}:${identifier.value}`;
      if (seen.has(key)) seen.get(key).add(touchpoint.channel);
    }
  }
  return (profile.identifiers || []).map((identifier) => {
    const channels = [...seen.get(`${identifier.type}:${identifier.value}`)].sort();
    return [t(identifier.type), identifier.value, h("span", { class: "channels", dataset: { channels: channels.join(",") } }, channels.join(", ") || "–")];
  });
}

function section(title, ...content) {
  const headingId = `s-${title.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`;
  return h("section", { class: "card", "aria-labelledby": headingId }, h("h2", { id: headingId }, title), content);
}

async function customerPage(profileId) {
  const profile = await get(`/profiles/${seg(profileId)}`);
  const id = profile.profile_id;
  const [touchpoints, segments, member, messages, merges] = await Promise.all([
    get(`/profiles/${seg(id)}/touchpoints?limit=100`),
    get(`/profiles/${seg(id)}/segments`),
    optional(`/members/${seg(id)}`),
    get(`/profiles/${seg(id)}/messages`),
    get(`/profiles/${seg(id)}/merges`),
  ]);
  const timeline = touchpoints.touchpoints || [];
  const classification = segments.classification || {};
  const status = h("p", { role: "status", class: "notice" });
  const channels = [...new Set([...Object.keys(profile.purchases_by_channel || {}), ...Object.keys(profile.touches_by_channel || {})])].sort();
  const consent = Object.entries(profile.consent || {});
  // Revenue per channel from the orders among the touchpoints shown (the profile keeps a total).
  const revenueOn = (channel) => {
    const orders = timeline.filter((tp) => tp.channel === channel && tp.type === "order" && tp.order && tp.order.total !== null && tp.order.total !== undefined);
    if (!orders.length) return "–";
    const sum = orders.reduce((total, tp) => total + Number(tp.order.total), 0);
    return money(sum, orders[0].order.currency || profile.currency);
  };
  const name = [profile.traits && profile.traits.first_name, profile.traits && profile.traits.last_name].filter(Boolean).join(" ");
  return h(
    "div",
    { class: "customer" },
    h("p", {}, h("a", { href: "#/customers" }, `← ${t("Find a customer")}`)),
    h("h1", {}, name || ((profile.identifiers || []).find((i) => i.type === "email") || {}).value || profile.profile_id),
    h("p", { class: "muted" }, profile.profile_id),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: () => exportProfile(profile, status) }, t("Export")),
      h("button", { type: "button", class: "danger", onclick: () => erase(profile, status) }, t("Erase")),
    ),
    status,
    h(
      "div",
      { class: "grid-2" },
      section(t("Identifiers by channel"), table([t("Identifier type"), t("Identifier"), t("Seen on")], identifiersByChannel(profile, timeline))),
      section(
        t("Classification"),
        table(
          [t("Field"), t("Value")],
          [
            ["R · F · M", `${classification.scores?.r ?? "–"} · ${classification.scores?.f ?? "–"} · ${classification.scores?.m ?? "–"}`],
            ["C · L", `${classification.scores?.c ?? "–"} · ${classification.scores?.l ?? "–"}`],
            [t("Stage"), classification.stage || "–"],
            [t("Tier"), classification.tier || "–"],
            [t("Price sensitivity"), classification.price_sensitivity || "–"],
            [t("Segments"), Object.keys(segments.segments || {}).sort().join(", ") || t("None")],
          ],
        ),
      ),
      section(
        t("Orders and revenue per channel"),
        table(
          [t("Channel"), t("Touches"), t("Orders"), t("Revenue (orders on the timeline)")],
          channels.map((channel) => [
            channel,
            number(profile.touches_by_channel?.[channel] || 0),
            number(profile.purchases_by_channel?.[channel] || 0),
            revenueOn(channel),
          ]),
        ),
        h("p", {}, `${t("Revenue")}: `, money(profile.revenue, profile.currency), ` · ${t("Orders")}: `, number(profile.orders)),
      ),
      section(
        t("Consent"),
        consent.length ? table([t("Channel"), t("Status")], consent.map(([key, state]) => [key, state.status || JSON.stringify(state)])) : h("p", {}, t("None")),
      ),
      section(
        t("Points, tier and coupons"),
        member
          ? table(
              [t("Field"), t("Value")],
              [
                [t("Points"), number(member.balance)],
                [t("Tier"), member.tier || "–"],
                [t("Coupons"), (member.coupons || []).map((c) => `${c.definition_id || ""} ${c.code || ""} ${c.status || ""}`.trim()).join("; ") || t("None")],
              ],
            )
          : h("p", {}, t("Not a member.")),
      ),
      section(
        t("Messages received"),
        table(
          [t("When"), t("Campaigns"), t("Channel"), t("Outcome")],
          (messages.messages || []).map((m) => [dateTime(m.at), m.program_id, m.channel || "–", m.reason ? `${m.outcome}: ${m.reason}` : m.outcome || "–"]),
        ),
      ),
    ),
    section(
      t("Merges"),
      table(
        [t("Merged at"), t("Identifier"), ""],
        (merges.merges || []).map((merge) => [
          dateTime(merge.merged_at),
          (merge.loser_identifiers || []).map((i) => `${i.type}: ${i.value}`).join(", ") || merge.loser_id,
          merge.unmerged_at
            ? t("Unmerged.")
            : h("button", { type: "button", onclick: () => unmerge(id, merge.merge_id, status) }, t("Unmerge")),
        ]),
      ),
    ),
    section(
      t("Timeline"),
      table(
        [t("When"), t("Channel"), t("Event")],
        timeline.map((touchpoint) => [dateTime(touchpoint.occurred_at), touchpoint.channel, h("span", { class: "event-name" }, touchpoint.event || touchpoint.type)]),
      ),
    ),
    h("p", { class: "muted" }, `${t("Created")}: ${date(profile.created_at)}`),
  );
}

function firstIdentifier(profile) {
  const identifier = (profile.identifiers || []).find((i) => i.type !== "anonymous_id") || (profile.identifiers || [])[0];
  return identifier ? { [identifier.type]: identifier.value } : null;
}

async function exportProfile(profile, status) {
  const identifier = firstIdentifier(profile);
  if (!identifier) return;
  try {
    const data = await get(`/privacy/export?${q(identifier)}`);
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    const link = h("a", { href: "#", download: `${profile.profile_id}.json` }, t("Download export"));
    link.href = URL.createObjectURL(blob);
    replace(status, link);
    link.focus();
  } catch (error) {
    replace(status, errorBox(error));
  }
}

async function erase(profile, status) {
  const identifier = firstIdentifier(profile);
  if (!identifier) return;
  const sure = await confirmDialog(t("Erase this customer?"), t("Everything held about this person is removed by a background job; this cannot be undone."), t("Erase"), t("Cancel"));
  if (!sure) return;
  try {
    const [[type, value]] = Object.entries(identifier);
    const request = await post("/privacy/erasures", { type, value });
    replace(status, t("Erasure requested: {id}", { id: request.request_id }));
  } catch (error) {
    replace(status, errorBox(error));
  }
}

async function unmerge(profileId, mergeId, status) {
  const sure = await confirmDialog(t("Undo this merge?"), t("Both profiles are restored as they were and never merged again."), t("Unmerge"), t("Cancel"));
  if (!sure) return;
  try {
    await api("POST", `/profiles/${seg(profileId)}/merges/${seg(mergeId)}/unmerge`, {});
    replace(status, t("Unmerged."));
  } catch (error) {
    replace(status, errorBox(error));
  }
}
