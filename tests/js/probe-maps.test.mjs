import assert from "node:assert/strict";
import { test } from "node:test";

import { exampleLabel, explorerTarget, keptPosition, mapUrl, sameProbe, scrubEpochs, tokenTicks }
  from "../../frontend/static/js/probe-maps.js";

test("token ticks label each token, or every k-th of a long one", () => {
  assert.deepEqual(tokenTicks(["[CLS]", "a", "a", "[SEP]"]), { tickvals: [0, 1, 2, 3], ticktext: ["[CLS]", "a", "a", "[SEP]"] });
  const long = Array.from({ length: 100 }, (_, i) => `t${i}`);
  const ticks = tokenTicks(long);
  assert.equal(ticks.tickvals.length, 34);  // every 3rd: at most 48 labels
  assert.deepEqual(ticks.tickvals.slice(0, 3), [0, 3, 6]);
  assert.equal(ticks.ticktext[2], "t6");
});

test("probe sets match by their dev examples", () => {
  const probe = (ids) => ({ dev_indices: ids });
  assert.ok(sameProbe(probe([1, 5, 9]), probe([1, 5, 9])));
  assert.ok(!sameProbe(probe([1, 5, 9]), probe([1, 5])));
  assert.ok(!sameProbe(probe([1, 5, 9]), probe([1, 6, 9])));
});

test("the scrubber stops at every recorded epoch of any run, and follows the newest", () => {
  assert.deepEqual(scrubEpochs([{ epochs: [1, 2, 3] }, { epochs: [2, 4] }]), [1, 2, 3, 4]);
  assert.equal(keptPosition([1, 2, 3, 4], 2, false), 1);
  assert.equal(keptPosition([1, 2, 3, 4], 3, true), 3);  // was on the newest: stays on the newest
  assert.equal(keptPosition([1, 2, 3], null, false), 2);
  assert.equal(keptPosition([1, 3], 2, false), 0);  // gone: the nearest earlier epoch
  assert.equal(keptPosition([], 2, false), 0);
});

const probe = { dev_indices: [4, 17], tokens: [["[CLS]", "good", "film", "[SEP]"], ["[CLS]", "a", "[SEP]", "b", "[SEP]"]],
                texts: [["good film"], ["a", "b & c"]], layers: [0, 2], heads: 2, epochs: [1, 2, 3], measured_p: 0.3,
                region_p: 0.3, region_mode: "high" };

test("only the kept checkpoint's epoch opens in the explorer, with the example, layer, head and region", () => {
  const job = { id: 7, best_epoch: 2.0, explorer_model: "job-7" };
  const view = { example: 1, epoch: 2, layer: 2, head: 1, p: 0.2, mode: "low" };
  const open = explorerTarget(job, probe, view);
  const url = new URL(open.href, "http://x");
  assert.equal(url.pathname, "/");
  assert.deepEqual(Object.fromEntries(url.searchParams), { model: "job-7", text: "a", pair: "b & c", method: "GA", layer: "2",
                                                           head: "1", p: "0.2", mode: "low" });
  assert.match(open.note, /epoch 2's checkpoint/);
  assert.equal(new URL(explorerTarget(job, probe, { ...view, example: 0 }).href, "http://x").searchParams.has("pair"), false);
  const other = explorerTarget(job, probe, { ...view, epoch: 1 });
  assert.equal(other.href, null);
  assert.equal(other.note, "no checkpoint was kept for epoch 1: the job keeps only its best epoch's (epoch 2)");
  assert.match(explorerTarget({ ...job, explorer_model: null }, probe, view).note, /kept no checkpoint/);
  const textless = explorerTarget(job, { ...probe, texts: null }, view);
  assert.equal(textless.href, null);
  assert.match(textless.note, /without its texts/);
});

test("the maps address carries the view, and a region p only when one is given", () => {
  const view = { example: 3, epoch: 2, layer: 0, head: 1 };
  assert.equal(mapUrl(5, view), "/api/jobs/5/dynamics/maps?example=3&epoch=2&layer=0&head=1");
  assert.equal(mapUrl(5, view, 0.1), "/api/jobs/5/dynamics/maps?example=3&epoch=2&layer=0&head=1&p=0.1");
});

test("an example's label has its place, dev index and first words", () => {
  assert.equal(exampleLabel(probe, 0), "0 · dev 4 · good film");
  assert.equal(exampleLabel(probe, 1), "1 · dev 17 · a ‖ b & c");
  assert.equal(exampleLabel({ ...probe, texts: null }, 0), "0 · dev 4 · good film");
  assert.equal(exampleLabel(probe, 1, 2), "1 · dev 17 · a ‖ …");
});
