// Unit tests of the compare view's logic (node --test tests/js/); expected numbers are worked out by hand.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  aggregate, bandOutline, curvesCsv, dashArray, deltaTo, differingFields, entries, entryLabel,
  formatValue, hyperParameters, lineStyle, meanStd, settingKey, sharedRange, withAlpha,
} from "../../frontend/static/js/compare-runs.js";
import { csvCell, toCsv } from "../../frontend/static/js/common/csv.js";

const close = (actual, expected, what) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);

function spec({ seed = 42, enabled = true, p = 0.3, task = "sst2", method = "GA", name = "run" } = {}) {
  return {
    name, model: "minilm",
    data: { source: "directory", task, data_dir: `/data/${task}` },
    training: { learning_rate: 2e-5, epochs: 3, batch_size: 16, seed, device: "cpu" },
    addrop: { enabled, method, mode: "high", p, q: 0.2, layers: [0], steps: 20, cross_tuning: true },
  };
}

function run(id, options = {}, best = null, points = []) {
  const s = spec(options);
  const metric = s.data.task === "cola" ? "matthews_correlation" : "accuracy";
  return { job: { id, name: options.name ?? `job ${id}`, task: s.data.task, metric, state: "succeeded", best_metric: best, spec: s },
           points };
}

test("meanStd: the sample standard deviation (n - 1)", () => {
  // mean (0.8 + 0.82 + 0.84) / 3 = 0.82; squared deviations 0.0004, 0, 0.0004; / (3 - 1) = 0.0004; sqrt = 0.02
  const s = meanStd([0.8, 0.82, 0.84]);
  close(s.mean, 0.82, "mean");
  close(s.std, 0.02, "std");
  assert.equal(s.n, 3);
  // 1..4: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, / 3, sqrt = 1.2909944487358056
  close(meanStd([1, 2, 3, 4]).std, 1.2909944487358056, "std of 1..4");
});

test("meanStd: one value has no std; missing values are left out", () => {
  assert.deepEqual(meanStd([0.7]), { mean: 0.7, std: null, n: 1 });
  assert.deepEqual(meanStd([]), { mean: null, std: null, n: 0 });
  const s = meanStd([0.5, null, undefined, NaN, 0.7]);
  assert.equal(s.n, 2);
  close(s.mean, 0.6, "mean");
  close(s.std, Math.SQRT2 * 0.1, "std"); // deviations ±0.1: (0.01 + 0.01) / 1, sqrt = 0.1414...
});

test("hyperParameters: flattened, without the name; a baseline has no AD-DROP fields, non-IGA no steps", () => {
  const flat = hyperParameters(spec());
  assert.equal(flat["addrop.p"], 0.3);
  assert.deepEqual(flat["addrop.layers"], [0]);
  assert.equal(flat["training.seed"], 42);
  assert.equal(flat.model, "minilm");
  assert.ok(!("name" in flat) && !("addrop.steps" in flat));
  assert.equal(hyperParameters(spec({ method: "IGA" }))["addrop.steps"], 20);
  const baseline = hyperParameters(spec({ enabled: false }));
  assert.deepEqual(Object.keys(baseline).filter((k) => k.startsWith("addrop.")), ["addrop.enabled"]);
});

test("settingKey: runs differing only by seed (or name) share a key", () => {
  assert.equal(settingKey(spec({ seed: 1, name: "a" })), settingKey(spec({ seed: 2, name: "b" })));
  assert.notEqual(settingKey(spec({ seed: 1 })), settingKey(spec({ seed: 1, p: 0.5 })));
  // a baseline's unused p does not split its seeds
  assert.equal(settingKey(spec({ enabled: false, p: 0.3, seed: 1 })), settingKey(spec({ enabled: false, p: 0.7, seed: 2 })));
});

test("entries: seeds grouped, other settings alone; without grouping every run is an entry", () => {
  const runs = [run(3, { enabled: false, seed: 1 }, 0.8), run(4, { enabled: false, seed: 2 }, 0.82), run(5, {}, 0.85)];
  const grouped = entries(runs, true);
  assert.deepEqual(grouped.map((e) => e.id), ["3+4", "5"]);
  assert.deepEqual(grouped.map((e) => e.grouped), [true, false]);
  close(grouped[0].best.mean, 0.81, "group mean");
  close(grouped[0].best.std, Math.SQRT2 * 0.01, "group std"); // deviations ±0.01 over n - 1 = 1
  assert.equal(entryLabel(grouped[0]), "#3, #4 job 3 (2 seeds)");
  assert.equal(entryLabel(grouped[1]), "#5 job 5");
  assert.deepEqual(entries(runs, false).map((e) => e.id), ["3", "4", "5"]);
});

test("deltaTo: difference of means; null across tasks or before any best metric", () => {
  const [baseline, addrop] = entries([run(3, { enabled: false, seed: 1 }, 0.8), run(4, { enabled: false, seed: 2 }, 0.82),
                                      run(5, {}, 0.84)], true);
  close(deltaTo(addrop, baseline), 0.03, "delta"); // 0.84 - (0.8 + 0.82) / 2
  assert.equal(deltaTo(baseline, baseline), 0);
  const [cola] = entries([run(6, { task: "cola" }, 0.3)], true);
  assert.equal(deltaTo(cola, baseline), null);
  const [pending] = entries([run(7, { p: 0.9 })], true);
  assert.equal(deltaTo(pending, baseline), null);
});

