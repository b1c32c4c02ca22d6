// Segments: the list with live member counts, a rule builder over the documented rule language
// (problems shown beside the condition they are about), a preview count before saving, and the
// hashed audience export with its progress.
import { ApiError, get, post, seg } from "./api.js";
import { field, h, replace, showFieldError, table } from "./dom.js";
import { number, percent, t } from "./i18n.js";
import { errorBox, go } from "./app.js";

const FIELDS = [
  "orders", "revenue", "average_order_value", "currency", "refunds", "discounted_orders", "purchase_interval_days",
  "preferred_channel", "best_hour_utc", "advocacy", "timezone", "locale", "home_store", "stage", "tier",
  "price_sensitivity", "scores.r", "scores.f", "scores.m", "scores.c", "scores.l", "days_since_last_purchase",
  "days_since_first_purchase", "days_since_first_seen", "days_since_last_seen", "purchases_by_channel.web",
  "purchases_by_channel.pos", "touches_by_channel.web", "touches_by_channel.app", "touches_by_channel.wechat",
  "identifiers.email", "identifiers.phone", "traits.city",
];
const OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "exists", "not_exists", "contains"];
const NUMERIC = /^(orders|revenue|average_order_value|refunds|discounted_orders|purchase_interval_days|best_hour_utc|advocacy|scores\.|days_since_|purchases_by_channel\.|touches_by_channel\.)/;
const KINDS = ["field", "did the event", "bought", "consent"];

function conditionRow(builder, index) {
  const row = { kind: h("select", {}, KINDS.map((kind) => h("option", { value: kind }, t(kind)))) };
  const area = h("div", { class: "condition-fields" });
  const message = h("p", { class: "field-error condition-error", role: "status" });
  const remove = h("button", { type: "button", class: "link", onclick: () => builder.remove(row) }, t("Remove"));
  const box = h("fieldset", { class: "condition" }, h("legend", {}, `${t("Rule")} ${index + 1}`), field(t("Kind"), row.kind), area, message, remove);
  row.box = box;
  row.message = message;
  const fill = () => {
    const kind = row.kind.value;
    row.inputs = {};
    const input = (name, control) => {
      row.inputs[name] = control;
      return control;
    };
    if (kind === "field") {
      replace(
        area,
        field(t("Field"), input("field", h("select", {}, FIELDS.map((name) => h("option", { value: name }, name))))),
        field(t("Operator"), input("op", h("select", {}, OPS.map((op) => h("option", { value: op }, op))))),
        field(t("Value"), input("value", h("input", { type: "text", autocomplete: "off" }))),
      );
    } else if (kind === "did the event") {
      replace(
        area,
        field(t("Event name"), input("event", h("input", { type: "text", autocomplete: "off" }))),
        field(t("SKU"), input("sku", h("input", { type: "text", autocomplete: "off" }))),
        field(t("Within days"), input("within_days", h("input", { type: "number", min: "1", step: "1" }))),
      );
    } else if (kind === "bought") {
      replace(
        area,
        field(t("SKU"), input("sku", h("input", { type: "text", autocomplete: "off" }))),
        field(t("Within days"), input("within_days", h("input", { type: "number", min: "1", step: "1" }))),
      );
    } else {
      replace(
        area,
        field(t("Channel"), input("channel", h("select", {}, ["email", "sms", "push", "wechat", "inbox", "webhook"].map((c) => h("option", { value: c }, c))))),
        field(t("Purpose"), input("purpose", h("input", { type: "text", value: "marketing", autocomplete: "off" }))),
      );
    }
  };
  row.kind.addEventListener("change", fill);
  fill();
  row.rule = () => {
    const v = (name) => row.inputs[name].value.trim();
    if (row.kind.value === "field") {
      const name = v("field");
      const op = v("op");
      const condition = { field: name, op };
      if (!["exists", "not_exists"].includes(op)) {
        let value = v("value");
        if (["in", "not_in"].includes(op)) value = value.split(",").map((part) => part.trim()).filter(Boolean).map((part) => (NUMERIC.test(name) && part !== "" && !Number.isNaN(Number(part)) ? Number(part) : part));
        else if (NUMERIC.test(name) && value !== "" && !Number.isNaN(Number(value))) value = Number(value);
        condition.value = value;
      }
      return condition;
    }
    if (row.kind.value === "did the event") {
      const did = { event: v("event") };
      if (v("sku")) did.sku = v("sku");
      if (v("within_days")) did.within_days = Number(v("within_days"));
      return { did };
    }
    if (row.kind.value === "bought") {
      const bought = {};
      if (v("sku")) bought.sku = v("sku");
      if (v("within_days")) bought.within_days = Number(v("within_days"));
      return { bought };
    }
    return { consent: { channel: v("channel"), purpose: v("purpose") || "marketing" } };
  };
  return row;
}

