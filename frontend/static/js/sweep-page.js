/* One sweep's page: progress, baseline and best setting, the p x q heatmap against the baseline (pruned and
   pending cells marked), the trials table, the trials' dev curves over the baseline's band, and the importance
   of each searched setting. Re-read every few seconds while the sweep runs. */

import { toCsv } from "./common/csv.js";
import { $, download, el } from "./common/dom.js";
import { STYLE } from "./common/figure-style.js";
import { api } from "./common/http.js";
import { aggregate, bandOutline, sharedRange } from "./compare-runs.js";
import { escapeHtml } from "./common/html.js";
import { untilDrawn } from "./jobs-common.js";
import { confirmStep, deletePrompt, sweepNotDeletable } from "./deletion.js";
import { bestPairedText, detectableText, pairedDirection, pairedText } from "./sweep-paired.js";
import {
  curveName, heatmap, heatmapNote, needsRow, needsScale, plural, prunedTrials, signed, slices, sortTrials, summaryText, symmetricLimit, trialsRows, twinCompareHref, useTheseHref,
} from "./sweep-view.js";

const Plotly = /** @type {any} */ (window).Plotly;
const root = /** @type {HTMLElement} */ (document.getElementById("sweep-page"));
const sweepId = Number(root.dataset.sweepId);
// A trial's state on its cell (the figures' definition, which addrop.viz's sweep map draws from too): a pruned cell
// has a value, so its mark goes towards the cell's corner, off the label; the others mark empty cells.
const MARKS = STYLE.sweep_map.marks;
const config = { displaylogo: false, responsive: true };
let sort = { key: "number", direction: "asc" };
let current = null, curvesRevision = -1, curvesFetched = 0, importanceRevision = -1, timer = null;

function stat(id, text) { $(id).textContent = text; }

function renderHeader(sweep) {
  $("sweep-warnings").classList.toggle("hidden", !sweep.warnings.length);
  $("sweep-warnings").textContent = sweep.warnings.map((w) => `Note: ${w}`).join(" ");
  $("sweep-state").textContent = sweep.state;
  $("sweep-state").className = `badge ${sweep.state}`;
  const done = sweep.finished;
  const own = sweep.trials.filter((t) => t.same_as === null).length;
  $("progress-bar").style.width = `${Math.min(100, (100 * done) / Math.max(1, sweep.budget))}%`;
  const jobs = Object.entries(sweep.counts).filter(([k]) => k.startsWith("jobs.")).map(([k, v]) => `${v} ${k.slice(5)}`);
  const shared = sweep.trials.length - own;
  stat("progress-text", `${done} of ${sweep.budget} settings finished (${prunedTrials(sweep)} pruned${shared ? `, ${shared} sharing another's runs` : ""}) · jobs: ${jobs.join(", ") || "none yet"}`
    + (sweep.message ? ` · ${sweep.message}` : ""));
  stat("baseline-value", sweep.baseline && sweep.baseline.mean !== null ? sweep.baseline.mean.toFixed(4) : "–");
  const earlier = sweep.baseline_job_ids.length ? "" : " · runs before this sweep";
  stat("baseline-detail", !sweep.baseline ? "no baseline twin"
    : sweep.baseline.mean === null ? `no finished run yet · ${sweep.metric}` : `${summaryText(sweep.baseline)} · ${sweep.metric}${earlier}`);
  const best = sweep.best;
  stat("best-value", best ? best.value.mean.toFixed(4) : "–");
  stat("best-detail", best ? `p = ${best.params.p}, q = ${best.params.q}, ${best.params.method} ${best.params.mode} L${best.params.layers.join(",")}`
    + ` · Δ ${signed(best.delta)}` : "no finished trial yet");
  stat("best-paired", best ? bestPairedText(best.paired) : "");
  $("best-paired").className = `small delta ${pairedDirection(best && best.paired)}`;
  stat("best-power", best ? detectableText(best.paired) : "");
  const link = /** @type {HTMLAnchorElement} */ ($("use-these"));
  const href = best && useTheseHref(best);
  link.classList.toggle("hidden", !href);
  if (href) link.href = href;
  $("cancel-button").classList.toggle("hidden", sweep.state !== "running");
  $("delete-button").classList.toggle("hidden", sweep.state === "running");
  $("delete-button").title = sweepNotDeletable(sweep) || "Delete this sweep, its jobs and their files";
  const ids = [...sweep.baseline_job_ids, ...sweep.trials.flatMap((t) => (t.same_as === null ? t.job_ids : []))];
  /** @type {HTMLAnchorElement} */ ($("compare-link")).href = `/jobs/compare?ids=${ids.slice(0, 40).join(",")}`;
  $("live-dot").classList.toggle("on", sweep.state === "running");
}

