/* The probe-map scrubber's logic, free of the DOM so Node can test it: token ticks, which probe sets match, the
   epochs to scrub through, and where "open in explorer" leads for an epoch (only the kept checkpoint's epoch has
   one). The region's outline and the colour scale are the explorer's own (explorer/matrix.js, figures.js). */

import { tickStep } from "./explorer/figures.js";

/**
 * @typedef {{dev_indices: number[], tokens: string[][], texts: string[][] | null, layers: number[],
 *            heads: number | null, epochs: number[], measured_p: number, region_p: number,
 *            region_mode: "high" | "low"}} Probe
 * @typedef {{id: number, best_epoch: number | null, explorer_model: string | null}} JobLike
 */

/**
 * Plotly tick values and texts for a map's tokens on a numeric axis (a category axis would merge repeated
 * tokens): every token of a short map, every k-th of a long one (the explorer's step).
 * @param {string[]} tokens
 * @returns {{tickvals: number[], ticktext: string[]}}
 */
export function tokenTicks(tokens) {
  const step = tickStep(tokens.length);
  const tickvals = tokens.map((_, i) => i).filter((i) => i % step === 0);
  return { tickvals, ticktext: tickvals.map((i) => tokens[i]) };
}

/**
 * Whether two runs probe the same dev examples (twins of one task and seed do), so their maps compare.
 * @param {Probe} a
 * @param {Probe} b
 * @returns {boolean}
 */
export function sameProbe(a, b) {
  return a.dev_indices.length === b.dev_indices.length && a.dev_indices.every((v, i) => v === b.dev_indices[i]);
}

/**
 * Every epoch any of the probes has maps of, in order: the scrubber's stops.
 * @param {Probe[]} probes
 * @returns {number[]}
 */
export function scrubEpochs(probes) {
  return [...new Set(probes.flatMap((p) => p.epochs))].sort((a, b) => a - b);
}

/**
 * The slider position after the epochs changed: the chosen epoch where it still is, the newest when the user was
 * on the newest before (a running job's scrubber follows its epochs), else the nearest earlier one.
 * @param {number[]} epochs
 * @param {number | null} chosen
 * @param {boolean} following
 * @returns {number}
 */
export function keptPosition(epochs, chosen, following) {
  if (!epochs.length) return 0;
  if (following || chosen === null) return epochs.length - 1;
  const at = epochs.indexOf(chosen);
  if (at >= 0) return at;
  const earlier = epochs.filter((e) => e < chosen).length;
  return Math.max(0, earlier - 1);
}

/**
 * What "open in explorer" offers for a run's map at ``epoch``: a link when the job kept a checkpoint of that
 * epoch (a job keeps its best epoch's only), else a sentence saying why there is none.
 * @param {JobLike} job
 * @param {Probe} probe
 * @param {{example: number, epoch: number, layer: number, head: number, p: number, mode: string}} view
 * @returns {{href: string | null, note: string}}
 */
export function explorerTarget(job, probe, view) {
  if (!job.explorer_model) return { href: null, note: "this job kept no checkpoint, so no epoch opens in the explorer" };
  const best = job.best_epoch === null ? null : Math.round(job.best_epoch);
  if (best !== view.epoch) {
    return { href: null, note: `no checkpoint was kept for epoch ${view.epoch}: the job keeps only its best epoch's (epoch ${best})` };
  }
  if (!probe.texts) return { href: null, note: "this job's probe set was recorded without its texts, so the explorer cannot be given the example" };
  const [text, pair] = probe.texts[view.example];
  const params = new URLSearchParams({ model: job.explorer_model, text });
  if (pair !== undefined) params.set("pair", pair);
  params.set("method", "GA");
  params.set("layer", String(view.layer));
  params.set("head", String(view.head));
  params.set("p", String(view.p));
  params.set("mode", view.mode);
  return { href: `/?${params.toString()}`, note: `epoch ${view.epoch}'s checkpoint (the best epoch)` };
}

/**
 * The maps endpoint's address for one run's view.
 * @param {number} jobId
 * @param {{example: number, epoch: number, layer: number, head: number}} view
 * @param {number | null} [p]  the region's p instead of the job's
 * @returns {string}
 */
export function mapUrl(jobId, view, p = null) {
  const params = new URLSearchParams({ example: String(view.example), epoch: String(view.epoch),
                                       layer: String(view.layer), head: String(view.head) });
  if (p !== null) params.set("p", String(p));
  return `/api/jobs/${jobId}/dynamics/maps?${params.toString()}`;
}

/**
 * A probe example's label in the picker: its position, dev index and first tokens (special ones left out).
 * @param {Probe} probe
 * @param {number} example
 * @param {number} [words]
 * @returns {string}
 */
export function exampleLabel(probe, example, words = 8) {
  const tokens = probe.tokens[example].filter((t) => !/^\[.*\]$|^<.*>$/.test(t));
  const text = probe.texts ? probe.texts[example].join(" ‖ ") : tokens.join(" ");
  const cut = text.split(/\s+/).slice(0, words).join(" ");
  return `${example} · dev ${probe.dev_indices[example]} · ${cut}${cut.length < text.length ? " …" : ""}`;
}
