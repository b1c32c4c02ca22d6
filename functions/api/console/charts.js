// Charts drawn as SVG from numbers, each in a <figure> with a caption and the same numbers as a
// table (for screen readers and for checking: the figure carries its total in data-total).
import { h } from "./dom.js";
import { number, t } from "./i18n.js";

const PALETTE = ["#2a62b8", "#2f7d4f", "#a26a12", "#7a4bb0", "#b23b3b", "#127a86", "#6b6f2a", "#8a4f6b", "#4a5568", "#c05621"];

export function colour(index) {
  return PALETTE[index % PALETTE.length];
}

function legend(names) {
  return h(
    "ul",
    { class: "legend" },
    names.map((name, index) => h("li", {}, h("span", { class: `swatch swatch-${index % PALETTE.length}`, "aria-hidden": "true" }), name)),
  );
}

// points: [{label, values: {series: n}}]; one stacked column per point.
export function stackedColumns(caption, points, { seriesLabel = (name) => name } = {}) {
  const series = [...new Set(points.flatMap((point) => Object.keys(point.values)))].sort();
  const totals = points.map((point) => series.reduce((sum, name) => sum + (point.values[name] || 0), 0));
  const max = Math.max(1, ...totals);
  const width = 960;
  const height = 220;
  const left = 48;
  const bottom = 28;
  const slot = (width - left) / Math.max(1, points.length);
  const bar = Math.max(4, slot * 0.7);
  const scale = (height - bottom - 10) / max;
  const svg = h("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": caption, focusable: "false" });
  for (const fraction of [0, 0.5, 1]) {
    const y = height - bottom - fraction * max * scale;
    svg.append(h("line", { x1: left, x2: width, y1: y, y2: y, class: "grid" }));
    svg.append(h("text", { x: left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, number(Math.round(fraction * max))));
  }
  points.forEach((point, index) => {
    let y = height - bottom;
    const x = left + index * slot + (slot - bar) / 2;
    series.forEach((name, s) => {
      const value = point.values[name] || 0;
      if (!value) return;
      const tall = value * scale;
      y -= tall;
      svg.append(
        h("rect", { x, y, width: bar, height: tall, fill: colour(s) }, h("title", {}, `${point.label} · ${seriesLabel(name)}: ${number(value)}`)),
      );
    });
    const every = Math.ceil(points.length / 12);
    if (index % every === 0 || index === points.length - 1) {
      svg.append(h("text", { x: x + bar / 2, y: height - 8, class: "axis", "text-anchor": "middle" }, point.label));
    }
  });
  const total = totals.reduce((a, b) => a + b, 0);
  return h(
    "figure",
    { class: "chart-figure", dataset: { total: String(total) } },
    h("figcaption", {}, caption),
    svg,
    legend(series.map(seriesLabel)),
    h(
      "details",
      {},
      h("summary", {}, t("Total") + ": " + number(total)),
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, ""), series.map((name) => h("th", { scope: "col" }, seriesLabel(name))))),
        h(
          "tbody",
          {},
          points.map((point) => h("tr", {}, h("th", { scope: "row" }, point.label), series.map((name) => h("td", {}, number(point.values[name] || 0))))),
        ),
      ),
    ),
  );
}

// parts: [[label, n]]: one horizontal bar split into the parts, which add up to `total`.
export function partsBar(caption, parts, total) {
  const shown = parts.filter(([, n]) => n > 0);
  const sum = shown.reduce((a, [, n]) => a + n, 0);
  const width = 960;
  const svg = h("svg", { viewBox: `0 0 ${width} 36`, preserveAspectRatio: "none", class: "chart bar", role: "img", "aria-label": caption, focusable: "false" });
  let x = 0;
  shown.forEach(([label, n], index) => {
    const w = (n / Math.max(1, total, sum)) * width;
    svg.append(h("rect", { x, y: 0, width: w, height: 36, fill: colour(index) }, h("title", {}, `${label}: ${number(n)}`)));
    x += w;
  });
  return h(
    "figure",
    { class: "chart-figure", dataset: { total: String(sum), audience: String(total) } },
    h("figcaption", {}, caption),
    svg,
    h(
      "ul",
      { class: "legend" },
      shown.map(([label, n], index) =>
        h("li", { dataset: { part: label, count: String(n) } }, h("span", { class: `swatch swatch-${index % PALETTE.length}`, "aria-hidden": "true" }), `${label}: ${number(n)}`),
      ),
    ),
  );
}
