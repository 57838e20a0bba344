import assert from "node:assert/strict";
import { test } from "node:test";

import { fileName, figureTitle, firstWords } from "../../frontend/static/js/explorer/captions.js";
import { attributionPanel, labelFont, labelStride, panelFigure, tickFontSize, zoomWindow } from "../../frontend/static/js/explorer/figures.js";
import { colourValues, percentileAbs, rowNormalised, scaleNote } from "../../frontend/static/js/explorer/scales.js";

test("percentileAbs interpolates between ranks of |value|", () => {
  // |values| 1..100: the 99th percentile sits 0.99 of the way from rank 98 (99) to rank 99 (100)
  const rows = [Array.from({ length: 50 }, (_, i) => -(i + 1)), Array.from({ length: 50 }, (_, i) => i + 51)];
  assert.ok(Math.abs(percentileAbs(rows, 99) - 99.01) < 1e-9);
  assert.equal(percentileAbs(rows, 100), 100);
  assert.equal(percentileAbs(rows, 0), 1);
  assert.equal(percentileAbs([[7]], 99), 7);
  assert.equal(percentileAbs([], 99), 0);
});

test("rowNormalised divides each row by its largest |value| and leaves a zero row alone", () => {
  assert.deepEqual(rowNormalised([[2, -4, 1], [0, 0, 0], [0.5, 0.25, 0]]), [[0.5, -1, 0.25], [0, 0, 0], [1, 0.5, 0]]);
});

test("colourValues: one scale over every map given, never an empty range", () => {
  const strong = [[0, 0, 100], [1, 2, 3]], weak = [[1, -2, 0], [0, 0, 0]];
  assert.equal(colourValues([strong, weak], "max").top, 100);
  // one outlier among twelve cells: the 99th percentile stops well short of it
  const clipped = colourValues([strong, weak], "percentile").top;
  assert.ok(clipped < 100 && clipped > 3);
  const rows = colourValues([strong], "row");
  assert.equal(rows.top, 1);
  assert.deepEqual(rows.z[0], [[0, 0, 1], [1 / 3, 2 / 3, 1]]);
  assert.equal(colourValues([[[0, 0]]], "max").top, 1);
  assert.throws(() => colourValues([strong], "log"), /unknown colour scale/);
});

test("the colour bar says which scale is in use", () => {
  assert.equal(scaleNote("max"), "");
  assert.match(scaleNote("percentile"), /99th/);
  const panel = attributionPanel([[1, -1000], [2, 3]], "t", "GA", { scale: "percentile" });
  assert.match(panel.colorbar.title.text, /99th/);
  assert.ok(panel.trace.zmax < 1000 && panel.trace.zmin === -panel.trace.zmax);
  assert.deepEqual(panel.values, [[1, -1000], [2, 3]]);  // the hover names the map's own values
  const rows = attributionPanel([[1, -4], [2, 1]], "t", "GA", { scale: "row" });
  assert.deepEqual(rows.z, [[0.25, -1], [1, 0.5]]);
  assert.match(rows.colorbar.title.text, /row/);
});

test("labelStride keeps neighbouring labels a line of text apart across the keys' slant", () => {
  for (const n of [8, 18, 48, 64, 128, 512]) {
    for (const cell of [0.5, 2, 3.7, 9, 12, 14, 30]) {
      const step = labelStride(n, cell), font = labelFont(n, cell);
      // labels slanted 60°: two neighbours' baselines are step * cell * sin 60° apart
      assert.ok(step * cell * Math.sin(Math.PI / 3) >= font * 1.3 - 1e-9, `${n} tokens, ${cell} px`);
      assert.ok(Math.ceil(n / step) <= 48);
      assert.ok(font >= 7.5 && font <= tickFontSize(n));
      // and no sparser than it needs to be at the smallest font
      if (step > 1 && step > Math.ceil(n / 48)) assert.ok((step - 1) * cell * Math.sin(Math.PI / 3) < 7.5 * 1.3);
    }
  }
  // a sentence pair of 23 tokens in 12-px cells: every token labelled, at a smaller font than 11
  assert.equal(labelStride(23, 12), 1);
  assert.ok(labelFont(23, 12) < 11);
  assert.equal(labelFont(18, 30), 11);  // large cells: the full size
  // the rows' labels run level: a line of text apart needs only a cell of that height
  assert.equal(labelStride(23, 10.9, false), 1);
  assert.ok(labelFont(23, 10.9, false) >= 8 && labelStride(23, 10.9) === 2);
  for (const cell of [2, 5, 9, 14]) assert.ok(labelStride(64, cell, false) * cell >= labelFont(64, cell, false) * 1.3 - 1e-9);
});

