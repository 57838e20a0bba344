// A causal map (a decoder's self-attention) on the explorer page: the keys a row cannot attend (later positions)
// carry no value on the maps, the mask, the thumbnails and the text view; the colour ranges span the attended
// cells only; the hovers say why.  "Not attended" is defined here independently, as the cells where a causal
// softmax gives weight exactly 0.
import assert from "node:assert/strict";
import { test } from "node:test";

import { STYLE } from "../../frontend/static/js/common/figure-style.js";
import { parseColour } from "../../frontend/static/js/explorer/colormap.js";
import { compareFigure, comparePanels } from "../../frontend/static/js/explorer/compare.js";
import { compareCsv, compareMatrices, viewCsv, viewMatrices } from "../../frontend/static/js/explorer/exports.js";
import { layerPanels, panelFigure } from "../../frontend/static/js/explorer/figures.js";
import { thumbnailColours } from "../../frontend/static/js/explorer/grid.js";
import { cellText } from "../../frontend/static/js/explorer/hover.js";
import { imageOverlays } from "../../frontend/static/js/explorer/mapimage.js";
import { describeToken, tokenShading } from "../../frontend/static/js/explorer/salience.js";

const UNATTENDED = STYLE.not_attended;
const TOKENS = ["<pad>", "▁le", "▁pisica", "▁vede", "</s>"];
const N = TOKENS.length;

// [1, heads, n, n] with value at(h, i, j)
function map(heads, at) {
  const values = new Float32Array(heads * N * N);
  for (let h = 0; h < heads; h++) for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) values[(h * N + i) * N + j] = at(h, i, j);
  return { shape: [1, heads, N, N], values };
}

// A causal softmax over made-up scores: a later key's score is −∞, so its weight is exactly 0.
function causalAttention(h, i, j) {
  const scores = TOKENS.map((_, k) => (k <= i ? Math.sin(3 * h + 5 * i + 7 * k) : -Infinity));
  const top = Math.max(...scores);
  const total = scores.reduce((sum, s) => sum + Math.exp(s - top), 0);
  return Math.exp(scores[j] - top) / total;
}

const meta = {
  tokens: TOKENS, special: [true, false, false, false, true], segments: TOKENS.map(() => 0), query_tokens: TOKENS,
  query_special: [true, false, false, false, true], kind: "decoder", causal: true, layer: 1, num_heads: 2, model: "marian",
  method: "GA", mode: "high", p: 0.3, q: 0.2, seed: 0, target: "pseudo_loss",
  translation: { text: "le pisica vede", reference: null, target_labels: ["▁le", "▁pisica", "▁vede", "</s>", "</s>"] },
};
// GA: a gradient at every cell, larger at the later keys than anywhere a row attends (they would set the range)
const maps = {
  attention: map(2, causalAttention),
  attribution: map(2, (h, i, j) => (j > i ? 50 * (j - i) : (i - 2 * j + 0.5) * (h + 1))),
  candidate: map(2, (h, i, j) => (j === 0 ? 1 : 0)),
  dropped: map(2, (h, i, j) => (j === 0 && i === 3 ? 1 : 0)),
};
const notAttended = (h) => TOKENS.map((_, i) => TOKENS.map((_, j) => causalAttention(h, i, j) === 0));
const attendedValues = (h) => TOKENS.flatMap((_, i) => TOKENS.filter((_, j) => j <= i).map((_, j) => maps.attribution.values[(h * N + i) * N + j]));

test("the independent definition: a causal softmax leaves weight 0 exactly at the later keys", () => {
  assert.deepEqual(notAttended(0), TOKENS.map((_, i) => TOKENS.map((_, j) => j > i)));
});