function renderHeatmap(sweep) {
  const space = sweep.spec.space;
  const select = /** @type {HTMLSelectElement} */ ($("slice"));
  const names = slices(space);
  if (select.options.length !== names.length) select.replaceChildren(...names.map((n) => new Option(n, n)));
  $("slice-field").classList.toggle("hidden", names.length < 2);
  const map = heatmap(sweep.trials, space, select.value || names[0], sweep.baseline, sweep.metric);
  // A large map takes the charts' first row; the curves and importance share the second.
  const ownRow = needsRow(space);
  $("heatmap").classList.toggle("wide", ownRow);
  $("heatmap").parentElement?.classList.toggle("pair", ownRow);
  const limit = symmetricLimit(map.z);
  const clipped = map.z.flat().some((v) => v !== null && Math.abs(v) > limit);
  const heat = {
    type: "heatmap", x: map.x.map(String), y: map.y.map(String), z: map.z, text: map.text, hoverinfo: "text",
    hoverongaps: true, xgap: 2, ygap: 2,
    // The relative scale (Plotly.js's RdBu, spelt out: Plotly's Python names RdBu the other way round) runs blue to
    // red upwards; reversed, a gain over the baseline is blue and a loss red.
    colorscale: map.relative ? STYLE.sweep_map.relative_scale : STYLE.sweep_map.absolute_scale,
    reversescale: map.relative && STYLE.sweep_map.relative_reversed, zmid: map.relative ? 0 : undefined,
    texttemplate: map.relative ? "%{z:+.3f}" : "%{z:.3f}", textfont: { size: 11 },
    zmin: map.relative ? -limit : undefined, zmax: map.relative ? limit : undefined,
    showscale: needsScale(map.z, map.relative),
    colorbar: { title: { text: map.relative ? `Δ ${escapeHtml(sweep.metric)}<br>vs baseline${clipped ? `<br>(beyond ±${limit.toFixed(3)}: darkest)` : ""}`
      : escapeHtml(sweep.metric), side: "right" }, thickness: 12 },
  };
  const traces = [heat];
  // Marks sit on numeric axes laid over the categories (cell i spans i ± 0.5), so that one can go to a corner.
  for (const [state, style] of Object.entries(MARKS)) {
    const cells = map.marks.filter((m) => m.state === state);
    if (!cells.length) continue;
    const shift = style.corner;
    traces.push({ type: "scatter", mode: "markers", name: state, xaxis: "x2", yaxis: "y2",
                  x: cells.map((c) => map.x.indexOf(c.q) + shift), y: cells.map((c) => map.y.indexOf(c.p) + shift),
                  marker: { symbol: style.symbol, size: style.size, color: style.color, line: { width: 2, color: style.color } },
                  hoverinfo: "skip" });
  }
  // Not fixedrange: a zoom of the map must move the marks with their cells.
  const overlay = (n, over) => ({ overlaying: over, range: [-0.5, n - 0.5], visible: false });
  Plotly.react("heatmap", traces, {
    title: { text: map.relative ? "best dev metric − baseline mean" : "best dev metric", font: { size: 13 } },
    // Categories and ranges spelt out: before any trial has a value the heatmap's cells are all empty, and Plotly
    // would then draw the axes with no p or q on them.
    margin: { l: 54, r: 10, t: 36, b: 64 }, xaxis: categoryAxis("q (drop probability)", map.x),
    yaxis: categoryAxis("p (candidate fraction)", map.y),
    xaxis2: overlay(map.x.length, "x"), yaxis2: overlay(map.y.length, "y"),
    legend: { orientation: "h", y: -0.22 }, showlegend: map.marks.length > 0,
  }, config);
  $("heatmap-note").textContent = heatmapNote(map, Boolean(sweep.baseline), MARKS);
}

// A category axis of values in this order, all of them shown, with or without data on them.
function categoryAxis(title, values) {
  const names = values.map(String);
  return { title: { text: title }, type: "category", categoryorder: "array", categoryarray: names,
           range: [-0.5, names.length - 0.5], tickmode: "array", tickvals: names, ticktext: names };
}

