/* The compare view: several jobs' curves overlaid, seeds of one setting drawn as mean +/- std bands, best dev
   metrics against a chosen baseline, attribution dynamics (curves on shared axes, and the same probe example's
   maps side by side per epoch on one colour scale), the hyper-parameters that differ, and a CSV of every point. Running jobs
   are re-read every few seconds (only their new points; zoom is kept). The logic lives in compare-runs.js;
   this file reads the page and draws. Plotly is the page's global. */
/* global Plotly */

import { $, download, el, setStatus } from "./common/dom.js";
import { api } from "./common/http.js";
import * as Jobs from "./jobs-common.js";
import { Scrubber } from "./probe-scrubber.js";
import { sameProbe } from "./probe-maps.js";
import {
  aggregate, bandOutline, curvesCsv, dashArray, deltaTo, differingFields, entries, entryLabel,
  formatValue, hyperParameters, lineStyle, meanStd, sharedRange, withAlpha,
} from "./compare-runs.js";
import { escapeHtml } from "./common/html.js";

/** @typedef {import("./compare-runs.js").Run} Run */
/** @typedef {import("./compare-runs.js").Entry} Entry */
/** @typedef {import("./compare-runs.js").Summary} Summary */
/** @typedef {import("./compare-runs.js").XY} XY */
/** @typedef {{color: string, dash: string, symbol: string}} Style */
/** @typedef {{entry: Entry, label: string, style: Style}} Drawn */

/** Up to this many epochs, per-epoch curves get markers and a tick per epoch. */
const MARKERS_UP_TO = 20;
/** At most this many runs' maps side by side. */
const MAPS_SIDE_BY_SIDE = 4;
const picker = /** @type {HTMLSelectElement} */ ($("job-picker"));
const baselinePicker = /** @type {HTMLSelectElement} */ ($("baseline"));
const groupSeeds = /** @type {HTMLInputElement} */ ($("group-seeds"));
const smoothing = /** @type {HTMLInputElement} */ ($("smoothing"));
const byEpoch = /** @type {HTMLInputElement} */ ($("by-epoch"));
/** @type {Map<number, Run>} */
const cache = new Map();
const query = new URLSearchParams(location.search);
let ids = (query.get("ids") || "").split(",").map(Number).filter(Boolean);
/** The baseline is kept as one of its job ids, so it survives switching the seed grouping on and off. */
let baselineJob = Number(query.get("baseline")) || null;
let loadedSignature = "";

/** The job and its points; a finished job is read once, a running one gets only the points it added since. The
    job is read before its points, so a job seen finished has all of its points in the same refresh. */
async function load(/** @type {number} */ id) {
  const known = cache.get(id);
  if (known && Jobs.FINISHED.includes(known.job.state)) return known;
  const after = known && known.points.length ? known.points[known.points.length - 1].id : 0;
  const job = await api(`/api/jobs/${id}`);
  const added = await api(`/api/jobs/${id}/metrics?after=${after}`);
  const run = { job, points: [...(known ? known.points : []), ...added] };
  cache.set(id, run);
  return run;
}

/** @returns {Run[]} */
function chosenRuns() {
  return ids.flatMap((id) => cache.get(id) || []);
}

function saveAddress() {
  const params = new URLSearchParams({ ids: ids.join(",") });
  if (baselineJob !== null) params.set("baseline", String(baselineJob));
  history.replaceState(null, "", `?${params.toString().replace(/%2C/g, ",")}`);
}

/** The entry holding the baseline job; by default the first plain (no AD-DROP) entry, else the first. */
function baselineEntry(/** @type {Entry[]} */ all) {
  const chosen = all.find((e) => e.runs.some((r) => r.job.id === baselineJob))
    || all.find((e) => e.runs[0].job.spec.addrop?.enabled === false) || all[0];
  baselineJob = chosen ? chosen.runs[0].job.id : null;
  return chosen;
}