test("a causal map's later keys carry no value on any panel, and the colour ranges span the attended cells only", () => {
  const head = 1, blank = notAttended(head);
  const panels = layerPanels(meta, maps, 0, String(head));
  for (const panel of panels) {
    assert.deepEqual(panel.z.map((row) => row.map(Number.isNaN)), blank, panel.title);
  }
  const top = Math.max(...attendedValues(head).map(Math.abs));
  assert.ok(top < 50);  // the later keys' gradients are larger: had they counted, the range would be theirs
  assert.equal(panels[1].trace.zmax, top);
  assert.equal(panels[1].trace.zmin, -top);
  // every colour range mode leaves them out
  const percentile = layerPanels(meta, maps, 0, String(head), "percentile")[1];
  assert.ok(percentile.trace.zmax <= top);
  const row = layerPanels(meta, maps, 0, String(head), "row")[1];
  row.z.forEach((values, i) => assert.equal(Math.max(...values.filter((v, j) => j <= i).map(Math.abs)), 1));
  // over the mean of heads, the share of heads dropping is blank there too
  assert.deepEqual(layerPanels(meta, maps, 0, "mean")[2].z.map((r) => r.map(Number.isNaN)), notAttended(0));
});

test("the canvas paints the later keys in the blank fill, hatched, on every map; the ranges it paints are the panels'", () => {
  const head = 0, blank = notAttended(head);
  const panels = layerPanels(meta, maps, 0, String(head));
  const overlays = imageOverlays(meta, panels);
  const fill = parseColour(UNATTENDED.fill);
  overlays.forEach((overlay, k) => {
    assert.deepEqual([overlay.colorbar.zmin, overlay.colorbar.zmax], [panels[k].trace.zmin, panels[k].trace.zmax]);
    blank.forEach((row, i) => row.forEach((isBlank, j) => {
      const pixel = [...overlay.pixels.slice((i * N + j) * 4, (i * N + j) * 4 + 3)];
      if (isBlank) assert.deepEqual(pixel, fill, `panel ${k}, cell ${i}, ${j}`);
    }));
    // the hatch's polygon: the staircase around exactly the blank cells (a cell centre is inside iff blank)
    blank.forEach((row, i) => row.forEach((isBlank, j) => assert.equal(inside(overlay.unattended, j, i), isBlank)));
  });
  // a map that is not causal has no hatch and no blank cell
  const plain = imageOverlays({ ...meta, causal: false }, layerPanels({ ...meta, causal: false }, maps, 0, "0"));
  assert.ok(plain.every((o) => o.unattended === null));
});

// Whether the point (x, y) lies inside the polygon (ray casting).
function inside(corners, x, y) {
  let within = false;
  corners.forEach(([x0, y0], k) => {
    const [x1, y1] = corners[(k + 1) % corners.length];
    if ((y0 > y) !== (y1 > y) && x < x0 + ((y - y0) * (x1 - x0)) / (y1 - y0)) within = !within;
  });
  return within;
}

test("the hover says a later key is not attended, and ranks a row among the keys it attends", () => {
  const describe = cellText(meta, layerPanels(meta, maps, 0, "0"), "0");
  assert.deepEqual(describe(1, 3), ["query ▁le (1) → key ▁vede (3)", UNATTENDED.hover]);
  const lines = describe(2, 0);
  assert.match(lines[3], /rank\s+\d of 3 in the row/);  // row 2 attends keys 0, 1 and 2
  assert.equal(lines.length, 5);
});

test("an exported figure draws the later keys as a hatched fill whose hover says why, and no value of theirs", () => {
  const panels = layerPanels(meta, maps, 0, "0");
  const figure = panelFigure(meta, panels, 1200, "plotly");
  const values = figure.data.filter((t) => t.type === "heatmap" && t.name !== "not attended");
  assert.equal(values.length, 3);
  values.forEach((trace) => assert.deepEqual(trace.z.map((r) => r.map(Number.isNaN)), notAttended(0)));
  const fills = figure.data.filter((t) => t.name === "not attended");
  const hatches = figure.data.filter((t) => t.name === "not attended (hatch)");
  assert.equal(fills.length, 3);
  assert.equal(hatches.length, 3);
  fills.forEach((trace) => {
    assert.deepEqual(trace.z.map((r) => r.map((v) => v !== null)), notAttended(0));
    assert.ok(trace.hovertemplate.includes(UNATTENDED.hover));
  });
  hatches.forEach((trace) => assert.equal(trace.fillpattern.shape, UNATTENDED.pattern.shape));
  // JSON (the standalone HTML) writes a blank cell as null: Plotly leaves it unpainted
  assert.equal(JSON.parse(JSON.stringify(values[1].z))[0][4], null);
});

