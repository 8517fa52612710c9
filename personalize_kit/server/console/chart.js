// Offline metrics (GetSolutionMetrics) of every ACTIVE solution version, as an inline SVG bar chart.

import {control} from "./api.js";
import {arnTail, fill, h, s} from "./dom.js";

const LABELS = {
  coverage: "Coverage",
  mean_reciprocal_rank_at_25: "MRR@25",
  normalized_discounted_cumulative_gain_at_5: "NDCG@5",
  normalized_discounted_cumulative_gain_at_10: "NDCG@10",
  normalized_discounted_cumulative_gain_at_25: "NDCG@25",
  precision_at_5: "Precision@5",
  precision_at_10: "Precision@10",
  precision_at_25: "Precision@25",
};
const COLOURS = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626"];
const MAX_SERIES = COLOURS.length;
const cache = new Map(); // solution version ARN -> metrics (a trained version's metrics never change)

async function metricsOf(arn) {
  if (!cache.has(arn)) {
    const {metrics} = await control("GetSolutionMetrics", {solutionVersionArn: arn});
    cache.set(arn, metrics || {});
  }
  return cache.get(arn);
}

function label(key) {
  return LABELS[key] || key.replace(/_at_(\d+)$/, "@$1").replace(/_/g, " ");
}

/** A round tick step and the axis top for values up to ``value`` (at most 5 steps: 0.05, 0.1, 0.25 ...). */
function axis(value) {
  if (!(value > 0)) return {step: 0.25, top: 1};
  const raw = value / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((m) => m >= raw);
  return {step, top: Math.ceil(value / step - 1e-9) * step};
}

function decimals(step) {
  return Math.max(0, Math.min(4, -Math.floor(Math.log10(step) + 1e-9) + (String(step).includes("25") ? 1 : 0)));
}

function svgChart(keys, series) {
  const width = 760, height = 280, left = 44, right = 8, top = 12, bottom = 40;
  const plotW = width - left - right, plotH = height - top - bottom;
  const {step, top: top1} = axis(Math.max(...series.flatMap((x) => keys.map((k) => Number(x.metrics[k]) || 0))));
  const y = (v) => top + plotH - (v / top1) * plotH;
  const group = plotW / keys.length;
  const barW = Math.max(3, Math.min(22, (group * 0.75) / series.length));
  const nodes = [];
  const steps = Math.round(top1 / step);
  for (let i = 0; i <= steps; i += 1) {
    const v = i * step;
    nodes.push(s("line", {x1: left, x2: width - right, y1: y(v), y2: y(v), className: i ? "grid" : "axis"}));
    nodes.push(s("text", {x: left - 6, y: y(v) + 4, className: "tick", "text-anchor": "end"},
      v.toFixed(decimals(step))));
  }
  keys.forEach((key, k) => {
    const x0 = left + k * group + (group - barW * series.length) / 2;
    series.forEach((ser, i) => {
      const v = Number(ser.metrics[key]) || 0;
      nodes.push(s("rect", {x: x0 + i * barW, y: y(v), width: Math.max(1, barW - 2), height: Math.max(0, y(0) - y(v)),
        fill: COLOURS[i], rx: 2}, s("title", {}, `${ser.label}: ${label(key)} ${v.toFixed(4)}`)));
    });
    nodes.push(s("text", {x: left + k * group + group / 2, y: height - bottom + 18, className: "tick",
      "text-anchor": "middle"}, label(key)));
  });
  return s("svg", {viewBox: `0 0 ${width} ${height}`, className: "chart", role: "img",
    "aria-labelledby": "metrics-chart-title", preserveAspectRatio: "xMidYMid meet"},
  s("title", {id: "metrics-chart-title"}, `Offline metrics of ${series.length} solution version(s)`), ...nodes);
}

function legend(series) {
  return h("ul", {className: "legend"}, series.map((ser, i) => h("li", {},
    h("span", {className: "swatch", style: `background:${COLOURS[i]}`, "aria-hidden": "true"}), ser.label)));
}

function table(keys, series) {
  return h("details", {className: "data"}, h("summary", {}, "Show the numbers"),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {scope: "col"}, "Solution version"),
      keys.map((k) => h("th", {scope: "col"}, label(k))))),
    h("tbody", {}, series.map((ser) => h("tr", {}, h("th", {scope: "row"}, ser.label),
      keys.map((k) => h("td", {}, ser.metrics[k] === undefined ? "–" : Number(ser.metrics[k]).toFixed(4))))))));
}

/** The ACTIVE solution versions of a snapshot, newest first, with a readable label. */
function activeVersions(snapshot) {
  const out = [];
  for (const g of snapshot.groups) {
    for (const sol of g.solutions) {
      for (const v of sol.versions) {
        if (v.status === "ACTIVE") {
          const prefix = snapshot.groups.length > 1 ? `${g.name} / ` : "";
          out.push({arn: v.solutionVersionArn, created: v.creationDateTime || 0,
            label: `${prefix}${sol.name} · ${arnTail(v.solutionVersionArn).slice(0, 8)}`});
        }
      }
    }
  }
  return out.sort((a, b) => b.created - a.created);
}

/** Draw the metrics chart of the snapshot's ACTIVE versions into ``container``. */
export async function renderMetrics(container, snapshot) {
  const versions = activeVersions(snapshot);
  const key = versions.map((v) => v.arn).join("|");
  if (container.dataset.key === key) return; // nothing new: leave the chart (and an open table) alone
  if (!versions.length) {
    container.dataset.key = key;
    fill(container, h("p", {className: "empty"},
      "No trained solution version yet: metrics appear here when a version becomes ACTIVE."));
    return;
  }
  // the newest versions, in name order so that a solution keeps its colour while its versions come and go
  const shown = versions.slice(0, MAX_SERIES).sort((a, b) => a.label.localeCompare(b.label));
  const series = await Promise.all(shown.map(async (v) => ({...v, metrics: await metricsOf(v.arn)})));
  const present = new Set(series.flatMap((x) => Object.keys(x.metrics)));
  const keys = [...Object.keys(LABELS).filter((k) => present.has(k)),
    ...[...present].filter((k) => !(k in LABELS)).sort()];
  container.dataset.key = key;
  if (!keys.length) {
    fill(container, h("p", {className: "empty"}, "The ACTIVE solution versions have no metrics."));
    return;
  }
  fill(container, svgChart(keys, series), legend(series), table(keys, series),
    versions.length > MAX_SERIES ? h("p", {className: "hint"},
      `The ${MAX_SERIES} newest of ${versions.length} versions are shown.`) : null);
}