function fillBaselinePicker(/** @type {Drawn[]} */ drawn, /** @type {Entry | undefined} */ baseline) {
  const options = drawn.map(({ entry, label }) => new Option(label, String(entry.runs[0].job.id)));
  const current = [...baselinePicker.options];
  const same = options.length === current.length && options.every((o, i) => o.value === current[i].value && o.text === current[i].text);
  if (!same) baselinePicker.replaceChildren(...options);  // rebuilt only on change, so an open list stays open
  baselinePicker.value = baseline ? String(baseline.runs[0].job.id) : "";
  baselinePicker.disabled = !drawn.length;
}

/** A short line in the entry's colour and dash: the tables' legend. */
function swatch(/** @type {Style} */ style) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const line = document.createElementNS(ns, "line");
  const attrs = { width: 32, height: 10, class: "line-swatch" };
  for (const [key, value] of Object.entries(attrs)) svg.setAttribute(key, String(value));
  const lineAttrs = { x1: 0, y1: 5, x2: 32, y2: 5, stroke: style.color, "stroke-width": 2.5, "stroke-dasharray": dashArray(style.dash, 2) };
  for (const [key, value] of Object.entries(lineAttrs)) line.setAttribute(key, String(value));
  svg.append(line);
  return svg;
}

/** "0.8200 ± 0.0141" (± only over two or more runs). */
function summaryText(/** @type {Summary} */ s) {
  if (s.mean === null) return "–";
  return s.std === null ? Jobs.number(s.mean) : `${Jobs.number(s.mean)} ± ${Jobs.number(s.std)}`;
}

function lastEpoch(/** @type {Run} */ run) {
  return run.points.length ? run.points[run.points.length - 1].epoch : 0;
}

function lastDev(/** @type {Run} */ run) {
  const evals = run.points.filter((p) => p.kind === "eval" && p.values[run.job.metric] !== undefined);
  return evals.length ? evals[evals.length - 1].values[run.job.metric] : null;
}

/** One badge per state, with how many of the entry's runs are in it when more than one. */
function stateBadges(/** @type {Entry} */ entry) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const r of entry.runs) counts.set(r.job.state, (counts.get(r.job.state) || 0) + 1);
  return [...counts].map(([state, n]) => {
    const badge = Jobs.badge(state);
    if (n > 1) badge.textContent = `${n} ${state}`;
    return badge;
  });
}

function runLinks(/** @type {Entry} */ entry) {
  return entry.runs.flatMap((r, i) => [i ? ", " : "", el("a", { href: `/jobs/${r.job.id}`, text: `#${r.job.id}` })]);
}

function renderResults(/** @type {Drawn[]} */ drawn, /** @type {Entry | undefined} */ baseline) {
  const body = /** @type {HTMLElement} */ (document.querySelector("#compare-table tbody"));
  body.replaceChildren(...drawn.map(({ entry, style }) => {
    const isBaseline = entry === baseline;
    const delta = baseline && !isBaseline ? deltaTo(entry, baseline) : null;
    const deltaCell = isBaseline ? el("td", { class: "muted", text: "baseline" })
      : el("td", { class: `mono delta${delta === null || delta === 0 ? "" : delta > 0 ? " up" : " down"}`,
                        text: delta === null ? "–" : `${delta >= 0 ? "+" : "−"}${Math.abs(delta).toFixed(4)}`,
                        title: delta === null ? "no best dev metric yet, or not the baseline's task and metric" : null });
    return el("tr", { class: isBaseline ? "baseline-row" : null, "data-entry": entry.id },
      el("td", {}, swatch(style)),
      el("td", {}, runLinks(entry), " ", el("span", { text: entry.runs[0].job.name }),
        entry.grouped ? el("span", { class: "muted small", text: ` · ${entry.runs.length} seeds` }) : ""),
      el("td", { class: "states" }, stateBadges(entry)),
      el("td", { class: "small", text: `${entry.task} · ${Jobs.setting(entry.runs[0].job)}` }),
      el("td", { class: "mono", text: `${entry.metric} ${summaryText(entry.best)}` }),
      deltaCell,
      el("td", { class: "mono", text: entry.runs.map((r) => Jobs.epochNumber(r.job.best_epoch)).join(", ") }),
      el("td", { class: "mono", text: summaryText(meanStd(entry.runs.map(lastDev))) }));
  }));
}

