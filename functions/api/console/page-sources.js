// Sources: list; create (its write key or signing secret shown once, copyable); rotate a
// signing secret; disable and enable.
import { get, patch, post, seg } from "./api.js";
import { confirmDialog, field, h, replace, table } from "./dom.js";
import { t } from "./i18n.js";
import { errorBox, go } from "./app.js";

const KINDS = ["segment", "shopify", "standard_webhooks", "wechat", "ses"];
const CHANNELS = ["web", "app", "pos", "ecommerce", "marketplace", "wechat", "callcenter", "email", "sms"];

function secretBox(credentials) {
  const entries = Object.entries(credentials || {});
  return h(
    "div",
    { class: "secret card", role: "alert" },
    h("p", {}, h("strong", {}, t("Shown once: copy it now."))),
    entries.map(([name, value]) => {
      const output = h("input", { type: "text", readonly: true, value, class: "secret-value", "aria-label": name, dataset: { credential: name } });
      const copied = h("span", { role: "status" });
      return h(
        "div",
        { class: "inline-form" },
        h("code", {}, name),
        output,
        h(
          "button",
          {
            type: "button",
            onclick: async () => {
              output.select();
              try {
                await navigator.clipboard.writeText(value);
              } catch {
                document.execCommand("copy");
              }
              copied.textContent = t("Copied");
            },
          },
          t("Copy"),
        ),
        copied,
      );
    }),
  );
}

function createForm(place) {
  const sourceId = h("input", { type: "text", required: true, autocomplete: "off" });
  const name = h("input", { type: "text", required: true, autocomplete: "off" });
  const kind = h("select", {}, KINDS.map((k) => h("option", { value: k }, k)));
  const channel = h("select", {}, CHANNELS.map((c) => h("option", { value: c }, c)));
  const server = h("input", { type: "checkbox", id: "source-server" });
  return h(
    "form",
    {
      class: "card",
      "aria-labelledby": "new-source",
      onsubmit: async (event) => {
        event.preventDefault();
        const request = { source_id: sourceId.value.trim(), name: name.value.trim(), kind: kind.value, channel: channel.value };
        if (kind.value === "segment" && server.checked) request.trust = "server";
        try {
          const made = await post("/sources", request);
          replace(place, secretBox(made.credentials));
          place.querySelector("input").focus();
        } catch (error) {
          replace(place, errorBox(error));
        }
      },
    },
    h("h2", { id: "new-source" }, t("New source")),
    h("div", { class: "grid-2" }, field(t("Source id"), sourceId), field(t("Name"), name), field(t("Type"), kind), field(t("Channel"), channel)),
    h("label", { class: "check", for: "source-server" }, server, t("Server-side key (never shipped in a browser or app)")),
    h("button", { type: "submit", class: "primary" }, t("New source")),
  );
}

export async function sourcesPage() {
  const listing = await get("/sources");
  const place = h("div", {});
  const row = (source) => {
    const toggle = h(
      "button",
      {
        type: "button",
        class: source.enabled ? "danger" : "",
        onclick: async () => {
          if (source.enabled && !(await confirmDialog(t("Disable"), t("Touchpoints signed with this source's key are refused until it is enabled again."), t("Disable"), t("Cancel")))) return;
          try {
            await patch(`/sources/${seg(source.source_id)}`, { enabled: !source.enabled });
            go(`#/sources?at=${Date.now()}`);
          } catch (error) {
            replace(place, errorBox(error));
          }
        },
      },
      source.enabled ? t("Disable") : t("Enable"),
    );
    const rotate =
      source.kind === "segment"
        ? null
        : h(
            "button",
            {
              type: "button",
              onclick: async () => {
                if (!(await confirmDialog(t("Rotate secret"), t("The previous secret stays valid until the next rotation."), t("Rotate secret"), t("Cancel")))) return;
                try {
                  const rotated = await post(`/sources/${seg(source.source_id)}/signing-secrets`, {});
                  replace(place, secretBox(rotated));
                } catch (error) {
                  replace(place, errorBox(error));
                }
              },
            },
            t("Rotate secret"),
          );
    return [source.name, source.source_id, source.kind, source.channel, source.trust, source.enabled ? t("Enabled") : t("Disabled"), h("div", { class: "actions" }, toggle, rotate)];
  };
  return h(
    "div",
    {},
    h("h1", {}, t("Sources")),
    place,
    table([t("Name"), t("Source id"), t("Type"), t("Channel"), "trust", t("Status"), ""], (listing.sources || []).map(row)),
    createForm(place),
  );
}
