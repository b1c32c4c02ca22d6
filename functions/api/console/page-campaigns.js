// Campaigns: create (segment, channels with fallback, content with a preview rendered for a real
// customer, caps through the frequency policy, quiet hours, holdout, schedule), launch, pause,
// resume, cancel; the report as charts whose outcomes add up to the audience.
import { get, post, seg } from "./api.js";
import { partsBar } from "./charts.js";
import { confirmDialog, field, h, replace, table, tile } from "./dom.js";
import { dateTime, money, number, percent, t } from "./i18n.js";
import { errorBox, go } from "./app.js";

const CHANNELS = ["email", "sms", "push", "wechat", "inbox", "webhook"];

function createForm(segments) {
  const campaignId = h("input", { type: "text", required: true, autocomplete: "off" });
  const name = h("input", { type: "text", required: true, autocomplete: "off" });
  const segment = h("select", { required: true }, segments.map((s) => h("option", { value: s.segment_id }, `${s.name} (${s.segment_id})`)));
  const channels = CHANNELS.map((channel) => h("input", { type: "checkbox", value: channel, id: `channel-${channel}`, checked: channel === "inbox" }));
  const subject = h("input", { type: "text", value: "Hello {{ first_name | there }}", autocomplete: "off" });
  const body = h("textarea", { rows: "3" }, "Hi {{ first_name | there }}, something new is in store.");
  const holdout = h("input", { type: "number", min: "0", max: "50", step: "1", value: "0" });
  const sendAtLocal = h("input", { type: "time" });
  const scheduleKind = h("select", {}, ["now", "at", "daily", "weekly"].map((kind) => h("option", { value: kind }, t(`schedule ${kind}`))));
  const scheduleAt = h("input", { type: "datetime-local" });
  const capCount = h("input", { type: "number", min: "1", max: "1000", step: "1" });
  const capWindow = h("select", {}, ["day", "week"].map((w) => h("option", { value: w }, t(`per ${w}`))));
  const respectQuietHours = h("input", { type: "checkbox", id: "campaign-deferrable", checked: true });
  const status = h("div", { role: "status" });
  return h(
    "form",
    {
      class: "card",
      "aria-labelledby": "new-campaign",
      onsubmit: async (event) => {
        event.preventDefault();
        const chosen = channels.filter((box) => box.checked).map((box) => box.value);
        const content = {};
        for (const channel of chosen) {
          content[channel] = { body: body.value };
          if (channel === "email") content[channel].subject = subject.value;
          if (["push", "inbox"].includes(channel)) content[channel].title = subject.value;
        }
        const request = {
          campaign_id: campaignId.value.trim(),
          name: name.value.trim(),
          segment_id: segment.value,
          channels: chosen,
          holdout_percent: holdout.value || "0",
          variants: [{ variant_id: "main", content }],
        };
        if (sendAtLocal.value) request.send_at_local = sendAtLocal.value;
        if (scheduleKind.value !== "now") {
          // The browser's local time, sent with its offset (the API refuses a time without one).
          request.schedule = { kind: scheduleKind.value, at: scheduleAt.value ? new Date(scheduleAt.value).toISOString() : null };
        }
        if (capCount.value) request.caps = [{ scope: "all", count: Number(capCount.value), window: capWindow.value }];
        if (!respectQuietHours.checked) request.deferrable = false;
        try {
          const made = await post("/campaigns", request);
          go(`#/campaigns/${encodeURIComponent(made.campaign_id)}`);
        } catch (error) {
          replace(status, errorBox(error));
        }
      },
    },
    h("h2", { id: "new-campaign" }, t("New campaign")),
    h("div", { class: "grid-2" }, field(t("Campaign id"), campaignId), field(t("Name"), name)),
    field(t("Segment"), segment),
    h("fieldset", {}, h("legend", {}, t("Channels (in order, with fallback)")), channels.map((box) => h("label", { class: "check", for: box.id }, box, box.value))),
    field(t("Subject"), subject),
    field(t("Body"), body),
    h("div", { class: "grid-2" }, field(t("Holdout %"), holdout), field(t("Send at the customer's local time"), sendAtLocal)),
    h("div", { class: "grid-2" }, field(t("Schedule"), scheduleKind), field(t("First send"), scheduleAt)),
    h("div", { class: "grid-2" }, field(t("At most (this campaign, per customer)"), capCount), field(t("Window"), capWindow)),
    h("label", { class: "check", for: "campaign-deferrable" }, respectQuietHours, t("Hold sends in a customer's quiet hours until they end (the frequency policy's quiet hours)")),
    status,
    h("button", { type: "submit", class: "primary" }, t("Create draft")),
  );
}

export async function campaignsPage({ rest }) {
  if (rest[0]) return campaignPage(rest[0]);
  const [campaigns, segments] = await Promise.all([get("/campaigns"), get("/segments")]);
  return h(
    "div",
    {},
    h("h1", {}, t("Campaigns")),
    table(
      [t("Name"), t("Segment"), t("Status")],
      (campaigns.campaigns || []).map((c) => [h("a", { href: `#/campaigns/${encodeURIComponent(c.campaign_id)}` }, c.name), c.segment_id, t(c.status)]),
    ),
    createForm(segments.segments || []),
  );
}