function renderParameters(/** @type {Drawn[]} */ drawn) {
  const runs = drawn.flatMap(({ entry, style }) => entry.runs.map((run) => ({ run, style })));
  const fields = differingFields(runs.map(({ run }) => run.job.spec));
  const table = $("hparams-table");
  const head = el("tr", {}, el("th", {}), el("th", { text: "job" }),
                       // a field's name may break after its dots (addrop.|cross_tuning), so that a dozen columns fit
                       fields.map((f) => el("th", { class: "mono" }, f.split(".").flatMap((part, i) => (i ? [el("wbr"), part] : [part]))
                         .map((part, i, all) => (typeof part === "string" && i < all.length - 1 ? `${part}.` : part)))));
  const rows = runs.map(({ run, style }) => {
    const params = hyperParameters(run.job.spec);
    return el("tr", { "data-job": run.job.id },
      el("td", {}, swatch(style)),
      el("td", {}, el("a", { href: `/jobs/${run.job.id}`, text: `#${run.job.id}` }), " ",
              el("span", { text: run.job.name })),
      fields.map((f) => el("td", { class: "mono value", text: formatValue(params[f]), title: formatValue(params[f]) })));
  });
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
  $("hparams-same").textContent = runs.length < 2 ? "" : fields.length
    ? "Only the fields that differ between the chosen runs." : "The chosen runs have the same hyper-parameters.";
}

function renderWarning(/** @type {Run[]} */ runs) {
  const tasks = [...new Set(runs.map((r) => r.job.task))];
  const metrics = [...new Set(runs.map((r) => r.job.metric))];
  const what = tasks.length > 1 ? `different tasks (${tasks.join(", ")})`
    : metrics.length > 1 ? `different dev metrics (${metrics.join(", ")})` : "";
  const box = $("compare-warning");
  box.textContent = what ? `These runs are of ${what}: their metrics are not comparable. `
    + "Δ is shown only for the baseline's task and metric." : "";
  box.classList.toggle("hidden", !what);
}

/**
 * One entry's Plotly traces: a line for a run; for a group, the band (a filled outline) then the mean line.
 * @param {Drawn} drawn
 * @param {XY[][]} series  one per run of the entry
 * @param {boolean} markers  per-epoch points, drawn as markers while there are few enough to tell apart
 * @param {boolean} showlegend
 * @returns {Array<{y: number[]} & Object<string, any>>}
 */
function traces({ entry, label, style }, series, markers, showlegend) {
  const name = escapeHtml(label);
  const few = Math.max(0, ...series.map((points) => points.length)) <= MARKERS_UP_TO;
  const common = { name, legendgroup: entry.id, showlegend, mode: markers && few ? "lines+markers" : "lines",
                   line: { color: style.color, width: 2, dash: style.dash }, marker: { symbol: style.symbol, size: 7 } };
  if (!entry.grouped) {
    const [points] = series;
    return [{ ...common, x: points.map((p) => p.x), y: points.map((p) => p.y), hovertemplate: "%{y:.4f}" }];
  }
  const points = aggregate(series);
  const band = bandOutline(points);
  return [
    { x: band.x, y: band.y, name, legendgroup: entry.id, showlegend: false, mode: "lines", fill: "toself",
      fillcolor: withAlpha(style.color, 0.16), line: { width: 0 }, hoverinfo: "skip" },
    { ...common, x: points.map((p) => p.x), y: points.map((p) => p.mean),
      customdata: points.map((p) => (p.std === null ? `(1 of ${series.length} runs)`
                                                     : `± ${p.std.toFixed(4)} (${p.n} runs)`)),
      hovertemplate: "%{y:.4f} %{customdata}" },
  ];
}

