import assert from "node:assert/strict";
import { test } from "node:test";

import { STYLE } from "../../frontend/static/js/common/figure-style.js";
import { paperFigure } from "../../frontend/static/js/explorer/paper.js";

function map(n, at) {
  const values = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) values[i * n + j] = at(i, j);
  return { shape: [1, 1, n, n], values };
}

function side(n) {
  const tokens = ["[CLS]", ...Array.from({ length: n - 2 }, (_, i) => `w${i}`), "[SEP]"];
  return {
    layer: 3,
    meta: { tokens, special: tokens.map((t) => t.startsWith("[")), segments: tokens.map(() => 0), model: "org/model-x", method: "GA",
      mode: "high", p: 0.3, q: 0.2, seed: 5 },
    maps: { attention: map(n, (i, j) => 1 / n), attribution: map(n, (i, j) => j - i), candidate: map(n, (i, j) => (j > i ? 1 : 0)),
      dropped: map(n, (i, j) => (j === i + 1 ? 1 : 0)) },
  };
}

test("the paper figure: four panels of Figure 1, fixed width and fonts, titled with what it is", () => {
  const figure = paperFigure(side(18), "0");
  const heatmaps = figure.data.filter((t) => t.type === "heatmap");
  assert.equal(heatmaps.length, 4);
  assert.deepEqual(figure.layout.annotations.map((a) => a.text), ["(a) attention", "(b) attribution", "(c) candidate discard region", "(d) dropped positions"]);
  assert.equal(figure.layout.width, STYLE.paper.width);
  assert.equal(figure.layout.font.family, STYLE.paper.font);
  assert.ok(figure.layout.xaxis4.tickfont.family === STYLE.paper.font && figure.layout.xaxis4.tickfont.size === STYLE.paper.label_size);
  assert.match(figure.layout.title.text, /^org\/model-x · “w0 w1 w2 w3 w4 w5…” · layer 3, head 0 · GA · p=0.3, q=0.2, high · seed 5$/);
  // the candidate and dropped panels are the masks' cells; at 18 tokens the attribution map carries the outline
  assert.deepEqual(heatmaps[2].z[0].slice(0, 3), [0, 1, 1]);
  assert.deepEqual(heatmaps[3].z[0].slice(0, 3), [0, 1, 0]);
  assert.equal(figure.layout.shapes.filter((s) => s.type === "path").length, 1);
});

test("the colour-blind palette swaps the value maps' scales and the outline's colour", () => {
  const figure = paperFigure(side(18), "0", { palette: "colour-blind", scale: "row" });
  const heatmaps = figure.data.filter((t) => t.type === "heatmap");
  assert.deepEqual(heatmaps[1].colorscale, STYLE.colour_blind.scales.attribution);
  assert.equal(figure.layout.shapes.find((s) => s.type === "path").line.color, STYLE.colour_blind.colours.region);
  assert.match(heatmaps[1].colorbar.title.text, /row/);
  assert.throws(() => paperFigure(side(18), "mean"), /one head/);
  assert.throws(() => paperFigure(side(18), "0", { palette: "neon" }), /unknown palette/);
});

test("every panel follows the palette: (c) and (d) take its mask colours (kept, candidate, dropped)", () => {
  for (const [palette, scales] of [["default", STYLE.scales], ["colour-blind", STYLE.colour_blind.scales]]) {
    const heatmaps = paperFigure(side(18), "0", { palette }).data.filter((t) => t.type === "heatmap");
    const [kept, candidate, dropped] = scales.mask_levels;
    assert.deepEqual(heatmaps[0].colorscale, scales.attention, palette);
    assert.deepEqual(heatmaps[2].colorscale, [[0, kept], [1, candidate]], palette);
    assert.deepEqual(heatmaps[3].colorscale, [[0, kept], [1, dropped]], palette);
  }
  assert.notDeepEqual(STYLE.scales.mask_levels, STYLE.colour_blind.scales.mask_levels);
});

test("the paper figure: two maps by two at the print width, labels of one size a line apart, the title wrapped to fit", () => {
  for (const n of [18, 128]) {
    const figure = paperFigure(side(n), "0");
    const layout = figure.layout, plot = layout.width - layout.margin.l - layout.margin.r;
    const xs = ["xaxis", "xaxis2", "xaxis3", "xaxis4"].map((name) => layout[name]);
    const ys = ["yaxis", "yaxis2", "yaxis3", "yaxis4"].map((name) => layout[name]);
    // (a) and (c) share a column, (a) and (b) a row; (c) and (d) lie under them
    assert.deepEqual(xs[0].domain, xs[2].domain);
    assert.deepEqual(xs[1].domain, xs[3].domain);
    assert.deepEqual(ys[0].domain, ys[1].domain);
    assert.ok(ys[2].domain[1] < ys[0].domain[0]);
    for (const x of xs) assert.ok((x.domain[1] - x.domain[0]) * plot >= 0.3 * STYLE.paper.width, `${n}: ${x.domain}`);
    // the rows named on the left maps only; every label of the definition's size, keys at its angle
    assert.deepEqual(ys.map((y) => y.showticklabels !== false), [true, false, true, false]);
    for (const a of xs.concat(ys)) assert.equal(a.tickfont.size, STYLE.paper.label_size);
    assert.ok(xs.every((x) => x.tickangle === STYLE.paper.key_angle));
    const cell = (xs[0].domain[1] - xs[0].domain[0]) * plot / n;
    const step = xs[0].tickvals[1] - xs[0].tickvals[0];
    assert.ok(step * cell >= STYLE.paper.label_size * STYLE.labels.line_height - 1e-9);  // written across, a line apart
    if (n === 18) assert.equal(step, 1);  // a sentence pair of 18 tokens: every one named
  }
  const long = side(18);
  long.meta.model = "sentence-transformers/paraphrase-multilingual-mpnet-base-v2";
  const title = paperFigure(long, "0").layout.title.text;
  assert.match(title, /^sentence-transformers\/paraphrase-multilingual-mpnet-base-v2 · .* ·<br>/);
  assert.equal(title.split("<br>").length, 2);
});
