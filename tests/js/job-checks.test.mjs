// The job form's field checks (frontend/static/js/job-checks.js) and the job pages' number formatting.
import assert from "node:assert/strict";
import { test } from "node:test";

import { epochsWarning, numberMessage, wholeNumbers } from "../../frontend/static/js/job-checks.js";
import { epochNumber, fitted, layout, setting, usedSettings } from "../../frontend/static/js/jobs-common.js";

const ok = { badInput: false, stepMismatch: false, valid: true };

test("a learning rate the browser cannot read ('1e') is named as not a number, not as out of range", () => {
  assert.match(numberMessage("training.learning_rate", "", { ...ok, badInput: true, valid: false }, "0", null), /not a number/);
  assert.equal(numberMessage("training.learning_rate", "", ok, "0", null), "required");
  assert.equal(numberMessage("training.patience", "", ok, "1", null), "");  // optional: empty turns it off
  assert.equal(numberMessage("training.learning_rate", "1", ok, "0", null), "must be between 0 and 1 (exclusive)");
  assert.equal(numberMessage("training.learning_rate", "2e-5", ok, "0", null), "");
  assert.equal(numberMessage("training.epochs", "0", { ...ok, valid: false }, "1", "1000"), "must be ≥ 1 and ≤ 1000");
  assert.equal(numberMessage("training.epochs", "1.5", { ...ok, stepMismatch: true, valid: false }, "1", "1000"), "must be a whole number");
});

test("layers and probe ids take whole numbers only, and name the parts that are not", () => {
  assert.deepEqual(wholeNumbers("0, 5 11"), { values: [0, 5, 11], message: "" });
  assert.deepEqual(wholeNumbers(""), { values: [], message: "" });
  const bad = wholeNumbers("first, second");
  assert.deepEqual(bad.values, []);
  assert.match(bad.message, /not a whole number: first, second/);
  assert.match(wholeNumbers("1, -2, 3.5").message, /-2, 3\.5/);
});

test("a cross-tuned job of one epoch is warned about; two epochs, no cross-tuning or a baseline are not", () => {
  // Cross-tuning drops in even epochs (addrop.trainer.is_addrop_epoch: index 1, 3, ...), so epoch 2 is the first.
  assert.match(epochsWarning({ enabled: true, crossTuning: true, epochs: 1 }), /never drops/);
  assert.equal(epochsWarning({ enabled: true, crossTuning: true, epochs: 2 }), "");
  assert.equal(epochsWarning({ enabled: true, crossTuning: false, epochs: 1 }), "");
  assert.equal(epochsWarning({ enabled: false, crossTuning: true, epochs: 1 }), "");
  assert.equal(epochsWarning({ enabled: true, crossTuning: true, epochs: null }), "");
});

test("epochs read like numbers: whole ones as integers, a stop mid-epoch to two decimals", () => {
  assert.equal(epochNumber(1.8559999999999999), "1.86");
  assert.equal(epochNumber(3), "3");
  assert.equal(epochNumber(2.0000000001), "2");
  assert.equal(epochNumber(0.5), "0.5");
  assert.equal(epochNumber(null), "–");
});

test("a baseline's settings leave out AD-DROP's unused p, q and method; its summary says it never drops when so", () => {
  const spec = { addrop: { enabled: false, method: "GA", p: 0.3, q: 0.2 }, training: { epochs: 1 } };
  assert.deepEqual(usedSettings(spec, "addrop"), [["enabled", false]]);
  assert.deepEqual(usedSettings({ addrop: { enabled: true, p: 0.3 } }, "addrop"), [["enabled", true], ["p", 0.3]]);
  assert.deepEqual(usedSettings({}, "dynamics"), []);
  const job = (epochs, dropping) => ({ spec: { addrop: { enabled: true, method: "GA", mode: "high", p: 0.3, q: 0.2, layers: [0] } },
                                       addrop_epochs: dropping });
  assert.equal(setting(job(1, [])), "GA p=0.3 q=0.2 L0 · never drops (1 epoch, cross-tuning)");
  assert.equal(setting(job(2, [2])), "GA p=0.3 q=0.2 L0");
});

test("a flat curve's axis hugs its value instead of Plotly's ±1 padding; each y axis is fitted to its own traces", () => {
  const base = layout("Dev accuracy per epoch", "epoch", "accuracy", { yaxis2: { overlaying: "y" } });
  const out = fitted(base, [{ y: [0.6, 0.6, 0.6] }, { y: [30, 40], yaxis: "y2" }]);
  assert.deepEqual(out.yaxis.range.map((v) => +v.toFixed(6)), [0.57, 0.63]);
  assert.equal(out.yaxis.autorange, false);
  assert.equal(out.yaxis.title.text, "accuracy");  // the rest of the axis is kept
  assert.deepEqual(out.yaxis2.range, [29.5, 40.5]);
  assert.equal(out.yaxis2.overlaying, "y");
  assert.equal(fitted(base, [{ y: [] }]).yaxis.range, undefined);  // nothing to fit: Plotly's own range
  assert.equal(base.yaxis.range, undefined);  // the given layout is not changed
});