function renderTable(sweep) {
  const body = document.querySelector("#trials-table tbody");
  const rows = sortTrials(sweep.trials, /** @type {any} */ (sort.key), /** @type {any} */ (sort.direction)).map((t) => {
    const delta = el("td", { class: `delta ${t.delta > 0 ? "up" : t.delta < 0 ? "down" : ""}`, text: signed(t.delta) });
    // coloured only when its interval leaves out 0: a paired mean above 0 alone shows no gain
    const paired = el("td", { class: `paired delta ${pairedDirection(t.paired)}`, text: pairedText(t.paired) });
    const jobs = el("td", {}, ...t.job_ids.map((id, i) => {
      const twin = twinCompareHref(t, i, sweep);
      const vs = twin ? el("a", { class: "small twin-compare", href: twin, text: "vs",
                                  title: "this run beside its baseline twin (same seed): curves and attribution maps" }) : "";
      return [i ? " " : "", el("a", { href: `/jobs/${id}`, text: `#${id}` }), twin ? " " : "", vs];
    }));
    const dynamics = (/** @type {"concentration" | "reliance"} */ key) => el("td", { class: "mono", text:
      t.dynamics && t.dynamics[key].mean !== null ? t.dynamics[key].mean.toFixed(3) : "–" });
    return el("tr", { "data-trial": t.number },
      el("td", { text: t.same_as === null ? t.number : `${t.number} (= ${t.same_as})` }),
      el("td", {}, el("span", { class: `badge ${t.state}`, text: t.state })),
      el("td", { text: t.params.p }), el("td", { text: t.params.q }), el("td", { text: t.params.method }),
      el("td", { text: t.params.mode }), el("td", { text: t.params.layers.join(",") }),
      el("td", { class: "mono", text: t.value.mean === null ? "–" : t.value.mean.toFixed(4) }),
      el("td", { class: "mono", text: t.value.std === null ? "–" : t.value.std.toFixed(4) }),
      el("td", { text: t.value.n }), delta, paired, dynamics("concentration"), dynamics("reliance"), jobs);
  });
  body.replaceChildren(...rows);
  document.querySelectorAll("#trials-table th[data-sort]").forEach((th) => {
    th.classList.toggle("sorted", th.dataset.sort === sort.key);
    th.dataset.direction = th.dataset.sort === sort.key ? sort.direction : "";
  });
  /** @type {HTMLButtonElement} */ ($("download-trials")).disabled = false;
  const base = sweep.baseline_dynamics;
  const baseDynamics = base && base.concentration.mean !== null
    ? ` · baseline: concentration ${base.concentration.mean.toFixed(3)}, reliance ${base.reliance.mean?.toFixed(3) ?? "–"}` : "";
  $("trials-note").textContent = `${plural(sweep.trials.length, "trial")} · click a column to sort · values are the mean over seeds of each run's best dev ${sweep.metric}`
    + ` and, for runs that record attribution dynamics, of its final epoch's concentration and reliance${baseDynamics}`
    + " · paired Δ: each run minus its baseline twin of the same seed, mean with its 95% t interval (coloured when it leaves out 0)";
}

async function renderCurves(sweep) {
  // Runs report dev points between sweep revisions: refetch on a new revision, or every 15 s while running.
  const stale = sweep.state === "running" && Date.now() - curvesFetched > 15000;
  if (sweep.revision === curvesRevision && !stale) return;
  curvesRevision = sweep.revision;
  curvesFetched = Date.now();
  const curves = await api(`/api/sweeps/${sweepId}/curves`);
  const traces = [];
  const baseline = sweep.baseline_job_ids.map((id) => (curves.jobs[id] || []).filter((p) => p.value !== null).map((p) => ({ x: p.epoch, y: p.value })));
  const band = aggregate(baseline);
  const spread = band.some((p) => p.n > 1);  // one baseline run has a curve but no band around it
  if (spread) {
    const outline = bandOutline(band);
    traces.push({ x: outline.x, y: outline.y, fill: "toself", mode: "lines", line: { width: 0 }, fillcolor: "rgba(90,98,117,0.22)",
                  name: "baseline ± std", hoverinfo: "skip" });
  }
  if (band.length) {
    traces.push({ x: band.map((p) => p.x), y: band.map((p) => p.mean), mode: "lines", name: spread ? "baseline mean" : "baseline",
                  line: { color: "#3b4252", width: 2.5, dash: "dash" } });
  }
  if (!band.length && sweep.baseline && sweep.baseline.mean !== null) {
    // A baseline from runs before this sweep has no curve here: its best value is the reference line, over
    // the epochs the trials train (not only those they reached: after one epoch, that would be a dot).
    const epochs = Object.values(curves.jobs).flat().map((p) => p.epoch);
    const span = [1, Math.max(sweep.spec.base.training.epochs, ...epochs)];
    const { mean, std } = sweep.baseline;
    if (std !== null) {
      traces.push({ x: [span[0], span[1], span[1], span[0]], y: [mean - std, mean - std, mean + std, mean + std], fill: "toself",
                    mode: "lines", line: { width: 0 }, fillcolor: "rgba(90,98,117,0.22)", name: "baseline ± std", hoverinfo: "skip" });
    }
    traces.push({ x: span, y: [mean, mean], mode: "lines", name: "baseline best (earlier runs)",
                  line: { color: "#3b4252", width: 2.5, dash: "dash" } });
  }
  const best = sweep.best ? new Set(sweep.best.job_ids) : new Set();
  for (const trial of sweep.trials) {
    if (trial.same_as !== null) continue;
    let inLegend = false;
    trial.job_ids.forEach((id, i) => {
      const points = (curves.jobs[id] || []).filter((p) => p.value !== null);
      if (!points.length) return;
      const isBest = best.has(id);
      traces.push({ x: points.map((p) => p.epoch), y: points.map((p) => p.value), mode: "lines+markers",
                    // one legend entry per trial (it toggles all its seeds), each run's seed on hover: a legend
                    // row per seed grew over the axis
                    name: escapeHtml(curveName(trial)), legendgroup: `trial-${trial.number}`,
                    showlegend: isBest && !inLegend,
                    hovertemplate: `${escapeHtml(curveName(trial, i))}<br>epoch %{x}: %{y:.4f}<extra></extra>`,
                    line: { color: isBest ? "#e8710a" : trial.state === "pruned" ? "#b7bdc9" : "#7fa0d8", width: isBest ? 3 : 1.2 },
                    marker: { size: isBest ? 6 : 3 }, opacity: isBest ? 1 : 0.8 });
      inLegend ||= isBest;
    });
  }
  // Plotly pads a flat series by ±1: an accuracy of 0.6 drawn from 0 to 1.5 hides the curves' differences.
  const range = sharedRange(traces.flatMap((t) => t.y));
  Plotly.react("curves", traces, untilDrawn({
    title: { text: `dev ${escapeHtml(sweep.metric)} per epoch`, font: { size: 13 } }, margin: { l: 50, r: 10, t: 36, b: 84 },
    // In the bottom margin, under the axis title: a legend placed below the plot area's fraction covered it.
    xaxis: { title: { text: "epoch" }, dtick: 1 }, yaxis: range ? { range, autorange: false } : {}, legend: { orientation: "h", yref: "container", y: 0, yanchor: "bottom" },
    hovermode: "closest",
  }, traces.length > 0, "no run has finished an epoch yet"), config);
}

