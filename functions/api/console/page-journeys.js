// Journeys: every journey with its status, pause and resume, its report (outcomes adding up to
// the sends), and the sends of each step.
import { get, post, seg } from "./api.js";
import { h, replace, table } from "./dom.js";
import { number, t } from "./i18n.js";
import { errorBox, go } from "./app.js";
import { liveReport } from "./page-campaigns.js";

export async function journeysPage({ rest }) {
  if (rest[0]) return journeyPage(rest[0]);
  const journeys = await get("/journeys");
  return h(
    "div",
    {},
    h("h1", {}, t("Journeys")),
    table(
      [t("Name"), t("Trigger"), t("Status")],
      (journeys.journeys || []).map((j) => [h("a", { href: `#/journeys/${encodeURIComponent(j.journey_id)}` }, j.name || j.journey_id), j.trigger, t(j.status)]),
    ),
  );
}

async function journeyPage(journeyId) {
  const [journey, report, waiting] = await Promise.all([
    get(`/journeys/${seg(journeyId)}`),
    get(`/journeys/${seg(journeyId)}/report`),
    get(`/journeys/${seg(journeyId)}/waiting`),
  ]);
  const waitingAt = Object.fromEntries(waiting.steps.map((s) => [s.step, s.waiting]));
  const status = h("div", { role: "status" });
  const action = journey.status === "active" ? "pause" : "resume";
  return h(
    "div",
    {},
    h("p", {}, h("a", { href: "#/journeys" }, `← ${t("Journeys")}`)),
    h("h1", {}, journey.name || journey.journey_id),
    h("p", { class: "muted" }, `${t("Waiting")}: ${number(waiting.waiting)}`),
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        {
          type: "button",
          onclick: async () => {
            try {
              await post(`/journeys/${seg(journeyId)}/${action}`);
              go(`#/journeys/${encodeURIComponent(journeyId)}?at=${Date.now()}`);
            } catch (error) {
              replace(status, errorBox(error));
            }
          },
        },
        t(action === "pause" ? "Pause" : "Resume"),
      ),
    ),
    status,
    table(
      [t("Step"), t("Kind"), t("Channel"), t("Waiting to run this step")],
      (journey.steps || []).map((step, index) => [
        String(index),
        step.type,
        step.send ? (step.send.channels || []).join(" → ") : step.hours ? `${number(step.hours)} h` : step.until_local || "–",
        h("span", { class: "waiting", dataset: { step: String(index), waiting: String(waitingAt[index] || 0) } }, number(waitingAt[index] || 0)),
      ]),
    ),
    liveReport(`/journeys/${seg(journeyId)}/report`, { ...report, complete: true }),
  );
}