test("model view thumbnails leave the later keys blank, outside each thumbnail's range", () => {
  const fill = parseColour(UNATTENDED.fill);
  for (const quantity of ["attention", "attribution", "mask"]) {
    const colours = thumbnailColours(maps, quantity, 0, 1, "max", meta);
    notAttended(1).flat().forEach((isBlank, k) => {
      if (isBlank) assert.deepEqual(colours[k], fill, quantity);
      else assert.notDeepEqual(colours[k], fill, `${quantity} cell ${k}`);
    });
  }
});

test("the text view shades a causal row over the keys it attends; the later ones have no value, rank or colour", () => {
  const query = 2, head = "1";
  const shading = tokenShading(maps, 0, head, query, true);
  const blank = notAttended(1)[query];
  assert.deepEqual(shading.tokens.map((t) => !t.attended), blank);
  assert.equal(shading.attended, 3);
  const seen = attendedValues(1).slice(3, 6);  // row 2's three attended keys
  assert.equal(shading.scale.high, Math.max(...seen.map(Math.abs)));
  shading.tokens.forEach((t, j) => {
    if (!blank[j]) return;
    assert.ok(Number.isNaN(t.value) && t.rank === null && t.colour === UNATTENDED.fill && t.candidate === 0 && t.dropped === 0);
    assert.equal(describeToken(TOKENS[j], j, t, shading.attended, head, 2), `${TOKENS[j]} (${j})\n${UNATTENDED.hover}`);
  });
  assert.deepEqual(shading.tokens.filter((t) => t.attended).map((t) => t.rank).sort(), [1, 2, 3]);
  assert.match(describeToken(TOKENS[0], 0, shading.tokens[0], shading.attended, head, 2), /rank \d of 3 \(1 = highest\)/);
  // the same row without causality: every key shaded and ranked
  assert.ok(tokenShading(maps, 0, head, query).tokens.every((t) => t.attended));
});

// One side of the compare view: the tokens and maps above, causal or not.
const side = (causal) => ({ meta: { ...meta, causal, labels: [], prediction: null }, maps, layer: 1, input: { text: "le pisica vede" } });

test("the compare view hatches each side by its own causality, and B − A where either side has no value", () => {
  const figure = compareFigure({ a: side(false), b: side(true) }, "attribution", "0", true, 1200, "plotly");
  const hatchedAxes = figure.data.filter((t) => t.name === "not attended (hatch)").map((t) => t.xaxis);
  assert.deepEqual(hatchedAxes, ["x2", "x3"]);  // B and B − A, not A
  const values = figure.data.filter((t) => t.type === "heatmap" && t.name !== "not attended");
  assert.ok(values[0].z.flat().every((v) => !Number.isNaN(v)));  // A keeps every cell
  assert.deepEqual(values[2].z.map((r) => r.map(Number.isNaN)), notAttended(0));
  // the canvas alike
  const overlays = imageOverlays({ ...meta, causal: false }, comparePanels(side(false), side(true), "attribution", "0", true).panels);
  assert.deepEqual(overlays.map((o) => o.unattended !== null), [false, true]);
});

test("a causal view's CSV says which cells are attended (a key at or before its query); others have no such column", () => {
  const lines = viewCsv(viewMatrices(side(true), "0")).trimEnd().split("\r\n").map((l) => l.split(","));
  assert.equal(lines[0].at(-1), "attended");
  assert.equal(lines.length, 1 + N * N);
  for (const cells of lines.slice(1)) assert.equal(cells.at(-1), String(Number(cells[2]) <= Number(cells[0])), cells.join(","));
  assert.ok(!viewCsv(viewMatrices(side(false), "0")).split("\r\n")[0].includes("attended"));
  // compare: A (not causal) attends every cell, B and B − A only the earlier keys
  const both = compareCsv(compareMatrices({ a: side(false), b: side(true) }, "0")).trimEnd().split("\r\n").map((l) => l.split(","));
  assert.equal(both[0].at(-1), "attended");
  const attended = (name) => both.filter((c) => c[0] === name).map((c) => c.at(-1) === "true");
  assert.ok(attended("A").every(Boolean));
  const expected = TOKENS.flatMap((_, i) => TOKENS.map((_, j) => j <= i));
  assert.deepEqual(attended("B"), expected);
  assert.deepEqual(attended("B-A"), expected);
});
