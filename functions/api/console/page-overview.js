// Overview: touchpoints per channel (last day, last week), profiles created, merges, queues and
// dead letters, each sales channel's drift, campaigns running.
import { get } from "./api.js";
import { stackedColumns } from "./charts.js";
import { h, table, tile } from "./dom.js";
import { compact, dateTime, hour, number, t, weekday } from "./i18n.js";

export async function overviewPage() {
  const [overview, campaigns, reconciliation, channels] = await Promise.all([
    get("/overview"),
    get("/campaigns"),
    get("/inventory/reconciliation?limit=1"),
    get("/inventory/channels"),
  ]);
  const running = (campaigns.campaigns || []).filter((c) => ["active", "paused"].includes(c.status));
  const day = overview.last_day;
  const week = overview.last_week;
  const queues = overview.queues;
  const latest = (reconciliation.reports || [])[0];
  return h(
    "div",
    {},
    h("h1", {}, t("Overview")),
    h(
      "div",
      { class: "tiles" },
      tile(t("Touchpoints (24 h)"), compact(day.totals.touchpoints), { testid: "touchpoints-day" }),
      tile(t("Touchpoints (7 days)"), compact(week.totals.touchpoints), { testid: "touchpoints-week" }),
      tile(t("Profiles created (7 days)"), compact(week.totals.profiles_created), { testid: "profiles-week" }),
      tile(t("Merges (7 days)"), compact(week.totals.merges), { testid: "merges-week" }),
      tile(t("Campaigns running"), number(running.filter((c) => c.status === "active").length), { testid: "campaigns-running" }),
    ),
    stackedColumns(
      t("Touchpoints per channel, last 24 hours"),
      day.hours.map((point) => ({ label: hour(point.start), values: point.touchpoints })),
    ),
    stackedColumns(
      t("Touchpoints per channel, last 7 days"),
      week.days.map((point) => ({ label: weekday(point.start), values: point.touchpoints })),
    ),
    h("div", { class: "columns" },
      h(
        "section",
        { "aria-labelledby": "queues-title" },
        h("h2", { id: "queues-title" }, t("Queues")),
        queues
          ? [
              h("p", { class: "muted" }, t("As of {time}", { time: dateTime(queues.observed_at) })),
              table(
                [t("Queue"), t("Waiting"), t("In flight"), t("Status")],
                queues.queues.map((queue) => [
                  queue.name,
                  number(queue.visible),
                  number(queue.in_flight),
                  queue.needs_attention ? h("strong", { class: "bad" }, t("Needs attention")) : t("OK"),
                ]),
              ),
            ]
          : h("p", {}, t("No reading yet: the queue monitor runs every five minutes.")),
      ),
      h(
        "section",
        { "aria-labelledby": "drift-title" },
        h("h2", { id: "drift-title" }, t("Sync drift")),
        latest
          ? [
              h("p", { class: "muted" }, t("As of {time}", { time: dateTime(latest.run_at) })),
              table(
                [t("Channel"), t("Drift")],
                (channels.channels || []).map((channel) => {
                  const drift = (latest.drift || []).filter((entry) => entry.channel_id === channel.channel_id).length;
                  return [channel.name || channel.channel_id, drift ? h("strong", { class: "bad" }, number(drift)) : number(0)];
                }),
              ),
            ]
          : h("p", {}, t("No reconciliation has run yet.")),
        h("h2", {}, t("Campaigns running")),
        running.length
          ? table([t("Name"), t("Status")], running.map((c) => [h("a", { href: `#/campaigns/${encodeURIComponent(c.campaign_id)}` }, c.name || c.campaign_id), c.status]))
          : h("p", {}, t("None")),
      ),
    ),
  );
}
