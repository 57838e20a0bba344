import assert from "node:assert/strict";
import { test } from "node:test";

import { STYLE } from "../../frontend/static/js/common/figure-style.js";

import { curveName, heatmap, heatmapNote, needsRow, needsScale, trialsRows, plural, prunedTrials, signed, sliceLabel, slices, sortTrials, summaryText, symmetricLimit, twinCompareHref, useTheseHref }
  from "../../frontend/static/js/sweep-view.js";

const space = { p: [0.1, 0.3], q: [0.2, 0.4, 0.6], method: ["GA", "RD"], mode: ["high"], layers: [[0]] };
const trial = (number, p, q, state, values, extra = {}) => {
  const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
  return { number, state, params: { p, q, method: "GA", mode: "high", layers: [0] },
           value: { mean, std: null, n: values.length, values }, delta: null, job_ids: [10 + number], same_as: null, ...extra };
};

test("slices list every method, mode and layer set", () => {
  assert.deepEqual(slices(space), ["GA · high · L0", "RD · high · L0"]);
  assert.equal(sliceLabel({ p: 0.1, q: 0.2, method: "AA", mode: "low", layers: [0, 2] }), "AA · low · L0,2");
});

test("the heatmap puts each trial in its p row and q column, relative to the baseline", () => {
  const trials = [trial(0, 0.3, 0.4, "complete", [0.80, 0.84]), trial(1, 0.1, 0.6, "pruned", [0.70]),
                  trial(2, 0.1, 0.2, "running", []), trial(3, 0.1, 0.2, "complete", [0.9], { params: { p: 0.1, q: 0.2, method: "RD", mode: "high", layers: [0] } })];
  const map = heatmap(trials, space, "GA · high · L0", { mean: 0.75 }, "f1");
  assert.deepEqual(map.x, [0.2, 0.4, 0.6]);
  assert.deepEqual(map.y, [0.1, 0.3]);
  assert.ok(map.relative);
  // 0.82 - 0.75 in row p=0.3, column q=0.4; the pruned cell keeps its partial value; RD is another slice
  assert.ok(Math.abs(map.z[1][1] - 0.07) < 1e-12);
  assert.ok(Math.abs(map.z[0][2] - (0.70 - 0.75)) < 1e-12);
  assert.equal(map.z[0][0], null);
  assert.deepEqual(map.marks, [{ p: 0.1, q: 0.6, state: "pruned" }, { p: 0.1, q: 0.2, state: "running" }]);
  assert.match(map.text[1][1], /0\.8200 \(2 runs\)/);
  assert.match(map.text[0][1], /not run/);
});

test("without a baseline the heatmap shows the metric itself", () => {
  const map = heatmap([trial(0, 0.3, 0.4, "complete", [0.5])], space, "GA · high · L0", null, "accuracy");
  assert.equal(map.relative, false);
  assert.equal(map.z[1][1], 0.5);
});

test("hover text is escaped", () => {
  const map = heatmap([trial(0, 0.3, 0.4, "complete", [0.5])], space, "GA · high · L0", null, "<b>x</b>");
  assert.match(map.text[1][1], /&lt;b&gt;x&lt;\/b&gt;/);
});

test("the colour range is symmetric around zero", () => {
  assert.equal(symmetricLimit([[0.02, null], [-0.05, 0.01]]), 0.05);
  assert.equal(symmetricLimit([[null]]), 0.01);
  // the committed CoLA search (Δ to the baseline): the two q = 0.9 cells saturate, the others keep their colour
  const cola = [[-0.258, -0.258, -0.002, -0.002, -0.001], [0.001, 0.004, 0.006, 0.011, 0.015]];
  assert.equal(symmetricLimit(cola), 0.015);
  // STS-B's spread has no far outlier: its largest loss sets the range
  const stsb = [[-0.082, -0.082, -0.038, -0.036, -0.028], [-0.023, -0.012, 0.003, 0.003, 0.003]];
  assert.equal(symmetricLimit(stsb), 0.082);
  assert.equal(symmetricLimit([[-0.258, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006]]), 0.258);  // too few cells to judge
  // tied values have no spread to protect: the cell with twice the gain stays the darkest, not one of many
  assert.equal(symmetricLimit([[0.0625, 0.0625, 0.0625, 0.0625], [0.0625, 0.0625, 0.0625, 0.125]]), 0.125);
  assert.equal(symmetricLimit([[0.001, 0.001, 0.001, 0.001], [0.001, 0.001, 0.02, 0.02]]), 0.02);
  // no clear gap above the fence: nothing saturates
  assert.equal(symmetricLimit([[0.01, 0.011, 0.012, 0.013], [0.014, 0.015, 0.016, 0.031]]), 0.031);
});

test("counts read as English", () => {
  assert.equal(plural(1, "trial"), "1 trial");
  assert.equal(plural(0, "trial"), "0 trials");
  assert.equal(plural(4, "baseline run"), "4 baseline runs");
});