function lossSeries(/** @type {Run} */ run, /** @type {number} */ weight) {
  const steps = run.points.filter((p) => p.kind === "step" && p.values.loss !== undefined);
  const smoothed = Jobs.smooth(steps.map((p) => p.values.loss), weight);
  return steps.map((p, i) => ({ x: byEpoch.checked ? p.epoch : p.step, y: smoothed[i] }));
}

function evalSeries(/** @type {Run} */ run, /** @type {string} */ key) {
  return run.points.filter((p) => p.kind === "eval" && p.values[key] !== undefined)
    .map((p) => ({ x: p.epoch, y: p.values[key] }));
}

/** Every y a chart draws (band edges included), for the shared axis. */
function yValues(/** @type {Array<{y: number[]}>} */ data) {
  return data.flatMap((t) => t.y);
}

/** One chart per dev metric (normally one): an extra metric's chart follows the first; unused ones go. */
function metricCharts(/** @type {string[]} */ metrics) {
  document.querySelectorAll(".chart.extra-metric").forEach((node, i) => {
    if (i + 1 < metrics.length) return;
    Plotly.purge(/** @type {HTMLElement} */ (node));
    node.remove();
  });
  let previous = $("compare-metric");
  return metrics.map((metric, i) => {
    if (i) {
      const node = document.getElementById(`compare-metric-${i}`)
        || el("div", { class: "chart extra-metric", id: `compare-metric-${i}` });
      previous.after(node);
      previous = node;
    }
    return { metric, node: previous };
  });
}

/** Lays the per-epoch charts out one column each (three at most); charts already drawn follow the new width. */
function setEpochColumns(/** @type {number} */ count) {
  const grid = $("compare-charts");
  const columns = String(Math.min(count, 3));
  if (grid.style.getPropertyValue("--epoch-charts") === columns) return;
  grid.style.setProperty("--epoch-charts", columns);
  grid.querySelectorAll(".js-plotly-plot").forEach((node) => Plotly.Plots.resize(/** @type {HTMLElement} */ (node)));
}

function renderCharts(/** @type {Drawn[]} */ drawn) {
  const metrics = [...new Set(drawn.map((d) => d.entry.metric))];
  const charts = metricCharts(metrics.length ? metrics : ["metric"]);
  setEpochColumns(charts.length + 1);
  const weight = Number(smoothing.value);
  const loss = drawn.flatMap((d) => traces(d, d.entry.runs.map((r) => lossSeries(r, weight)), false, true));
  const devLoss = drawn.flatMap((d) => traces(d, d.entry.runs.map((r) => evalSeries(r, "loss")), true, false));
  const lossRange = sharedRange([...yValues(loss), ...yValues(devLoss)]);
  // fresh objects per chart: Plotly writes zoom ranges into the layout it was given
  const lossAxis = () => ({ title: { text: "loss", font: { size: 11 } }, gridcolor: "#eef0f4", zeroline: false,
                            ...(lossRange ? { range: [...lossRange], autorange: false } : {}) });
  const epochs = drawn.reduce((most, d) => d.entry.runs.reduce((m, r) => Math.max(m, lastEpoch(r)), most), 0);
  const epochAxis = () => ({ title: { text: "epoch", font: { size: 11 } }, gridcolor: "#eef0f4", zeroline: false,
                             ...(epochs <= MARKERS_UP_TO ? { dtick: 1 } : {}) });  // a tick per epoch while they fit
  Plotly.react("compare-loss", loss, Jobs.layout("Training loss (smoothed)", byEpoch.checked ? "epoch" : "step", "loss",
                                                 { yaxis: lossAxis() }), Jobs.plotConfig);
  Plotly.react("compare-dev-loss", devLoss, Jobs.layout("Dev loss per epoch", "epoch", "loss",
                                                        { showlegend: false, yaxis: lossAxis(), xaxis: epochAxis() }),
               Jobs.plotConfig);
  for (const { metric, node } of charts) {
    const data = drawn.filter((d) => d.entry.metric === metric)
      .flatMap((d) => traces(d, d.entry.runs.map((r) => evalSeries(r, metric)), true, false));
    Plotly.react(node, data, Jobs.fitted(Jobs.layout(`Dev ${escapeHtml(metric)} per epoch`, "epoch", escapeHtml(metric),
                                                     { showlegend: false, xaxis: epochAxis(), uirevision: metric }), data),
                 Jobs.plotConfig);
  }
}

