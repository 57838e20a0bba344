// A translation model's maps in the explorer: rows (target tokens) and keys (source tokens) of their own, the
// request body of a translation model, and a classifier's body unchanged.
import assert from "node:assert/strict";
import { test } from "node:test";

import { viewCsv, viewMatrices } from "../../frontend/static/js/explorer/exports.js";
import { layerPanels, panelFigure } from "../../frontend/static/js/explorer/figures.js";
import { cellAt, thumbnailColours } from "../../frontend/static/js/explorer/grid.js";
import { cellText } from "../../frontend/static/js/explorer/hover.js";
import { layerSlice } from "../../frontend/static/js/explorer/layercache.js";
import { imageOverlays } from "../../frontend/static/js/explorer/mapimage.js";
import { matrix, outlineSegments } from "../../frontend/static/js/explorer/matrix.js";
import { queryRow, tokenShading } from "../../frontend/static/js/explorer/salience.js";
import { explainBody, readState } from "../../frontend/static/js/explorer/state.js";
import { kindName, rowTokens, tokenPairs } from "../../frontend/static/js/explorer/text.js";

const SOURCE = ["▁the", "▁cat", "▁sees", "</s>"];
const TARGET = ["<pad>", "▁le", "▁pisica"];

// [1, heads, m, n] with value at(h, i, j)
function rect(heads, m, n, at) {
  const values = new Float32Array(heads * m * n);
  for (let h = 0; h < heads; h++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) values[(h * m + i) * n + j] = at(h, i, j);
  return { shape: [1, heads, m, n], values };
}

function crossView() {
  const meta = {
    tokens: SOURCE, special: [false, false, false, true], segments: [0, 0, 0, 0], query_tokens: TARGET,
    query_special: [true, false, false], kind: "cross", layer: 1, num_heads: 2, model: "marian", method: "GA", mode: "high",
    p: 0.3, q: 0.2, seed: 0, labels: [], prediction: null, probabilities: [], target: "pseudo_loss",
    translation: { text: "le pisica", reference: null, target_labels: ["▁le", "▁pisica", "</s>"] },
  };
  const maps = {
    attention: rect(2, 3, 4, (h, i, j) => (i === j ? 0.7 : 0.1)),
    attribution: rect(2, 3, 4, (h, i, j) => 10 * i + j + 100 * h),
    candidate: rect(2, 3, 4, (h, i, j) => (j === i ? 1 : 0)),
    dropped: rect(2, 3, 4, (h, i, j) => (j === i && i === 2 ? 1 : 0)),
  };
  return { meta, maps };
}

test("a cross-attention map is sliced as target rows of source keys", () => {
  const { maps } = crossView();
  const rows = matrix(maps.attribution, 0, "1");
  assert.equal(rows.length, 3);
  assert.deepEqual(rows[2], [120, 121, 122, 123]);
  assert.deepEqual(matrix(maps.attribution, 0, "mean")[1], [60, 61, 62, 63]);
  assert.deepEqual(queryRow(maps.attribution, 0, "0", 2), [20, 21, 22, 23]);
  const shading = tokenShading(maps, 0, "0", 1);
  assert.equal(shading.tokens.length, 4);  // one per source token
  assert.deepEqual(shading.tokens.map((t) => t.candidate), [0, 1, 0, 0]);
  const slice = layerSlice({ shape: [2, 2, 3, 4], values: new Float32Array(48).map((_, k) => k) }, 1);
  assert.deepEqual(slice.shape, [1, 2, 3, 4]);
  assert.equal(slice.values[0], 24);
});

test("outlines and images of a map that is not square", () => {
  // the region: the cells (0, 0) and (1, 2) of a 2 x 3 map
  const segments = outlineSegments([[1, 0, 0], [0, 0, 1]]);
  assert.equal(segments.length, 8);
  assert.ok(segments.every(([x0, y0, x1, y1]) => Math.max(x0, x1) <= 2.5 && Math.max(y0, y1) <= 1.5));
  const { meta, maps } = crossView();
  const overlays = imageOverlays(meta, layerPanels(meta, maps, 0, "0"));
  assert.deepEqual([overlays[0].n, overlays[0].m], [4, 3]);
  assert.equal(overlays[0].pixels.length, 3 * 4 * 4);  // RGBA per cell
});