test("a metric map shows a colour scale only for two or more different values", () => {
  assert.equal(needsScale([[0.81, null], [null, null]], false), false);
  assert.equal(needsScale([[0.81, 0.81], [null, NaN]], false), false);
  assert.equal(needsScale([[null]], false), false);
  assert.equal(needsScale([[0.81, null], [0.8, null]], false), true);
});

test("a map of differences shows its scale once a cell differs from the baseline", () => {
  assert.equal(needsScale([[0, 0], [null, 0]], true), false);
  assert.equal(needsScale([[null]], true), false);
  assert.equal(needsScale([[0, NaN], [null, 0]], true), false);
  assert.equal(needsScale([[0.02, null]], true), true);
  assert.equal(needsScale([[-0.01, -0.01]], true), true);
});

test("a map of more than five q columns gets a row of its own", () => {
  assert.equal(needsRow(space), false);
  assert.equal(needsRow({ ...space, q: [0.1, 0.2, 0.3, 0.4, 0.5] }), false);
  assert.equal(needsRow({ ...space, p: [0.5], q: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6] }), true);
});

test("the trials CSV has the baseline, then every trial by number with each run's value", () => {
  const trials = [trial(1, 0.3, 0.4, "pruned", [0.6]), trial(0, 0.1, 0.2, "complete", [0.5, 0.7], { delta: 0.05 })];
  const baseline = { mean: 0.55, std: 0.07, n: 2, values: [0.5, 0.6] };
  const rows = trialsRows({ metric: "f1", trials, baseline, baseline_job_ids: [3, 4] });
  assert.deepEqual(rows[0].slice(7, 11), ["best_dev_f1_mean", "best_dev_f1_std", "runs", "best_dev_f1_per_run"]);
  assert.deepEqual(rows[1], ["baseline", "", "", "", "", "", "", 0.55, 0.07, 2, [0.5, 0.6], "", "", "", "", "", [3, 4], "", null, null]);
  assert.deepEqual(rows.slice(2).map((r) => [r[0], r[1], r[2], r[3], r[9], r[10], r[11]]),
                   [[0, "complete", 0.1, 0.2, 2, [0.5, 0.7], 0.05], [1, "pruned", 0.3, 0.4, 1, [0.6], null]]);
  assert.equal(trialsRows({ metric: "f1", trials: [], baseline: null, baseline_job_ids: [] }).length, 1);
});

const dynamics = (concentration, reliance) => ({ concentration: { mean: concentration, std: null, n: 1, values: [concentration] },
                                                 reliance: { mean: reliance, std: null, n: 1, values: [reliance] } });

test("the trials CSV and sort carry each setting's final concentration and reliance", () => {
  const trials = [trial(0, 0.1, 0.2, "complete", [0.5], { dynamics: dynamics(0.4, 0.2) }),
                  trial(1, 0.3, 0.2, "complete", [0.6], { dynamics: dynamics(0.3, 0.5) }),
                  trial(2, 0.5, 0.2, "complete", [0.7])];
  const rows = trialsRows({ metric: "f1", trials, baseline: { mean: 0.5, std: null, n: 1, values: [0.5] }, baseline_job_ids: [3],
                            baseline_dynamics: dynamics(0.45, 0.1) });
  assert.deepEqual(rows[0].slice(-2), ["final_concentration_mean", "final_reliance_mean"]);
  assert.deepEqual(rows.map((r) => r.slice(-2)).slice(1), [[0.45, 0.1], [0.4, 0.2], [0.3, 0.5], [null, null]]);
  assert.deepEqual(sortTrials(trials, "concentration", "asc").map((t) => t.number), [1, 0, 2]);
  assert.deepEqual(sortTrials(trials, "reliance", "desc").map((t) => t.number), [1, 0, 2]);
});

const paired = (mean, low, high, n) => ({ seeds: [], differences: [], n, mean, std: null, low, high, detectable: null });

test("the trials CSV and sort carry each setting's paired difference to its baseline twins", () => {
  // seeds 1, 2: differences 0.02 and 0.06, mean 0.04 ± t(0.975, 1) 12.7062 * 0.02 = 0.254124
  const trials = [trial(0, 0.1, 0.2, "complete", [0.5, 0.6], { paired: paired(0.04, -0.214124, 0.294124, 2) }),
                  trial(1, 0.3, 0.2, "complete", [0.6], { paired: paired(-0.01, null, null, 1) }),
                  trial(2, 0.5, 0.2, "complete", [0.7], { paired: null }),
                  trial(3, 0.7, 0.2, "complete", [0.4], { paired: paired(0.05, 0.01, 0.09, 3) })];
  const rows = trialsRows({ metric: "f1", trials, baseline: { mean: 0.5, std: null, n: 1, values: [0.5] }, baseline_job_ids: [3] });
  assert.deepEqual(rows[0].slice(11, 17), ["delta_to_baseline", "paired_mean", "paired_low", "paired_high", "paired_seeds", "job_ids"]);
  assert.deepEqual(rows.slice(1).map((r) => r.slice(12, 16)),
                   [["", "", "", ""], [0.04, -0.214124, 0.294124, 2], [-0.01, null, null, 1], [null, null, null, 0], [0.05, 0.01, 0.09, 3]]);
  assert.deepEqual(sortTrials(trials, "paired", "desc").map((t) => t.number), [3, 0, 1, 2]);
  assert.deepEqual(sortTrials(trials, "paired", "asc").map((t) => t.number), [1, 0, 3, 2]);
});