function dynamicsSeries(/** @type {Run} */ run, /** @type {string} */ key) {
  return run.points.filter((p) => p.kind === "dynamics" && p.values[key] !== undefined)
    .map((p) => ({ x: p.epoch, y: p.values[key] }));
}

const layerPicker = /** @type {HTMLSelectElement} */ ($("dynamics-layer"));
const scrubber = new Scrubber($("compare-scrubber"), {
  // one region for every map: the first AD-DROP run's p (a baseline twin's own is only the measured p)
  p: (runs) => runs.find((r) => r.job.spec.addrop?.enabled)?.probe.region_p ?? null,
});
/** @type {Map<number, {count: number, probe: import("./probe-maps.js").Probe}>} */
const probes = new Map();

/** The chosen runs' dynamics curves on shared axes (groups as mean +/- std), and their maps side by side. */
function renderDynamics(/** @type {Drawn[]} */ drawn) {
  const recording = drawn.filter((d) => d.entry.runs.some((r) => r.points.some((p) => p.kind === "dynamics")));
  $("compare-dynamics").classList.toggle("hidden", !recording.length);
  if (!recording.length) return;
  const layers = [...new Set(recording.flatMap((d) => d.entry.runs.flatMap((r) => r.points.filter((p) => p.kind === "dynamics")
    .flatMap((p) => Object.keys(p.values)))).filter((k) => k.startsWith("concentration_L")).map((k) => Number(k.slice(15))))]
    .sort((a, b) => a - b);
  const chosen = layerPicker.value;
  layerPicker.replaceChildren(...layers.map((l) => new Option(`${l}`, String(l))));
  layerPicker.value = layers.map(String).includes(chosen) ? chosen : String(layers[0]);
  const axis = () => ({ title: { text: "epoch", font: { size: 11 } }, gridcolor: "#eef0f4", zeroline: false, dtick: 1 });
  const curves = (/** @type {string} */ key, /** @type {boolean} */ legend) => recording.flatMap((d) => traces(
    d, d.entry.runs.map((r) => dynamicsSeries(r, key)).filter((s) => s.length), true, legend));
  Plotly.react("compare-concentration", curves(`concentration_L${layerPicker.value}`, true),
    Jobs.layout(`Concentration, layer ${layerPicker.value}: share in the top-p keys`, "epoch", "share",
                { xaxis: axis(), legend: { orientation: "h", y: -0.3 } }), Jobs.plotConfig);
  Plotly.react("compare-entropy", curves(`entropy_L${layerPicker.value}`, false),
    Jobs.layout(`Entropy, layer ${layerPicker.value} (1: spread evenly)`, "epoch", "normalised entropy",
                { xaxis: axis(), showlegend: false }), Jobs.plotConfig);
  const random = recording.map((d) => ({ ...d, label: `${d.label} (random keys)`, style: { ...d.style, dash: "dot" } }));
  Plotly.react("compare-reliance", [
    ...curves("reliance", false),
    ...random.flatMap((d) => traces(d, d.entry.runs.map((r) => dynamicsSeries(r, "reliance_random")).filter((s) => s.length), true, false)),
  ], Jobs.layout("Reliance: top-p (solid) vs random keys (dotted) dropped", "epoch", "share",
                 { xaxis: axis(), showlegend: false }), Jobs.plotConfig);
  renderMaps(recording.flatMap((d) => d.entry.runs.filter((r) => r.points.some((p) => p.kind === "dynamics"))));
}

/** The maps of the runs that probe the first one's examples, side by side; probe sets are read again when a run
    has recorded another epoch. */
