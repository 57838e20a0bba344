/* The compare view's logic, free of the DOM so Node can test it: hyper-parameters flattened from each job's
   spec, runs grouped by everything but the seed, mean and sample std per x, deltas against a baseline, the
   fields that differ between runs, the long-format CSV, and HTML escaping for what Plotly renders. */

import { toCsv } from "./common/csv.js";

/**
 * @typedef {{id: number, name: string, task: string, metric: string, state: string, revision: number,
 *            best_metric: number | null, best_epoch: number | null, spec: Object<string, any>}} Job
 * @typedef {{id: number, kind: "step" | "eval" | "epoch" | "dynamics", step: number, epoch: number,
 *            values: Object<string, number>}} Point
 * @typedef {{job: Job, points: Point[]}} Run
 * @typedef {{mean: number | null, std: number | null, n: number}} Summary   std: sample std (n - 1), null when n < 2
 * @typedef {{id: string, runs: Run[], grouped: boolean, task: string, metric: string, best: Summary}} Entry
 * @typedef {{x: number, y: number}} XY
 * @typedef {{x: number, mean: number, std: number | null, n: number}} Aggregate
 */

/** Fields shown first, in this order (the ones a researcher varies); the rest follow alphabetically. */
const FIELD_ORDER = ["data.task", "model", "addrop.enabled", "addrop.method", "addrop.mode", "addrop.p", "addrop.q",
  "addrop.layers", "addrop.cross_tuning", "addrop.steps", "training.learning_rate", "training.batch_size",
  "training.epochs", "training.seed"];
const SEED = "training.seed";
const DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"];
const SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "cross", "triangle-down", "star"];

/**
 * A job's hyper-parameters as flat "section.field" keys. The name is not one; a baseline's AD-DROP fields and a
 * non-IGA method's integration steps are dropped because the run never used them (the stored spec keeps defaults).
 * @param {Object<string, any>} spec
 * @returns {Object<string, any>}
 */
export function hyperParameters(spec) {
  /** @type {Object<string, any>} */
  const flat = {};
  const walk = (/** @type {Object<string, any>} */ value, /** @type {string} */ prefix) => {
    for (const [key, inner] of Object.entries(value)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (inner !== null && typeof inner === "object" && !Array.isArray(inner)) walk(inner, name);
      else flat[name] = inner;
    }
  };
  walk(spec, "");
  delete flat.name;
  for (const key of Object.keys(flat)) {
    const unused = key.startsWith("addrop.") && key !== "addrop.enabled" && flat["addrop.enabled"] === false;
    if (unused || (key === "addrop.steps" && flat["addrop.method"] !== "IGA")) delete flat[key];
  }
  return flat;
}

/**
 * The key that runs of one setting share: every hyper-parameter except the seed, in a fixed order.
 * @param {Object<string, any>} spec
 * @returns {string}
 */
export function settingKey(spec) {
  const params = hyperParameters(spec);
  delete params[SEED];
  return JSON.stringify(Object.keys(params).sort().map((key) => [key, params[key]]));
}

/**
 * Mean and sample standard deviation (n - 1) of the finite values.
 * @param {Array<number | null | undefined>} values
 * @returns {Summary}
 */
export function meanStd(values) {
  const xs = /** @type {number[]} */ (values.filter((v) => typeof v === "number" && Number.isFinite(v)));
  const n = xs.length;
  if (!n) return { mean: null, std: null, n };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, std, n };
}

/**
 * Runs as the entries the view draws: with ``groupSeeds``, runs of one setting (2 or more) become one group;
 * otherwise, and for a setting run once, each run is its own entry. Entries keep the order of their first run.
 * @param {Run[]} runs
 * @param {boolean} groupSeeds
 * @returns {Entry[]}
 */
export function entries(runs, groupSeeds) {
  /** @type {Map<string, Run[]>} */
  const bySetting = new Map();
  for (const run of runs) {
    const key = groupSeeds ? settingKey(run.job.spec) : `job ${run.job.id}`;
    bySetting.set(key, [...(bySetting.get(key) || []), run]);
  }
  return [...bySetting.values()].map((members) => ({
    id: members.map((r) => r.job.id).join("+"),
    runs: members,
    grouped: members.length > 1,
    task: members[0].job.task,
    metric: members[0].job.metric,
    best: meanStd(members.map((r) => r.job.best_metric)),
  }));
}

/**
 * An entry's label: "#3 name", or for a group "#3, #4 name (2 seeds)" with the first run's name.
 * @param {Entry} entry
 * @returns {string}
 */
export function entryLabel(entry) {
  const ids = entry.runs.map((r) => `#${r.job.id}`).join(", ");
  return entry.grouped ? `${ids} ${entry.runs[0].job.name} (${entry.runs.length} seeds)` : `${ids} ${entry.runs[0].job.name}`;
}

/**
 * Difference of mean best dev metrics, entry minus baseline; null when either has none yet or when they are of
 * different tasks or metrics (such numbers are not comparable).
 * @param {Entry} entry
 * @param {Entry} baseline
 * @returns {number | null}
 */
