// The console's shell: sign-in, navigation, language, and the page for the address's #route.
import { ApiError, get, session } from "./api.js";
import { field, h, replace } from "./dom.js";
import { LOCALES, currentLocale, setLocale, t } from "./i18n.js";
import { overviewPage } from "./page-overview.js";
import { customersPage } from "./page-customers.js";
import { segmentsPage } from "./page-segments.js";
import { campaignsPage } from "./page-campaigns.js";
import { journeysPage } from "./page-journeys.js";
import { membershipPage } from "./page-membership.js";
import { inventoryPage } from "./page-inventory.js";
import { sourcesPage } from "./page-sources.js";

const PAGES = [
  ["overview", "Overview", overviewPage],
  ["customers", "Customers", customersPage],
  ["segments", "Segments", segmentsPage],
  ["campaigns", "Campaigns", campaignsPage],
  ["journeys", "Journeys", journeysPage],
  ["membership", "Membership", membershipPage],
  ["inventory", "Inventory and pricing", inventoryPage],
  ["sources", "Sources", sourcesPage],
];

const root = document.getElementById("app");

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || "overview", rest: parts.slice(1), params: new URLSearchParams(query || "") };
}

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

export function errorBox(error) {
  const message = error instanceof ApiError ? `${error.message} (${error.code})` : String(error && error.message ? error.message : error);
  return h("p", { class: "error", role: "alert" }, t("Something went wrong: {message}", { message }));
}

function signIn() {
  const key = h("input", { type: "password", name: "admin-key", autocomplete: "off", required: true });
  const message = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {
      class: "signin",
      onsubmit: async (event) => {
        event.preventDefault();
        session.signIn(key.value.trim());
        try {
          await get("/segments");
          key.value = "";
          render();
        } catch (error) {
          session.signOut();
          message.textContent = error instanceof ApiError && error.status === 401 ? t("That key was not accepted.") : t("Something went wrong: {message}", { message: error.message });
        }
      },
    },
    h("h1", {}, t("Omnireach console")),
    field(t("Admin key"), key, t("The admin key is kept in this tab only and forgotten when it closes.")),
    message,
    h("button", { type: "submit", class: "primary" }, t("Sign in")),
    languagePicker(),
  );
  replace(root, h("main", { id: "main" }, form));
  key.focus();
}

function languagePicker() {
  const select = h(
    "select",
    { id: "language", onchange: () => { setLocale(select.value); render(); } },
    LOCALES.map((locale) => h("option", { value: locale.code, selected: locale.code === currentLocale() }, locale.label)),
  );
  return h("div", { class: "language" }, h("label", { for: "language" }, t("Language")), select);
}

async function render() {
  document.documentElement.lang = currentLocale();
  document.title = t("Omnireach console");
  if (!session.key()) {
    signIn();
    return;
  }
  const current = route();
  const page = PAGES.find(([name]) => name === current.name) || PAGES[0];
  const main = h("main", { id: "main", tabindex: "-1" }, h("p", { class: "loading" }, t("Loading")));
  replace(
    root,
    h("a", { href: "#main", class: "skip", onclick: (event) => { event.preventDefault(); main.focus(); } }, t("Skip to content")),
    h(
      "header",
      {},
      h("span", { class: "brand" }, "Omnireach"),
      h(
        "nav",
        { "aria-label": t("Omnireach console") },
        h("ul", {}, PAGES.map(([name, label]) => h("li", {}, h("a", { href: `#/${name}`, "aria-current": name === page[0] ? "page" : false }, t(label))))),
      ),
      languagePicker(),
      h("button", { type: "button", class: "signout", onclick: () => { session.signOut(); location.hash = ""; render(); } }, t("Sign out")),
    ),
    main,
  );
  try {
    const hash = location.hash;
    const content = await page[2](current);
    if (location.hash === hash) {
      replace(main, content);
      main.dataset.route = hash; // rendered: what a test (or a screen reader's user) waits for
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      session.signOut();
      signIn();
      return;
    }
    replace(main, errorBox(error));
    main.dataset.route = location.hash;
  }
}

window.addEventListener("hashchange", render);
render();