test("the figure's y axis carries the target tokens and its x axis the source tokens, cells square", () => {
  const { meta, maps } = crossView();
  const panels = layerPanels(meta, maps, 0, "0");
  assert.match(panels[0].title, /^Cross-attention · layer 1, head 0$/);
  const figure = panelFigure(meta, panels, 1200, "plotly");
  const { xaxis, yaxis } = figure.layout;
  assert.deepEqual(xaxis.ticktext, ["▁the", "▁cat", "▁sees", '<span style="color:#8a93a6">&lt;/s&gt;</span>']);
  assert.deepEqual(yaxis.ticktext, ['<span style="color:#8a93a6">&lt;pad&gt;</span>', "▁le", "▁pisica"]);
  assert.deepEqual(yaxis.range, [2.5, -0.5]);
  assert.deepEqual(xaxis.range, [-0.5, 3.5]);
  assert.equal(figure.data[0].text.length, 3);
  assert.equal(figure.data[0].text[2][0], "▁pisica (2) → ▁the (0)");
  const square = panelFigure({ ...meta, query_tokens: SOURCE, query_special: meta.special }, panels, 1200, "plotly");
  assert.ok(figure.layout.height < square.layout.height);  // 3 rows of 4 keys: less tall than 4 of 4
});

test("hovers, thumbnails and exports name the target row and the source key", () => {
  const { meta, maps } = crossView();
  const describe = cellText(meta, layerPanels(meta, maps, 0, "0"), "0");
  assert.equal(describe(2, 1)[0], "query ▁pisica (2) → key ▁cat (1)");
  assert.match(describe(2, 1)[3], /^rank +3 of 4 in the row/);
  assert.equal(thumbnailColours(maps, "mask", 0, 0).length, 12);
  assert.deepEqual(cellAt(39, 29, 40, 30, 4, 3), { query: 2, key: 3 });
  const view = viewMatrices({ meta, maps, layer: 1, input: { text: "the cat sees" } }, "0");
  assert.deepEqual(view.query_tokens, TARGET);
  assert.equal(view.kind, "cross");
  const csv = viewCsv(view).trim().split("\n");
  assert.equal(csv.length, 1 + 3 * 4);
  assert.equal(csv[csv.length - 1].split(",").slice(0, 4).join(","), "2,▁pisica,3,</s>");
});

test("a translation model is asked for a kind and a reference, a classifier as before", () => {
  const state = readState("?text=the%20cat&pair=ignored&reference=le%20pisica&kind=cross&model=marian");
  assert.equal(state.kind, "cross");
  const tasks = { marian: "translation", minilm: "classification" };
  assert.deepEqual(explainBody(state, "a", tasks), {
    text: "the cat", text_pair: null, reference: "le pisica", kind: "cross", model: "marian", method: "GA", mode: "high",
    p: 0.3, q: 0.2, seed: 0, steps: 20,
  });
  const blank = { ...state, reference: "  ", kind: "" };
  assert.equal(explainBody(blank, "a", tasks).reference, null);
  assert.equal(explainBody(blank, "a", tasks).kind, null);
  const classifier = explainBody({ ...state, model: "minilm" }, "a", tasks);
  assert.ok(!("kind" in classifier) && !("reference" in classifier));
  assert.equal(classifier.text_pair, "ignored");
  assert.equal(readState("?kind=self").kind, "");
  assert.equal(kindName("decoder"), "decoder self-attention");
  assert.deepEqual(rowTokens({ tokens: SOURCE }), SOURCE);
  assert.equal(tokenPairs(SOURCE, TARGET)[0][3], "&lt;pad&gt; (0) → &lt;/s&gt; (3)");
});

test("a translation's figures are titled by its source sentence, its SentencePiece pieces joined into words", async () => {
  const { fileName, figureTitle, firstWords, viewFacts } = await import("../../frontend/static/js/explorer/captions.js");
  // an unmarked piece continues the word before it once pieces mark where words start
  assert.equal(firstWords(["▁t", "he", "▁cat", "▁se", "es", ",", "</s>"], [false, false, false, false, false, false, true], 6), "the cat sees,");
  assert.equal(firstWords(["The", "Ġcat", "Ġsat"], [false, false, false], 6), "The cat sat");
  const { meta } = crossView();
  const decoder = Object.assign({}, meta, { kind: "decoder", tokens: TARGET, special: [true, false, false],
    translation: Object.assign({}, meta.translation, { source_tokens: SOURCE, source_special: [false, false, false, true] }) });
  const facts = viewFacts(decoder, "1", "paper");
  assert.match(figureTitle(facts), /^marian · “the cat sees” · layer 1, head 1 · /);
  assert.match(fileName(facts), /_the-cat-sees_/);
});