async function renderImportance(sweep) {
  const finished = sweep.counts.complete || 0;
  if (finished === importanceRevision) return;
  importanceRevision = finished;
  const result = await api(`/api/sweeps/${sweepId}/importance`);
  const names = Object.keys(result.params);
  Plotly.react("importance", names.length ? [{ type: "bar", orientation: "h", x: names.map((n) => result.params[n]), y: names,
    marker: { color: "#2c5fbf" }, hovertemplate: "%{y}: %{x:.2f}<extra></extra>" }] : [], untilDrawn({
    title: { text: `importance of each setting (fANOVA, ${plural(result.trials, "trial")})`, font: { size: 13 } },
    margin: { l: 70, r: 10, t: 36, b: 40 }, xaxis: { range: [0, 1], title: { text: "share of the variance" } },
  }, names.length > 0, escapeHtml(result.message || "")), config);
}

async function refresh() {
  try {
    current = await api(`/api/sweeps/${sweepId}`);
    $("sweep-error").classList.add("hidden");
    renderHeader(current);
    renderHeatmap(current);
    renderTable(current);
    await Promise.all([renderCurves(current), renderImportance(current)]);
  } catch (error) {
    $("sweep-error").textContent = `Could not load the sweep: ${error.message}`;
    $("sweep-error").classList.remove("hidden");
  }
  clearTimeout(timer);
  if (!current || current.state === "running") timer = setTimeout(refresh, 3000);
}

document.querySelectorAll("#trials-table th[data-sort]").forEach((th) => th.addEventListener("click", () => {
  const key = th.dataset.sort;
  sort = { key, direction: sort.key === key && sort.direction === "asc" ? "desc" : "asc" };
  if (current) renderTable(current);
}));
$("slice").addEventListener("change", () => current && renderHeatmap(current));
$("download-trials").addEventListener("click", () => {
  if (current) download(toCsv(trialsRows(current)), "text/csv;charset=utf-8", `sweep-${sweepId}-trials.csv`);
});
$("cancel-button").addEventListener("click", async () => {
  if (!confirm("Cancel the sweep? Its queued jobs are cancelled and running ones stop after their current step.")) return;
  try {
    current = await api(`/api/sweeps/${sweepId}/cancel`, { method: "POST" });
    refresh();
  } catch (error) {
    $("sweep-error").textContent = error.message;
    $("sweep-error").classList.remove("hidden");
  }
});
confirmStep($("delete-button"), $("delete-confirm"), () => (current && (sweepNotDeletable(current) || deletePrompt("sweep", current))) || "", async () => {
  const refusal = current && sweepNotDeletable(current);
  if (refusal) throw new Error(`Sweep ${sweepId} cannot be deleted yet: ${refusal}.`);
  await api(`/api/sweeps/${sweepId}`, { method: "DELETE" });
  location.href = "/sweeps";
});
refresh();
