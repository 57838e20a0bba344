/* The sweep page's logic, free of the DOM so Node can test it: the p x q cells of one slice of the space
   (method, mode, layers), coloured by the difference to the baseline, the trials table's sort, the text
   shown for a trial, and the compare view of a trial's run beside its baseline twin. */

import { escapeHtml } from "./common/html.js";

/**
 * @typedef {{mean: number | null, std: number | null, n: number, values: number[]}} Summary
 * @typedef {{p: number, q: number, method: string, mode: string, layers: number[]}} Setting
 * @typedef {{concentration: Summary, reliance: Summary}} RunDynamics
 * @typedef {{n: number, mean: number, low: number | null, high: number | null}} PairedMean
 * @typedef {{number: number, state: string, params: Setting, value: Summary, delta: number | null,
 *            paired?: PairedMean | null, job_ids: number[], seeds: number[], same_as: number | null,
 *            dynamics?: RunDynamics | null}} Trial
 * @typedef {{p: number[], q: number[], method: string[], mode: string[], layers: number[][]}} Space
 */

/**
 * The note under the p x q map: what its colours show, then every mark it draws, named by its state in the order of
 * the figures' definition (``marks``: figure-style.json's sweep_map.marks, each with its glyph).
 * @param {{relative: boolean}} map
 * @param {boolean} baseline whether the sweep has a baseline (unfinished where the map is not relative)
 * @param {Record<string, {glyph: string}>} marks
 * @returns {string}
 */
export function heatmapNote(map, baseline, marks) {
  const colours = map.relative ? "red: below the baseline · blue: above"
    : baseline ? "the baseline has not finished yet: colours show the metric" : "no baseline in this sweep: colours show the metric";
  return [colours, ...Object.entries(marks).map(([state, mark]) => `${mark.glyph} ${state}`)].join(" · ");
}

/**
 * The label of a trial's slice: the settings other than p and q.
 * @param {Setting} params
 * @returns {string}
 */
export function sliceLabel(params) {
  return `${params.method} · ${params.mode} · L${params.layers.join(",")}`;
}

/**
 * Every slice of the space, in the space's order.
 * @param {Space} space
 * @returns {string[]}
 */
export function slices(space) {
  const out = [];
  for (const method of space.method) for (const mode of space.mode) for (const layers of space.layers) {
    out.push(sliceLabel({ p: 0, q: 0, method, mode, layers }));
  }
  return out;
}

/**
 * A number with a sign, as the page shows differences.
 * @param {number | null} value
 * @param {number} [digits]
 * @returns {string}
 */