async function renderMaps(/** @type {Run[]} */ runs) {
  try {
    await Promise.all(runs.map(async (run) => {
      const count = run.points.filter((p) => p.kind === "dynamics").length;
      if (probes.get(run.job.id)?.count !== count) {
        probes.set(run.job.id, { count, probe: await api(`/api/jobs/${run.job.id}/dynamics/probe`) });
      }
    }));
  } catch (error) {
    $("compare-probe-note").textContent = `maps: ${error instanceof Error ? error.message : String(error)}`;
    return;
  }
  const withProbe = runs.map((run) => ({ job: run.job, probe: /** @type {any} */ (probes.get(run.job.id)).probe }));
  const shared = withProbe.filter((r) => sameProbe(r.probe, withProbe[0].probe));
  const shown = shared.slice(0, MAPS_SIDE_BY_SIDE);
  const other = withProbe.filter((r) => !shared.includes(r)).map((r) => `#${r.job.id}`);
  const notes = [`the same probe example in ${shown.map((r) => `#${r.job.id}`).join(", ")}, side by side at one epoch`];
  if (other.length) notes.push(`left out, for probing other dev examples: ${other.join(", ")}`);
  if (shared.length > shown.length) notes.push(`only the first ${MAPS_SIDE_BY_SIDE} runs are shown`);
  $("compare-probe-note").textContent = notes.join(" · ");
  scrubber.setRuns(shown);
}

function render() {
  const runs = chosenRuns();
  const all = entries(runs, groupSeeds.checked);
  const drawn = all.map((entry, i) => ({ entry, label: entryLabel(entry), style: lineStyle(i, Jobs.COLORS) }));
  const baseline = baselineEntry(all);
  fillBaselinePicker(drawn, baseline);
  renderWarning(runs);
  renderResults(drawn, baseline);
  renderParameters(drawn);
  renderCharts(drawn);
  renderDynamics(drawn);
  /** @type {HTMLButtonElement} */ ($("download-csv")).disabled = !runs.length;
  saveAddress();
}

function downloadCsv() {
  const runs = chosenRuns();
  const csv = curvesCsv(runs, differingFields(runs.map((r) => r.job.spec)));
  download(csv, "text/csv;charset=utf-8", `compare-${ids.join("-")}.csv`);
}

/** Reads what changed and redraws only then, so hovering and open menus are not interrupted every few seconds. */
async function refresh() {
  try {
    const runs = await Promise.all(ids.map(load));
    const signature = JSON.stringify(runs.map((r) => [r.job.id, r.job.revision, r.points.length]));
    if (signature !== loadedSignature) {
      loadedSignature = signature;
      render();
    }
    setStatus(ids.length ? "" : "Choose jobs above.", false, "compare-status");
  } catch (error) {
    setStatus(error instanceof Error ? error.message : String(error), true, "compare-status");
  }
}

async function fillPicker() {
  const page = await api("/api/jobs?limit=200");
  picker.replaceChildren(...page.items.map((/** @type {import("./compare-runs.js").Job} */ job) => {
    const best = job.best_metric !== null ? `, best ${job.metric} ${Jobs.number(job.best_metric)}` : "";
    const option = new Option(`#${job.id} ${job.name} — ${job.task}, ${job.state}${best}`, String(job.id));
    option.selected = ids.includes(job.id);
    return option;
  }));
}

picker.addEventListener("change", () => {
  ids = [...picker.selectedOptions].map((o) => Number(o.value)).sort((a, b) => a - b);
  refresh();
});
baselinePicker.addEventListener("change", () => { baselineJob = Number(baselinePicker.value); render(); });
groupSeeds.addEventListener("change", render);
smoothing.addEventListener("input", () => {
  $("smoothing-value").textContent = Number(smoothing.value).toFixed(2);
  render();
});
byEpoch.addEventListener("change", render);
layerPicker.addEventListener("change", render);
$("download-csv").addEventListener("click", downloadCsv);
fillPicker().then(refresh);
setInterval(refresh, 3000);
