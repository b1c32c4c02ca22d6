// Building the page: text is only ever set as text (textContent, attributes), never parsed as
// HTML, so a trait or an event name holding markup shows as the characters it is.

export function h(tag, attrs, ...children) {
  const svg = ["svg", "g", "rect", "line", "text", "title", "path", "circle"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "value" && !svg) {
      el.value = value;
    } else if (name === "checked" || name === "selected" || name === "disabled") {
      el[name] = Boolean(value);
    } else {
      // Links go within the console, to this origin, or to http(s): never javascript:, data: or //host.
      if (name === "href" && !/^(#|\/(?!\/)|https?:\/\/)/.test(String(value))) continue;
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  return append(clear(el), children);
}

let uid = 0;
export function id(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// A labelled form control: label, control, and a place for its validation message.
export function field(label, control, hint) {
  const controlId = control.id || id("f");
  control.id = controlId;
  const message = h("p", { class: "field-error", id: `${controlId}-error`, role: "status" });
  control.setAttribute("aria-describedby", `${controlId}-error`);
  return h("div", { class: "field" }, h("label", { for: controlId }, label), control, hint ? h("p", { class: "hint" }, hint) : null, message);
}

export function showFieldError(control, text) {
  const message = document.getElementById(`${control.id}-error`);
  if (message) message.textContent = text || "";
  control.setAttribute("aria-invalid", text ? "true" : "false");
}

// A figure with its label, as the overview and reports show them; `data` lands in data-* attributes.
export function tile(label, value, data, ...more) {
  return h("div", { class: "tile", dataset: data }, h("p", { class: "tile-label" }, label), h("p", { class: "tile-value" }, value), more);
}

export function table(headers, rows, caption) {
  return h(
    "table",
    {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((header) => h("th", { scope: "col" }, header)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))),
  );
}

// A confirmation that must be answered before an action that changes or removes data.
export function confirmDialog(title, text, confirmLabel, cancelLabel) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      h("p", {}, text),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "danger", onclick: () => dialog.close("yes") }, confirmLabel),
        h("button", { type: "button", onclick: () => dialog.close("no") }, cancelLabel),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "yes");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