function control(campaign, action, label, status, ask) {
  return h(
    "button",
    {
      type: "button",
      class: action === "cancel" ? "danger" : action === "launch" ? "primary" : "",
      onclick: async () => {
        if (ask && !(await confirmDialog(label, ask, label, t("Cancel")))) return;
        try {
          await post(`/campaigns/${seg(campaign.campaign_id)}/${action}`);
          go(`#/campaigns/${encodeURIComponent(campaign.campaign_id)}`);
        } catch (error) {
          replace(status, errorBox(error));
        }
      },
    },
    label,
  );
}

function previewBox(campaign) {
  const profileId = h("input", { type: "text", autocomplete: "off" });
  const out = h("div", { class: "rendered", role: "status" });
  return h(
    "form",
    {
      class: "inline-form",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const preview = await post(`/campaigns/${seg(campaign.campaign_id)}/preview`, { profile_id: profileId.value.trim() });
          const r = preview.rendered;
          replace(out, h("p", {}, h("strong", {}, `${preview.channel} · ${preview.variant_id}`)), r.subject || r.title ? h("p", { class: "subject" }, r.subject || r.title) : null, h("p", { class: "body" }, r.body));
        } catch (error) {
          replace(out, errorBox(error));
        }
      },
    },
    field(t("Preview for a customer (profile id)"), profileId),
    h("button", { type: "submit" }, t("Preview")),
    out,
  );
}

export function reportView(report) {
  const outcomes = Object.entries(report.outcomes || {});
  const reasons = Object.entries(report.reasons || {});
  const channels = Object.entries(report.channels || {});
  return h(
    "section",
    { class: "card report", "aria-labelledby": "report-title", dataset: { complete: String(Boolean(report.complete)) } },
    h("h2", { id: "report-title" }, t("Report"), " · ", h("span", { class: report.complete ? "good" : "muted" }, report.complete ? t("Complete") : t("In progress"))),
    h(
      "div",
      { class: "tiles" },
      tile(t("Audience"), number(report.audience), { audience: String(report.audience) }),
      tile(t("Conversions"), number(report.conversions)),
      tile(t("Revenue"), money(report.revenue, report.currency)),
      tile(
        t("Lift"),
        percent(report.lift, 2),
        {},
        report.lift_ci95 ? h("p", { class: "muted" }, `95 %: ${percent(report.lift_ci95[0], 2)} – ${percent(report.lift_ci95[1], 2)}`) : null,
      ),
      tile(t("ROI"), report.roi === null || report.roi === undefined ? "–" : percent(report.roi, 0)),
    ),
    partsBar(t("Outcomes add up to the audience"), outcomes.map(([name, n]) => [t(name), n]), report.audience),
    reasons.length ? table([t("Outcome"), t("Total")], reasons.map(([name, n]) => [name, number(n)])) : null,
    h("h3", {}, t("Per channel")),
    table([t("Channel"), t("Sent"), t("Conversions"), t("Revenue")], channels.map(([name, c]) => [name, number(c.sent), number(c.conversions), money(c.revenue, report.currency)])),
    h("p", { class: "muted" }, t("As of {time}", { time: dateTime(report.computed_at) })),
  );
}

// The report refreshes itself every two seconds until it is complete (or the page is left).
export function liveReport(path, report) {
  const place = h("div", { class: "live-report" }, reportView(report));
  const tick = async () => {
    if (!place.isConnected) return;
    try {
      const fresh = await get(path);
      replace(place, reportView(fresh));
      if (!fresh.complete) setTimeout(tick, 2000);
    } catch (error) {
      replace(place, errorBox(error));
    }
  };
  if (!report.complete) setTimeout(tick, 2000);
  return place;
}

async function campaignPage(campaignId) {
  const campaign = await get(`/campaigns/${seg(campaignId)}`);
  const report = await get(`/campaigns/${seg(campaignId)}/report`);
  const status = h("div", { role: "status" });
  const controls = [];
  if (campaign.status === "draft") controls.push(control(campaign, "launch", t("Launch"), status));
  if (campaign.status === "active") controls.push(control(campaign, "pause", t("Pause"), status));
  if (campaign.status === "paused") controls.push(control(campaign, "resume", t("Resume"), status));
  if (["draft", "active", "paused"].includes(campaign.status)) controls.push(control(campaign, "cancel", t("Cancel"), status, t("The rest of the audience is suppressed as cancelled.")));
  controls.push(h("button", { type: "button", onclick: () => go(`#/campaigns/${encodeURIComponent(campaignId)}?at=${Date.now()}`) }, t("Refresh")));
  return h(
    "div",
    {},
    h("p", {}, h("a", { href: "#/campaigns" }, `← ${t("Campaigns")}`)),
    h("h1", {}, campaign.name),
    h("p", { class: "muted" }, `${campaign.campaign_id} · ${t("Segment")}: ${campaign.segment_id} · `, h("span", { class: "campaign-status", dataset: { status: campaign.status } }, t(campaign.status))),
    h("div", { class: "actions" }, controls),
    status,
    liveReport(`/campaigns/${seg(campaignId)}/report`, report),
    h("section", { class: "card", "aria-labelledby": "preview-title" }, h("h2", { id: "preview-title" }, t("Preview")), previewBox(campaign)),
  );
}
