// The job pages' shared chart pieces (frontend/static/js/jobs-common.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { epochLossMeans, layout, untilDrawn, wrapText } from "../../frontend/static/js/jobs-common.js";

test("a chart with nothing to draw shows its sentence and no axes; with data it is left as it was", () => {
  const base = layout("Dev f1 per epoch", "epoch", "f1", { xaxis: { dtick: 1 } });
  assert.equal(untilDrawn(base, true, "nothing yet"), base);
  const empty = untilDrawn(base, false, "nothing yet");
  assert.deepEqual([empty.xaxis.visible, empty.yaxis.visible, empty.showlegend], [false, false, false]);
  assert.equal(empty.xaxis.dtick, 1);  // the rest of each axis is kept for when data comes
  assert.deepEqual(empty.annotations.map((a) => [a.text, a.xref, a.x, a.y]), [["nothing yet", "paper", 0.5, 0.5]]);
  assert.equal(base.xaxis.visible, undefined);  // the layout it was given is not changed
  assert.equal(empty.title.text, "Dev f1 per epoch");
});

test("an epoch's training-loss mean sits at its end once the run is past it, else at its last step, partial", () => {
  const step = (step, epoch, loss) => ({ step, epoch, values: loss === undefined ? {} : { loss } });
  // 10 steps an epoch, a loss logged every 4: epoch 1 ends, epoch 2 is under way at 1.6
  const steps = [step(0, 0, 9), step(4, 0.4, 0.7), step(8, 0.8, 0.5), step(10, 1.0, 0.3), step(12, 1.2, 0.4),
                 step(16, 1.6, 0.2), step(16, 1.6)];
  const running = epochLossMeans(steps, 1.7);
  assert.deepEqual(running.map((m) => [m.epoch, m.x, m.steps, m.partial]), [[1, 1, 3, false], [2, 1.6, 2, true]]);
  assert.ok(Math.abs(running[0].y - 0.5) < 1e-12 && Math.abs(running[1].y - 0.3) < 1e-12);
  // once the run reaches epoch 2's end, the same mean is the epoch's, drawn at its end
  assert.deepEqual(epochLossMeans(steps, 2).map((m) => [m.x, m.partial]), [[1, false], [2, false]]);
  assert.deepEqual(epochLossMeans([], 0), []);
});

test("a model the API shows as null (a directory outside the data directory) reads as a local model", async () => {
  const { modelName } = await import("../../frontend/static/js/jobs-common.js");
  assert.equal(modelName(null), "a local model");
  assert.equal(modelName("minilm"), "minilm");
  assert.equal(modelName("jobs/job-3/best"), "jobs/job-3/best");
});

test("a long sentence is broken at spaces into lines no longer than asked; a longer word keeps its line", () => {
  const sentence = "needs 4 or more completed trials (0 so far; pruned trials and repeated proposals do not count)";
  const lines = wrapText(sentence, 30).split("<br>");
  assert.ok(lines.length > 1 && lines.every((line) => line.length <= 30), lines.join(" | "));
  assert.equal(lines.join(" "), sentence);  // nothing lost, nothing added
  assert.equal(wrapText("short one"), "short one");
  assert.deepEqual(wrapText("a supercalifragilistic b", 5).split("<br>"), ["a", "supercalifragilistic", "b"]);
  assert.equal(wrapText(""), "");
});
