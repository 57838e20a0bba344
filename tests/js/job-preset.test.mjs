import assert from "node:assert/strict";
import { test } from "node:test";

import { TASK_FIELDS, presetLines, presetValues } from "../../frontend/static/js/job-preset.js";

const COLA = {
  name: "authors", title: "The authors' protocol", task: "cola", model: "minilm",
  training: { learning_rate: 1e-5, lr_schedule: "constant", epochs: 50, patience: 5, max_length: 47 },
  addrop: { enabled: true, method: "GA", layers: [0, 1, 2, 3, 4, 5], cross_tuning: true },
  sources: { learning_rate: "run_addrop.sh: LR=1e-5", layers: "MASK_LAYERS", "p, q": "the 9 x 9 grid" },
  notes: ["The scripts fine-tune bert-base-uncased."],
};

test("a preset sets the form's training and AD-DROP fields, layers as the text the field takes", () => {
  const values = presetValues(COLA);
  assert.equal(values["training.learning_rate"], 1e-5);
  assert.equal(values["training.lr_schedule"], "constant");
  assert.equal(values["training.max_length"], 47);
  assert.equal(values["addrop.layers"], "0, 1, 2, 3, 4, 5");
  assert.equal(values["addrop.enabled"], true);
  // a classifier's preset puts back the default attention kind and target (a translation preset sets them)
  assert.equal(values["addrop.kind"], null);
  assert.equal(values["addrop.target"], "auto");
  assert.equal(Object.keys(values).length, 11);
});

const EN_RO = {
  ...COLA, task: "wmt16-en-ro",
  training: { learning_rate: 2e-5, epochs: 5, patience: null, max_length: 128 },
  addrop: { enabled: true, method: "GA", layers: [0, 1], p: 0.2, q: 0.2, kind: "encoder", target: "pseudo_loss" },
};

test("a translation preset sets the attention kind, the target, and its fixed p and q, also on a change of task", () => {
  const values = presetValues(EN_RO, TASK_FIELDS);
  assert.deepEqual(values, {
    "training.epochs": 5, "training.patience": null, "training.max_length": 128, "addrop.layers": "0, 1",
    "addrop.kind": "encoder", "addrop.target": "pseudo_loss", "addrop.p": 0.2, "addrop.q": 0.2 });
});

test("every source is a line with the value it explains, then the notes", () => {
  assert.deepEqual(presetLines(COLA), [
    "learning_rate = 0.00001: run_addrop.sh: LR=1e-5",
    "layers = 0, 1, 2, 3, 4, 5: MASK_LAYERS",
    "p, q: the 9 x 9 grid",
    "The scripts fine-tune bert-base-uncased.",
  ]);
});

test("a change of task or model re-applies only the fields that depend on it", () => {
  assert.deepEqual(presetValues(COLA, TASK_FIELDS), {
    "training.epochs": 50, "training.patience": 5, "training.max_length": 47, "addrop.layers": "0, 1, 2, 3, 4, 5",
    "addrop.kind": null, "addrop.target": "auto" });
});
