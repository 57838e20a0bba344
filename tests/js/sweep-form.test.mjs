import assert from "node:assert/strict";
import { test } from "node:test";

import { initialSpace, layerSets, numberList, preset, sweepSize } from "../../frontend/static/js/sweep-form.js";

test("list fields take commas or spaces and name what is wrong", () => {
  assert.deepEqual(numberList("0.1, 0.3 0.5,"), [0.1, 0.3, 0.5]);
  assert.deepEqual(numberList(""), []);
  assert.throws(() => numberList("0.1, x"), /“x” is not a number/);
  assert.throws(() => numberList("Infinity"), /not a number/);
  assert.deepEqual(layerSets("0; 0,1 ;"), [[0], [0, 1]]);
  assert.throws(() => layerSets("0; 1.5"), /not a layer index/);
  assert.throws(() => layerSets("-1"), /not a layer index/);
});

test("the size counts settings times seeds plus the baseline runs", () => {
  const space = { p: [0.1, 0.2, 0.3], q: [0.1, 0.2], method: ["GA", "RD"], mode: ["high"], layers: [[0]] };
  assert.deepEqual(sweepSize({ strategy: "grid", max_trials: null, space, seeds: [1, 2], baseline: true }),
                   { settings: 12, runs: 24, baseline: 2 });
  assert.deepEqual(sweepSize({ strategy: "tpe", max_trials: 5, space, seeds: [1], baseline: false }),
                   { settings: 5, runs: 5, baseline: 0 });
  assert.equal(sweepSize({ strategy: "tpe", max_trials: null, space, seeds: [1], baseline: false }).settings, 12);
});

test("presets follow the paper and the base job", () => {
  const base = { model: "minilm", addrop: { enabled: true, method: "GA", p: 0.4, q: 0.1, layers: [0, 1], cross_tuning: true } };
  const grid = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  const versus = preset("versus", base, grid);
  assert.deepEqual(versus.values.p, [0.4]);
  assert.deepEqual(versus.values.layers, [[0, 1]]);
  assert.deepEqual(versus.values.seeds, [1, 2, 3]);
  const prior = preset("prior", base, grid);
  assert.deepEqual([prior.values.method, prior.values.mode, prior.values.p, prior.values.q], [["GA", "RD"], ["high", "low"], [0.3], [0.3]]);
  assert.equal(prior.base.addrop.cross_tuning, false);
  assert.equal(base.addrop.cross_tuning, true);  // the caller's base is left as it was
  assert.equal(preset("grid", base, grid).values.p.length * preset("grid", base, grid).values.q.length, 81);
  assert.equal(preset("tpe", null, grid).values.max_trials, 20);
  assert.throws(() => preset("nope", base, grid), /unknown preset/);
});

test("the first space takes the base job's method, mode and layers where the server's defaults leave them out", () => {
  const space = { p: [0.1, 0.2], q: [0.3], method: null, mode: null, layers: null };
  const base = { model: "minilm", addrop: { enabled: true, method: "IGA", mode: "low", layers: [0, 1, 2, 3, 4, 5] } };
  assert.deepEqual(initialSpace(space, base), { p: [0.1, 0.2], q: [0.3], method: ["IGA"], mode: ["low"], layers: [[0, 1, 2, 3, 4, 5]] });
  assert.deepEqual(initialSpace(space, null), { p: [0.1, 0.2], q: [0.3], method: ["GA"], mode: ["high"], layers: [[0]] });
  assert.deepEqual(initialSpace({ ...space, layers: [[1]] }, base).layers, [[1]]);
});