test("a trial's run is compared with the newest baseline twin of its seed", () => {
  const t = trial(0, 0.1, 0.2, "complete", [0.5, 0.6], { job_ids: [20, 21], seeds: [1, 2] });
  const sweep = { baseline_job_ids: [3, 4, 9], baseline_seeds: [1, 2, 2] };  // job 9: seed 2's twin run again
  assert.equal(twinCompareHref(t, 0, sweep), "/jobs/compare?ids=20,3&baseline=3");
  assert.equal(twinCompareHref(t, 1, sweep), "/jobs/compare?ids=21,9&baseline=9");
  assert.equal(twinCompareHref(t, 0, { baseline_job_ids: [], baseline_seeds: [] }), null);
});

test("sorting puts trials without a result last in both directions", () => {
  const trials = [trial(0, 0.1, 0.2, "complete", [0.5]), trial(1, 0.1, 0.4, "queued", []), trial(2, 0.3, 0.2, "complete", [0.7])];
  assert.deepEqual(sortTrials(trials, "value", "desc").map((t) => t.number), [2, 0, 1]);
  assert.deepEqual(sortTrials(trials, "value", "asc").map((t) => t.number), [0, 2, 1]);
  assert.deepEqual(sortTrials(trials, "q", "asc").map((t) => t.number), [0, 2, 1]);
  assert.throws(() => sortTrials(trials, "nope", "asc"), /unknown sort key/);
});

test("numbers are shown with their sign and spread", () => {
  assert.equal(signed(0.01234), "+0.0123");
  assert.equal(signed(-0.5, 2), "−0.50");
  assert.equal(signed(null), "–");
  assert.equal(summaryText({ mean: 0.8, std: 0.01, n: 3, values: [] }), "0.8000 ± 0.0100 (3 runs)");
  assert.equal(summaryText({ mean: 0.8, std: null, n: 1, values: [] }), "0.8000 (1 run)");
  assert.equal(useTheseHref(trial(4, 0.1, 0.2, "complete", [0.5])), "/jobs/new?clone=14");
});

test("a curve is named by its trial and setting, and by its seed when the trial ran several", () => {
  const three = trial(0, 0.5, 0.7, "complete", [0.25, 0.24, 0.23], { job_ids: [18, 19, 20], seeds: [1, 2, 3] });
  assert.deepEqual([0, 1, 2].map((i) => curveName(three, i)),
                   ["trial 0 (p=0.5, q=0.7) · seed 1", "trial 0 (p=0.5, q=0.7) · seed 2", "trial 0 (p=0.5, q=0.7) · seed 3"]);
  assert.equal(curveName(three), "trial 0 (p=0.5, q=0.7)");  // the trial's own name, for its legend entry
  assert.equal(curveName(trial(1, 0.1, 0.2, "complete", [0.5], { seeds: [42] }), 0), "trial 1 (p=0.1, q=0.2)");
});

test("pruned trials are counted once: a repeated proposal shares its original's state", () => {
  const trials = [{ same_as: null, state: "pruned" }, { same_as: 0, state: "pruned" }, { same_as: null, state: "complete" }];
  assert.equal(prunedTrials({ trials }), 1);
});

test("the note under the map names every mark the map draws, with the definition's glyphs", () => {
  const marks = STYLE.sweep_map.marks;
  assert.deepEqual(Object.keys(marks), ["pruned", "running", "queued", "failed"]);
  const note = heatmapNote({ relative: true }, true, marks);
  assert.equal(note, "red: below the baseline · blue: above · × pruned · ○ running · ⊙ queued · ✖ failed");
  for (const [state, mark] of Object.entries(marks)) assert.ok(note.includes(`${mark.glyph} ${state}`), state);
  // a map of the metric itself draws the same marks
  assert.match(heatmapNote({ relative: false }, false, marks), /^no baseline in this sweep: colours show the metric · × pruned · ○ running · ⊙ queued · ✖ failed$/);
  assert.match(heatmapNote({ relative: false }, true, marks), /^the baseline has not finished yet: .* · ✖ failed$/);
});