function ruleBuilder() {
  const rows = [];
  const list = h("div", { class: "conditions" });
  const combinator = h("select", { id: "rule-combinator" }, h("option", { value: "all" }, t("all of")), h("option", { value: "any" }, t("any of")));
  const builder = {
    add() {
      const row = conditionRow(builder, rows.length);
      rows.push(row);
      list.append(row.box);
      row.kind.focus();
    },
    remove(row) {
      rows.splice(rows.indexOf(row), 1);
      row.box.remove();
    },
    rule() {
      return { [combinator.value]: rows.map((row) => row.rule()) };
    },
    // The API names each problem's path (all.0.did.within_days): shown beside that condition.
    show(problems) {
      rows.forEach((row) => { row.message.textContent = ""; });
      const general = [];
      for (const problem of problems) {
        const match = /^(all|any)\.(\d+)/.exec(problem.path || "");
        const row = match ? rows[Number(match[2])] : null;
        if (row) row.message.textContent = `${row.message.textContent} ${problem.path}: ${problem.message}`.trim();
        else general.push(`${problem.path}: ${problem.message}`);
      }
      return general;
    },
  };
  builder.element = h(
    "div",
    { class: "rule-builder" },
    field(t("Match"), combinator),
    list,
    h("button", { type: "button", onclick: () => builder.add() }, t("Add condition")),
  );
  builder.add();
  return builder;
}

function newSegmentForm(onSaved) {
  const segmentId = h("input", { type: "text", required: true, pattern: "[a-z0-9][a-z0-9_\\-]*", autocomplete: "off" });
  const name = h("input", { type: "text", required: true, autocomplete: "off" });
  const builder = ruleBuilder();
  const result = h("p", { class: "preview", role: "status", "aria-live": "polite" });
  const problems = h("ul", { class: "problems", role: "alert" });
  const report = (error) => {
    const details = error instanceof ApiError && Array.isArray(error.details) ? error.details : null;
    if (details) {
      const general = builder.show(details);
      replace(problems, general.map((text) => h("li", {}, text)));
    } else if (error instanceof ApiError && error.details && error.details.segment_id !== undefined) {
      showFieldError(segmentId, error.message);
    } else {
      replace(problems, h("li", {}, error.message));
    }
  };
  const previewButton = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        replace(problems);
        builder.show([]);
        try {
          const preview = await post("/segments/preview", { rule: builder.rule() });
          const count = preview.exact ? preview.matched : preview.estimated_members;
          result.dataset.count = String(count);
          replace(
            result,
            t("Would match {n} of {population}", { n: number(count), population: number(preview.exact ? preview.evaluated : preview.population) }),
            " ",
            preview.exact ? t("(exact)") : t("(estimated from a sample)"),
          );
        } catch (error) {
          report(error);
        }
      },
    },
    t("Preview count"),
  );
  return h(
    "form",
    {
      class: "card",
      "aria-labelledby": "new-segment",
      onsubmit: async (event) => {
        event.preventDefault();
        replace(problems);
        showFieldError(segmentId, "");
        try {
          await post("/segments", { segment_id: segmentId.value.trim(), name: name.value.trim(), rule: builder.rule() });
          onSaved(segmentId.value.trim());
        } catch (error) {
          report(error);
        }
      },
    },
    h("h2", { id: "new-segment" }, t("New segment")),
    h("div", { class: "grid-2" }, field(t("Segment id"), segmentId), field(t("Name"), name)),
    builder.element,
    problems,
    h("div", { class: "actions" }, previewButton, h("button", { type: "submit", class: "primary" }, t("Save segment"))),
    result,
  );
}

async function exportSegment(segmentId, place) {
  try {
    const started = await post(`/segments/${seg(segmentId)}/exports`, { format: "google" });
    const bar = h("progress", { max: "1", value: "0", "aria-label": t("Hashed export") });
    const label = h("span", { role: "status" });
    replace(place, bar, label);
    for (;;) {
      const job = await get(`/segments/${seg(segmentId)}/exports/${seg(started.export_id)}`);
      bar.value = job.progress || 0;
      label.textContent = ` ${t("Exported {done} of {total}", { done: number(job.members_done || 0), total: number(job.members_total || 0) })} (${percent(job.progress || 0, 0)})`;
      if (job.status === "done") {
        replace(place, h("a", { href: job.download_url, rel: "noopener noreferrer" }, t("Download export")), label);
        return;
      }
      if (job.status === "failed") throw new Error(job.error || "failed");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } catch (error) {
    replace(place, errorBox(error));
  }
}

export async function segmentsPage() {
  const listing = await get("/segments");
  const segments = listing.segments || [];
  const details = await Promise.all(segments.map((s) => get(`/segments/${seg(s.segment_id)}`)));
  return h(
    "div",
    {},
    h("h1", {}, t("Segments")),
    table(
      [t("Name"), t("Segment id"), t("Member count"), t("Hashed export")],
      details.map((segment) => {
        const place = h("div", { class: "export" });
        replace(place, h("button", { type: "button", onclick: () => exportSegment(segment.segment_id, place) }, t("Hashed export")));
        return [segment.name, segment.segment_id, h("span", { dataset: { members: String(segment.members) } }, number(segment.members)), place];
      }),
    ),
    newSegmentForm(() => go("#/segments")),
  );
}