test("zoomWindow: the whole tokens a zoom shows, clamped to the map", () => {
  assert.deepEqual(zoomWindow([-0.5, 15.5, 15.5, -0.5], 128, 128), { keys: [0, 15], rows: [0, 15] });
  assert.deepEqual(zoomWindow([100.2, 140, 3.4, 2.6], 128, 128), { keys: [101, 127], rows: [3, 3] });
  assert.equal(zoomWindow(null, 10, 10), null);
  assert.equal(zoomWindow([3.2, 3.4, 0, 5], 10, 10), null);
});

function meta(n) {
  const tokens = ["[CLS]", ...Array.from({ length: n - 2 }, (_, i) => `w${i}`), "[SEP]"];
  return { tokens, special: tokens.map((t) => t.startsWith("[")), segments: tokens.map(() => 0), model: "m" };
}
const ones = (n) => Array.from({ length: n }, () => new Array(n).fill(1));

test("an exported figure outlines and marks only cells the screen would, and thins its labels", () => {
  for (const [n, marked] of [[18, true], [128, false]]) {
    const panel = Object.assign(attributionPanel(ones(n), "t", "GA"), { region: ones(n), dropped: ones(n) });
    const figure = panelFigure(meta(n), [panel, panel, panel], 1200, "plotly");
    assert.equal(figure.marked, marked);
    assert.equal(figure.layout.shapes.some((s) => s.type === "path"), marked);
    assert.equal(figure.data.some((t) => t.type === "scatter"), marked);
  }
  const wide = panelFigure(meta(128), [attributionPanel(ones(128), "t", "GA")], 1200, "plotly");
  const ticks = wide.layout.xaxis.tickvals;
  assert.ok(ticks.length < 128 && ticks[1] - ticks[0] === labelStride(128, (1200 - 78 - 40) * 0.98 / 128));
  // the zoomed region: its tokens only, cells large enough for the marks again
  const panel = Object.assign(attributionPanel(ones(128), "t", "GA"), { region: ones(128), dropped: ones(128) });
  const zoomed = panelFigure(meta(128), [panel], 1200, "plotly", { window: zoomWindow([39.5, 63.5, 63.5, 39.5], 128, 128) });
  assert.equal(zoomed.marked, true);
  assert.deepEqual(zoomed.layout.xaxis.range, [39.5, 63.5]);
  assert.ok(zoomed.layout.xaxis.tickvals.every((i) => i >= 40 && i <= 63));
});

test("titles and file names name the model, the input's first words and the setting", () => {
  const tokens = ["[CLS]", "the", "cat", "'", "s", "whis", "##kers", ",", "twitch", "##ing", "softly", "tonight", "again", "[SEP]"];
  const special = tokens.map((t) => t.startsWith("["));
  // as the text view runs them: the apostrophe joins its neighbours, the comma closes its word
  assert.equal(firstWords(tokens, special, 4), "the cat's whiskers, twitching…");
  const facts = { model: "bert/sst-2", tokens, special, where: "layer 2, head 5", short: "L2-h5", method: "GA",
    p: 0.3, q: 0.2, mode: "high", seed: 7, what: "maps" };
  assert.equal(figureTitle(facts), "bert/sst-2 · “the cat's whiskers, twitching softly tonight…” · layer 2, head 5 · GA · p=0.3, q=0.2, high · seed 7");
  assert.equal(fileName(facts), "addrop_maps_bert-sst-2_the-cat-s-whiskers-twitching_L2-h5_GA_p0.3_q0.2_high_seed7");
  assert.notEqual(fileName(facts), fileName({ ...facts, model: "minilm" }));
});