test("aggregate: per x over the series that have it; bandOutline closes onto the mean where n = 1", () => {
  const a = [{ x: 1, y: 0.8 }, { x: 2, y: 0.9 }, { x: 3, y: 0.7 }];
  const b = [{ x: 1, y: 0.84 }, { x: 2, y: 0.86 }];
  const points = aggregate([b, a]);
  assert.deepEqual(points.map((p) => [p.x, p.n]), [[1, 2], [2, 2], [3, 1]]);
  close(points[0].mean, 0.82, "mean at 1");
  close(points[0].std, Math.SQRT2 * 0.02, "std at 1"); // deviations ±0.02: (0.0004 + 0.0004) / 1
  close(points[1].mean, 0.88, "mean at 2");
  assert.equal(points[2].std, null);
  const band = bandOutline(points);
  assert.deepEqual(band.x, [1, 2, 3, 3, 2, 1]);
  close(band.y[0], 0.82 + Math.SQRT2 * 0.02, "upper at 1");
  assert.equal(band.y[2], 0.7);
  assert.equal(band.y[3], 0.7);
  close(band.y[5], 0.82 - Math.SQRT2 * 0.02, "lower at 1");
});

test("sharedRange: padded span of every value; a flat series still gets a range", () => {
  const [lo, hi] = sharedRange([0.5, 1.5, NaN, 1.0], 0.1);
  close(lo, 0.4, "lo");
  close(hi, 1.6, "hi");
  const [flatLo, flatHi] = sharedRange([2, 2], 0.1);
  close(flatLo, 1.8, "flat lo");
  close(flatHi, 2.2, "flat hi");
  assert.equal(sharedRange([]), null);
});

test("differingFields: only what differs, the usual fields first", () => {
  const fields = differingFields([spec({ enabled: false, seed: 1 }), spec({ enabled: false, seed: 2 }), spec({ seed: 1 })]);
  assert.deepEqual(fields, ["addrop.enabled", "addrop.method", "addrop.mode", "addrop.p", "addrop.q", "addrop.layers",
                            "addrop.cross_tuning", "training.seed"]);
  assert.deepEqual(differingFields([spec({ seed: 1, name: "a" }), spec({ seed: 1, name: "b" })]), []);
  assert.deepEqual(differingFields([spec(), spec({ task: "cola" })]), ["data.task", "data.data_dir"]);
  assert.equal(formatValue([0, 1]), "0,1");
  assert.equal(formatValue(undefined), "–");
  assert.equal(formatValue(null), "none");
  assert.equal(formatValue(false), "false");
});

test("csvCell: quotes commas, quotes and newlines; guards text formulas, never numbers", () => {
  assert.equal(csvCell("plain"), "plain");
  assert.equal(csvCell("a,b"), '"a,b"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell("two\nlines"), '"two\nlines"');
  assert.equal(csvCell("=HYPERLINK(\"x\")"), '"\'=HYPERLINK(""x"")"');
  assert.equal(csvCell("+1"), "'+1");
  assert.equal(csvCell("-1"), "'-1");
  assert.equal(csvCell("@sum"), "'@sum");
  assert.equal(csvCell(-0.25), "-0.25");
  assert.equal(csvCell(1e-7), "1e-7");
  assert.equal(csvCell(0), "0");
  assert.equal(csvCell(null), "");
  assert.equal(csvCell(NaN), "");
  assert.equal(csvCell([0, 1]), '"0,1"');
  assert.equal(csvCell(true), "true");
  assert.equal(toCsv([["a", 1], ["b,c", -2]]), 'a,1\r\n"b,c",-2\r\n');
});

test("curvesCsv: one row per value of every point, with the differing fields as columns", () => {
  const runs = [
    run(3, { enabled: false, seed: 1, name: "=evil, \"quoted\"" }, 0.8, [
      { kind: "step", step: 2, epoch: 0.5, values: { loss: 0.69, learning_rate: 0.001 } },
      { kind: "epoch", step: 4, epoch: 1, values: {} },
      { kind: "eval", step: 4, epoch: 1, values: { accuracy: 0.8, loss: -0.1 } },
    ]),
    run(4, { seed: 2 }, 0.82, [{ kind: "eval", step: 4, epoch: 1, values: { accuracy: 0.82 } }]),
  ];
  const csv = curvesCsv(runs, ["addrop.enabled", "addrop.p", "training.seed"]);
  assert.equal(csv, [
    "job_id,job_name,addrop.enabled,addrop.p,training.seed,kind,step,epoch,metric,value",
    '3,"\'=evil, ""quoted""",false,,1,step,2,0.5,loss,0.69',
    '3,"\'=evil, ""quoted""",false,,1,step,2,0.5,learning_rate,0.001',
    '3,"\'=evil, ""quoted""",false,,1,eval,4,1,accuracy,0.8',
    '3,"\'=evil, ""quoted""",false,,1,eval,4,1,loss,-0.1',
    "4,job 4,true,0.3,2,eval,4,1,accuracy,0.82",
    "",
  ].join("\r\n"));
});

test("lineStyle: neighbours differ in colour and dash; 24 distinct pairs with 8 colours", () => {
  const colors = ["#000001", "#000002", "#000003", "#000004", "#000005", "#000006", "#000007", "#000008"];
  const styles = Array.from({ length: 24 }, (_, i) => lineStyle(i, colors));
  assert.equal(new Set(styles.map((s) => `${s.color} ${s.dash}`)).size, 24);
  for (let i = 1; i < styles.length; i++) {
    assert.notEqual(styles[i].dash, styles[i - 1].dash);
    assert.notEqual(styles[i].color, styles[i - 1].color);
  }
  assert.equal(withAlpha("#2c5fbf", 0.2), "rgba(44, 95, 191, 0.2)");
  // Plotly's own patterns for a 2 px line (its unit is max(width, 3) px)
  assert.equal(dashArray("solid", 2), "");
  assert.equal(dashArray("dash", 2), "9,9");
  assert.equal(dashArray("longdashdot", 4), "20,8,4,8");
});
