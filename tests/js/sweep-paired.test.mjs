import assert from "node:assert/strict";
import { test } from "node:test";

import { bestPairedText, detectableText, pairedDirection, pairedText } from "../../frontend/static/js/sweep-paired.js";

// Differences of 1, 2, 3, 0 and 4 points (0.01 ... 0.04): mean 0.02, sample std sqrt(2.5e-4) = 0.015811, t(0.975, 4)
// = 2.7764, so the 95% interval is 0.02 ± 2.7764 * 0.015811 / sqrt(5) = 0.02 ± 0.019632; 80% power at 5 seeds takes
// 0.026595 (addrop.paired.detectable_effect(0.015811, 5)).
const five = { seeds: [1, 2, 3, 4, 5], differences: [0.01, 0.02, 0.03, 0, 0.04], n: 5, mean: 0.02, std: 0.015811,
               low: 0.000368, high: 0.039632, detectable: 0.026595 };
const one = { seeds: [7], differences: [0.0054], n: 1, mean: 0.0054, std: null, low: null, high: null, detectable: null };

test("a paired difference reads as its mean, 95% interval and seeds, in the metric's units as Δ baseline", () => {
  assert.equal(pairedText(five), "+0.0200 (+0.0004 to +0.0396), 5 seeds");
  assert.equal(pairedText({ ...five, mean: 0.0065, low: -0.0092, high: 0.0223 }), "+0.0065 (−0.0092 to +0.0223), 5 seeds");
  assert.equal(pairedText(one), "+0.0054 (1 seed)");
  assert.equal(pairedText(null), "–");
  assert.equal(pairedText(undefined), "–");  // an API from before `paired`
});

test("only an interval that leaves out 0 gives the difference a direction", () => {
  assert.equal(pairedDirection(five), "up");
  assert.equal(pairedDirection({ ...five, mean: -0.02, low: -0.039632, high: -0.000368 }), "down");
  assert.equal(pairedDirection({ ...five, mean: 0.0065, low: -0.0092, high: 0.0223 }), "");
  assert.equal(pairedDirection(one), "");  // one seed: a difference but no interval
  assert.equal(pairedDirection(null), "");
});

test("the best setting's card says what its seeds could detect", () => {
  assert.equal(bestPairedText(five), "paired Δ (95% CI) +0.0200 (+0.0004 to +0.0396), 5 seeds");
  assert.equal(detectableText(five), "these 5 seeds detect only effects of ≥ 0.0266 (80% power)");
  assert.equal(bestPairedText(one), "paired Δ (95% CI) +0.0054 (1 seed)");
  assert.equal(detectableText(one), "");
  // differences that do not spread: an interval of one point and no power statement
  assert.equal(detectableText({ ...five, std: 0, low: 0.02, high: 0.02, detectable: null }), "");
  assert.equal(bestPairedText(null), "");
  assert.equal(detectableText(null), "");
});