export function deltaTo(entry, baseline) {
  if (entry.task !== baseline.task || entry.metric !== baseline.metric) return null;
  if (entry.best.mean === null || baseline.best.mean === null) return null;
  return entry.best.mean - baseline.best.mean;
}

/**
 * Per x (in increasing order), the mean and sample std of y over the series that have a finite y at that x.
 * @param {XY[][]} series
 * @returns {Aggregate[]}
 */
export function aggregate(series) {
  /** @type {Map<number, number[]>} */
  const byX = new Map();
  for (const points of series) {
    for (const { x, y } of points) {
      if (Number.isFinite(y)) byX.set(x, [...(byX.get(x) || []), y]);
    }
  }
  return [...byX.keys()].sort((a, b) => a - b).map((x) => {
    const { mean, std, n } = meanStd(/** @type {number[]} */ (byX.get(x)));
    return { x, mean: /** @type {number} */ (mean), std, n };
  });
}

/**
 * The closed outline of the mean +/- std band (upper edge left to right, lower edge back); where only one run
 * has the x the band closes onto the mean.
 * @param {Aggregate[]} points
 * @returns {{x: number[], y: number[]}}
 */
export function bandOutline(points) {
  const upper = points.map((p) => p.mean + (p.std ?? 0));
  const lower = points.map((p) => p.mean - (p.std ?? 0));
  return { x: [...points.map((p) => p.x), ...points.map((p) => p.x).reverse()], y: [...upper, ...lower.reverse()] };
}

/**
 * One y range for every chart that shows the same quantity, padded by ``pad`` of its span.
 * @param {number[]} values
 * @param {number} [pad]
 * @returns {[number, number] | null}
 */
export function sharedRange(values, pad = 0.05) {
  let lo = Infinity, hi = -Infinity;  // a loop, not Math.min(...values): long runs exceed the argument limit
  for (const v of values) {
    if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  }
  if (lo > hi) return null;
  const margin = (hi - lo) * pad || Math.abs(hi) * pad || 1;
  return [lo - margin, hi + margin];
}

/**
 * The hyper-parameters whose values are not the same for every spec (a field that some lack counts as
 * differing), in FIELD_ORDER first.
 * @param {Object<string, any>[]} specs
 * @returns {string[]}
 */
export function differingFields(specs) {
  const params = specs.map(hyperParameters);
  const keys = new Set(params.flatMap((p) => Object.keys(p)));
  const differ = [...keys].filter((key) => new Set(params.map((p) => JSON.stringify(p[key]))).size > 1);
  const rank = (/** @type {string} */ key) => (FIELD_ORDER.includes(key) ? FIELD_ORDER.indexOf(key) : FIELD_ORDER.length);
  return differ.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * A hyper-parameter's value as text for the table: "–" when the run has no such field, "none" when it is unset
 * (e.g. training.patience null: no early stopping).
 * @param {unknown} value
 * @returns {string}
 */
export function formatValue(value) {
  if (value === undefined) return "–";
  if (value === null) return "none";
  if (Array.isArray(value)) return value.join(",");
  return String(value);
}

/**
 * The style of the i-th entry: colour and dash both change from one entry to the next, so neighbours differ in
 * greyscale too, and 24 entries get distinct pairs with 8 colours.
 * @param {number} index
 * @param {string[]} colors
 * @returns {{color: string, dash: string, symbol: string}}
 */
export function lineStyle(index, colors) {
  return { color: colors[index % colors.length], dash: DASHES[index % DASHES.length], symbol: SYMBOLS[index % SYMBOLS.length] };
}

/**
 * An SVG stroke-dasharray that draws ``dash`` as Plotly does for a line of ``width`` px (for legend swatches).
 * @param {string} dash
 * @param {number} width
 * @returns {string}
 */
export function dashArray(dash, width) {
  const u = Math.max(width, 3);
  /** @type {Object<string, number[]>} */
  const patterns = { solid: [], dot: [u, u], dash: [3 * u, 3 * u], longdash: [5 * u, 5 * u], dashdot: [3 * u, u, u, u],
                     longdashdot: [5 * u, 2 * u, u, 2 * u] };
  return (patterns[dash] || []).join(",");
}

/**
 * "#rrggbb" as an rgba() colour with the given opacity (for bands).
 * @param {string} hex
 * @param {number} alpha
 * @returns {string}
 */
export function withAlpha(hex, alpha) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

/**
 * Every value of every point of the runs in long format: job id, job name, the given hyper-parameters, kind,
 * step, epoch, metric name and value, one row each.
 * @param {Run[]} runs
 * @param {string[]} fields
 * @returns {string}
 */
export function curvesCsv(runs, fields) {
  /** @type {unknown[][]} */
  const rows = [["job_id", "job_name", ...fields, "kind", "step", "epoch", "metric", "value"]];
  for (const { job, points } of runs) {
    const params = hyperParameters(job.spec);
    const settings = fields.map((key) => params[key]);
    for (const point of points) {
      for (const [metric, value] of Object.entries(point.values)) {
        rows.push([job.id, job.name, ...settings, point.kind, point.step, point.epoch, metric, value]);
      }
    }
  }
  return toCsv(rows);
}