export function signed(value, digits = 4) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(digits)}`;
}

/**
 * "0.8123 ± 0.0100 (3 runs)", or "0.8123 (1 run)", or "–".
 * @param {Summary} summary
 * @returns {string}
 */
export function summaryText(summary) {
  if (!summary || summary.mean === null) return "–";
  const spread = summary.std === null ? "" : ` ± ${summary.std.toFixed(4)}`;
  return `${summary.mean.toFixed(4)}${spread} (${summary.n} run${summary.n === 1 ? "" : "s"})`;
}

/**
 * The heatmap of one slice: rows are p, columns q. z is the difference to the baseline's mean when there is
 * one (else the metric itself); a cell without a finished value is null. ``marks`` lists the cells to draw a
 * symbol on (pruned, running or queued, failed), with its state. Hover text is HTML-escaped.
 * @param {Trial[]} trials
 * @param {Space} space
 * @param {string} slice
 * @param {{mean: number | null} | null} baseline
 * @param {string} metric
 * @returns {{x: number[], y: number[], z: (number | null)[][], text: string[][], relative: boolean,
 *            marks: {p: number, q: number, state: string}[]}}
 */
export function heatmap(trials, space, slice, baseline, metric) {
  const relative = Boolean(baseline && baseline.mean !== null);
  const z = space.p.map(() => space.q.map(() => /** @type {number | null} */ (null)));
  const text = space.p.map((p) => space.q.map((q) => `p = ${p}, q = ${q}<br>not run`));
  /** @type {{p: number, q: number, state: string}[]} */
  const marks = [];
  for (const trial of trials) {
    if (sliceLabel(trial.params) !== slice) continue;
    const row = space.p.indexOf(trial.params.p), column = space.q.indexOf(trial.params.q);
    if (row < 0 || column < 0) continue;
    const mean = trial.value.mean;
    if (mean !== null && trial.state !== "failed" && trial.state !== "cancelled") {
      z[row][column] = relative ? mean - /** @type {number} */ (baseline?.mean) : mean;
    }
    if (trial.state !== "complete") marks.push({ p: trial.params.p, q: trial.params.q, state: trial.state });
    text[row][column] = [
      `p = ${trial.params.p}, q = ${trial.params.q} · trial ${trial.number}${trial.same_as !== null ? ` (runs of trial ${trial.same_as})` : ""}`,
      `state: ${escapeHtml(trial.state)}`,
      `best dev ${escapeHtml(metric)}: ${summaryText(trial.value)}`,
      relative ? `Δ to baseline: ${signed(trial.delta)}` : "",
    ].filter(Boolean).join("<br>");
  }
  return { x: space.q, y: space.p, z, text, relative, marks };
}

/** From this many cells on, far outliers saturate rather than set the colour range. */
export const ROBUST_CELLS = 8;

/**
 * The value at fraction `f` of sorted `values`, interpolated between ranks (numpy's default).
 * @param {number[]} values
 * @param {number} f
 */
function quantile(values, f) {
  const at = (values.length - 1) * f;
  const low = Math.floor(at);
  return values[low] + (values[Math.ceil(at)] - values[low]) * (at - low);
}

/**
 * A symmetric colour range around 0 for differences (so equal gains and losses look equally strong): the
 * largest |Δ|, leaving out on a large map Tukey's far outliers (beyond Q3 + 3 IQR of |Δ|, and at least twice what is kept). A q that breaks
 * training (CoLA: -0.258) would otherwise wash every other cell (±0.015) out to grey; its cells saturate and
 * keep their labels and hover.
 * @param {(number | null)[][]} z
 * @returns {number}
 */
export function symmetricLimit(z) {
  const values = z.flat().filter((v) => v !== null && Number.isFinite(v)).map((v) => Math.abs(/** @type {number} */ (v)))
    .sort((a, b) => a - b);
  if (!values.length) return 0.01;
  const largest = Math.max(values[values.length - 1], 1e-4);
  if (values.length < ROBUST_CELLS) return largest;
  const q1 = quantile(values, 0.25), q3 = quantile(values, 0.75);
  const kept = values.filter((v) => v <= q3 + 3 * (q3 - q1));
  // Only a clear gap makes an outlier, and only kept cells that differ (a small dev set's accuracy moves in
  // steps, so many tie) have a spread worth the outliers' saturation.
  const limit = Math.max(kept[kept.length - 1], 1e-4);
  return largest >= 2 * limit && kept[kept.length - 1] > kept[0] ? limit : largest;
}

/**
 * How many of the sweep's own trials were pruned (a search's proposal of a setting already run shares the
 * original's state and is not counted twice).
 * @param {{ trials: { same_as: number | null, state: string }[] }} sweep
 * @returns {number}
 */
export const prunedTrials = (sweep) => sweep.trials.filter((t) => t.same_as === null && t.state === "pruned").length;

/**
 * A count with its noun, in the plural unless it is one: plural(1, "trial") is "1 trial".
 * @param {number} n
 * @param {string} word
 * @returns {string}
 */
export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * Whether the heatmap needs a colour scale. A map of differences to the baseline needs one as soon as a cell
 * differs from it; a map of the metric itself only when it holds two or more different values. Otherwise the
 * scale would only repeat the cells' one number over a range Plotly makes up around it (±0.0001 for zeros).
 * @param {(number | null)[][]} z
 * @param {boolean} relative
 * @returns {boolean}
 */
export function needsScale(z, relative) {
  const values = z.flat().filter((v) => v !== null && Number.isFinite(v));
  return relative ? values.some((v) => v !== 0) : new Set(values).size > 1;
}

/**
 * Whether the p x q map needs a row of its own: beside the two other charts, a map of more than five q columns
 * has cells too narrow for their labels ("+0.032").
 * @param {Space} space
 * @returns {boolean}
 */
export const needsRow = (space) => space.q.length > 5;

/**
 * The trials table as CSV rows (a header, the baseline when the sweep has one, then the trials by number):
 * each setting, the mean, sample std and count of its runs' best dev metric, every run's value, the difference
 * to the baseline's mean, the mean difference to the baseline twins of the same seeds with its 95% t interval and
 * how many seeds it pairs, the runs' job ids, and the mean final concentration and reliance of runs that record
 * attribution dynamics.
 * @param {{metric: string, trials: Trial[], baseline: Summary | null, baseline_job_ids: number[],
 *          baseline_dynamics?: RunDynamics | null}} sweep
 * @returns {unknown[][]}
 */
export function trialsRows(sweep) {
  const best = `best_dev_${sweep.metric}`;
  const rows = [["trial", "state", "p", "q", "method", "mode", "layers", `${best}_mean`, `${best}_std`, "runs",
                 `${best}_per_run`, "delta_to_baseline", "paired_mean", "paired_low", "paired_high", "paired_seeds",
                 "job_ids", "same_as", "final_concentration_mean", "final_reliance_mean"]];
  const b = sweep.baseline;
  const dyn = (/** @type {RunDynamics | null | undefined} */ d) => [d ? d.concentration.mean : null, d ? d.reliance.mean : null];
  if (b) {
    rows.push(["baseline", "", "", "", "", "", "", b.mean, b.std, b.n, b.values, "", "", "", "", "", sweep.baseline_job_ids,
               "", ...dyn(sweep.baseline_dynamics)]);
  }
  for (const t of [...sweep.trials].sort((x, y) => x.number - y.number)) {
    const { p, q, method, mode, layers } = t.params;
    const paired = t.paired;
    rows.push([t.number, t.state, p, q, method, mode, layers, t.value.mean, t.value.std, t.value.n, t.value.values,
               t.delta, paired ? paired.mean : null, paired ? paired.low : null, paired ? paired.high : null,
               paired ? paired.n : 0, t.job_ids, t.same_as, ...dyn(t.dynamics)]);
  }
  return rows;
}

/**
 * The compare view of a trial's run (``index`` into its job_ids) beside its baseline twin (the newest baseline
 * job of the same seed), with the twin as the baseline; null when the sweep has no such twin.
 * @param {Trial} trial
 * @param {number} index
 * @param {{baseline_job_ids: number[], baseline_seeds: number[]}} sweep
 * @returns {string | null}
 */
export function twinCompareHref(trial, index, sweep) {
  const seed = trial.seeds[index];
  const twins = sweep.baseline_job_ids.filter((_, i) => sweep.baseline_seeds[i] === seed);
  if (!twins.length) return null;
  const twin = Math.max(...twins);
  return `/jobs/compare?ids=${trial.job_ids[index]},${twin}&baseline=${twin}`;
}

const SORT_KEYS = {
  number: (/** @type {Trial} */ t) => t.number,
  state: (/** @type {Trial} */ t) => t.state,
  p: (/** @type {Trial} */ t) => t.params.p,
  q: (/** @type {Trial} */ t) => t.params.q,
  method: (/** @type {Trial} */ t) => t.params.method,
  mode: (/** @type {Trial} */ t) => t.params.mode,
  layers: (/** @type {Trial} */ t) => t.params.layers.join(","),
  value: (/** @type {Trial} */ t) => t.value.mean,
  std: (/** @type {Trial} */ t) => t.value.std,
  delta: (/** @type {Trial} */ t) => t.delta,
  paired: (/** @type {Trial} */ t) => t.paired?.mean,
  concentration: (/** @type {Trial} */ t) => t.dynamics?.concentration.mean,
  reliance: (/** @type {Trial} */ t) => t.dynamics?.reliance.mean,
};

/**
 * Trials sorted by a column; empty values (no result yet) always come last.
 * @param {Trial[]} trials
 * @param {keyof typeof SORT_KEYS} key
 * @param {"asc" | "desc"} direction
 * @returns {Trial[]}
 */
export function sortTrials(trials, key, direction) {
  const get = SORT_KEYS[key];
  if (!get) throw new Error(`unknown sort key ${key}`);
  const sign = direction === "desc" ? -1 : 1;
  return [...trials].sort((a, b) => {
    const x = get(a), y = get(b);
    if (x === null || x === undefined) return y === null || y === undefined ? a.number - b.number : 1;
    if (y === null || y === undefined) return -1;
    if (x < y) return -sign;
    if (x > y) return sign;
    return a.number - b.number;
  });
}

/**
 * The job form's address for running a setting again: the trial's first run cloned.
 * @param {Trial} trial
 * @returns {string | null}
 */
export function useTheseHref(trial) {
  return trial && trial.job_ids.length ? `/jobs/new?clone=${trial.job_ids[0]}` : null;
}

/**
 * The name of a trial's dev curves: its number and setting; for one run of a trial that ran several seeds
 * (``index`` into its job_ids), that run's seed too.
 * @param {Trial} trial
 * @param {number | null} [index]
 * @returns {string}
 */
export function curveName(trial, index = null) {
  const seed = index !== null && new Set(trial.seeds).size > 1 ? ` · seed ${trial.seeds[index]}` : "";
  return `trial ${trial.number} (p=${trial.params.p}, q=${trial.params.q})${seed}`;
}
