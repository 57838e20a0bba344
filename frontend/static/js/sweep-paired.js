/* A setting's runs against their baseline twins of the same seed (the API's TrialOut.paired) as the sweep page shows
   them: the paired difference with its 95% t interval, in the trials table and the best-setting card, and what the
   seeds could detect. Values are in the metric's own units, as the page's Δ baseline. */

import { plural, signed } from "./sweep-view.js";

/**
 * @typedef {{seeds: number[], differences: number[], n: number, mean: number, std: number | null,
 *            low: number | null, high: number | null, detectable: number | null}} Paired
 */

/**
 * "+0.0065 (−0.0092 to +0.0223), 5 seeds"; one seed: "+0.0054 (1 seed)"; nothing paired: "–".
 * @param {Paired | null | undefined} paired
 * @returns {string}
 */
export function pairedText(paired) {
  if (!paired) return "–";
  if (paired.low === null || paired.high === null) return `${signed(paired.mean)} (${plural(paired.n, "seed")})`;
  return `${signed(paired.mean)} (${signed(paired.low)} to ${signed(paired.high)}), ${plural(paired.n, "seed")}`;
}

/**
 * "up" when the 95% interval lies above 0, "down" when below, else "" (one seed has no interval, so no direction).
 * @param {Paired | null | undefined} paired
 * @returns {"up" | "down" | ""}
 */
export function pairedDirection(paired) {
  if (!paired || paired.low === null || paired.high === null) return "";
  return paired.low > 0 ? "up" : paired.high < 0 ? "down" : "";
}

/**
 * What the seeds could find: "these 5 seeds detect only effects of ≥ 0.0210 (80% power)"; "" under two seeds or
 * when the differences do not spread (the API gives no detectable effect then).
 * @param {Paired | null | undefined} paired
 * @returns {string}
 */
export function detectableText(paired) {
  if (!paired || paired.n < 2 || paired.detectable === null) return "";
  return `these ${paired.n} seeds detect only effects of ≥ ${paired.detectable.toFixed(4)} (80% power)`;
}

/**
 * The best-setting card's paired line: "paired Δ (95% CI) +0.0065 (−0.0092 to +0.0223), 5 seeds"; "" when the
 * sweep has no baseline twin of a finished seed.
 * @param {Paired | null | undefined} paired
 * @returns {string}
 */
export function bestPairedText(paired) {
  return paired ? `paired Δ (95% CI) ${pairedText(paired)}` : "";
}
