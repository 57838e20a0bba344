import assert from "node:assert/strict";
import { test } from "node:test";

import { compareFigure, comparePanels, sameTokens } from "../../frontend/static/js/explorer/compare.js";
import { compareCsv, compareMatrices, viewCsv, viewMatrices } from "../../frontend/static/js/explorer/exports.js";
import { layerPanels, panelFigure, panelGap } from "../../frontend/static/js/explorer/figures.js";
import { thumbnailColours } from "../../frontend/static/js/explorer/grid.js";

function map(heads, n, at) {
  const values = new Float32Array(heads * n * n);
  for (let h = 0; h < heads; h++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) values[(h * n + i) * n + j] = at(h, i, j);
  return { shape: [1, heads, n, n], values };
}

function side(tokens, scale = 1, model = "minilm") {
  const n = tokens.length;
  return {
    layer: 0, input: { text: "a b", text_pair: null },
    meta: { tokens, special: tokens.map((t) => t.startsWith("[")), segments: tokens.map(() => 0), model, method: "GA",
      mode: "high", p: 0.3, q: 0.2, seed: 0, labels: ["neg", "pos"], prediction: 1, probabilities: [0.4, 0.6] },
    maps: {
      attention: map(2, n, (h, i, j) => scale * (i === j ? 0.5 : 0.25)),
      attribution: map(2, n, (h, i, j) => scale * (j - i) * (h + 1)),
      candidate: map(2, n, (h, i, j) => (j === 0 ? 1 : 0)),
      dropped: map(2, n, (h, i, j) => (i === 0 && j === 0 ? 1 : 0)),
    },
  };
}

test("on screen the overlays leave Plotly; in an export they are Plotly shapes and marks", () => {
  const a = side(["[CLS]", "x", "[SEP]"]);
  const meta = Object.assign({}, a.meta, { layer: 0 });
  const screen = panelFigure(meta, layerPanels(meta, a.maps, 0, "1"), 1200, "canvas");
  assert.equal(screen.data.length, 3);
  assert.ok(screen.data.every((trace) => trace.type === "heatmap"));
  assert.deepEqual(screen.data[2].z, [[2, 0, 0], [1, 0, 0], [1, 0, 0]]);
  assert.equal(screen.overlays.length, 2);  // the outlines and marks of the attention and attribution maps
  assert.deepEqual(screen.overlays[0].region, [[1, 0, 0], [1, 0, 0], [1, 0, 0]]);
  const exported = panelFigure(meta, layerPanels(meta, a.maps, 0, "1"), 1200, "plotly");
  assert.equal(exported.overlays.length, 0);
  assert.deepEqual(exported.data.map((t) => t.type), ["heatmap", "scatter", "heatmap", "scatter", "heatmap"]);
  assert.deepEqual(exported.data[4].z, screen.data[2].z);
  assert.equal(exported.layout.shapes.filter((s) => s.type === "path").length, 2);
  assert.match(exported.data[0].hovertemplate, /attention: %\{z/);
  assert.equal(exported.data[0].text[1][2], "x (1) → [SEP] (2)");
});

test("over the mean of heads the mask panel is the fraction of heads dropping, with no outline", () => {
  const a = side(["[CLS]", "x"]);
  const meta = Object.assign({}, a.meta, { layer: 0 });
  const panels = layerPanels(meta, a.maps, 0, "mean");
  assert.equal(panels[0].region, null);
  assert.match(panels[2].title, /% of heads/);
  assert.equal(panels[2].trace.zmin, 0);
});

test("compare shares one colour scale by default and keeps own scales on request", () => {
  const a = side(["[CLS]", "x", "[SEP]"], 1), b = side(["[CLS]", "x", "[SEP]"], 2, "other");
  const shared = comparePanels(a, b, "attribution", "0", true).panels;
  assert.deepEqual([shared[0].trace.zmax, shared[1].trace.zmax], [4, 4]);
  const own = comparePanels(a, b, "attribution", "0", false).panels;
  assert.deepEqual([own[0].trace.zmax, own[1].trace.zmax], [2, 4]);
  const attention = comparePanels(a, b, "attention", "0", true).panels;
  assert.deepEqual([attention[0].trace.zmax, attention[1].trace.zmax], [1, 1]);
  // own scales: each side from 0 to its own largest weight (A's 0.5, B's 1)
  assert.deepEqual(comparePanels(a, b, "attention", "0", false).panels.map((p) => [p.trace.zmin, p.trace.zmax]), [[0, 0.5], [0, 1]]);
  const figure = compareFigure({ a, b }, "attribution", "0", true, 1200, "canvas");
  assert.equal(figure.note, "");
  assert.equal(figure.data.length, 3);
  assert.match(figure.layout.annotations[2].text, /^Difference B − A/);
});

test("inputs that tokenise differently are drawn side by side, with B − A over the tokens they share", () => {
  const a = side(["[CLS]", "x", "[SEP]"]), b = side(["[CLS]", "y", "z", "[SEP]"], 2);
  assert.equal(sameTokens(a, b), false);
  const figure = compareFigure({ a, b }, "attribution", "0", true, 1200, "canvas");
  assert.match(figure.note, /B − A \(below\) is taken over the 2 tokens they share in order \(of 3 in A and 4 in B\)/);
  assert.equal(figure.data.length, 2);
  assert.deepEqual(figure.overlays.map((o) => o.xaxis), ["x", "x2"]);
  // [CLS] and [SEP] line up: A's (0, 2) against B's (0, 3); attribution is scale * (j - i) * (h + 1), head 0
  assert.deepEqual(figure.aligned.data[0].z, [[0, 2 * 3 - 2], [2 * -3 + 2, 0]]);
  assert.deepEqual(figure.aligned.layout.xaxis.ticktext.length, 2);
  assert.match(figure.aligned.layout.annotations[0].text, /over the 2 tokens A and B share/);
  const views = compareMatrices({ a, b }, "0");
  assert.deepEqual(views.difference.tokens, ["[CLS]", "[SEP]"]);
  assert.deepEqual(views.difference.attribution, figure.aligned.data[0].z);
  const rows = compareCsv(views).split("\r\n").filter((l) => l.startsWith("B-A,"));
  assert.deepEqual(rows.map((l) => l.split(",").slice(1, 5).join(",")),
    ["0,[CLS],0,[CLS]", "0,[CLS],2,[SEP]", "2,[SEP],0,[CLS]", "2,[SEP],2,[SEP]"]);
  // nothing in common beyond one token: no difference at all
  const c = side(["p", "x", "q"]), d = side(["r", "x", "s", "t"]);
  assert.equal(compareFigure({ a: c, b: d }, "attention", "0", true, 1200, "canvas").aligned, undefined);
  assert.equal(compareMatrices({ a: c, b: d }, "0").difference, null);
});

test("exports carry the input, the prediction and, in compare mode, both sides and B − A", () => {
  const a = side(["[CLS]", "x"]), b = side(["[CLS]", "x"], 2);
  const view = viewMatrices(a, "0");
  assert.deepEqual([view.text, view.prediction, view.head, view.p], ["a b", "pos", "0", 0.3]);
  const text = viewCsv(view);
  assert.ok(text.endsWith("\r\n"));
  const csv = text.trimEnd().split("\r\n");
  assert.equal(csv[0], "query_index,query_token,key_index,key_token,attention,attribution,candidate,dropped");
  assert.equal(csv.length, 1 + 4);
  assert.equal(csv[2], "0,[CLS],1,x,0.25,1,0,0");
  const both = compareMatrices({ a, b }, "0");
  assert.deepEqual(both.difference.attribution, [[0, 1], [-1, 0]]);
  const lines = compareCsv(both).trimEnd().split("\r\n");
  assert.equal(lines[0], "side,query_index,query_token,key_index,key_token,attention,attribution,candidate,dropped");
  assert.deepEqual(["A", "B", "B-A"].map((s) => lines.filter((l) => l.startsWith(`${s},`)).length), [4, 4, 4]);
  assert.equal(lines.find((l) => l.startsWith("B-A,0,")), "B-A,0,[CLS],0,[CLS],0.5,0,,");
});

test("a token classifier's export carries each token's predicted tag; a sequence classifier's has none", () => {
  const tagged = side(["[CLS]", "Paris", "[SEP]"]);
  Object.assign(tagged.meta, { labels: ["O", "B-LOC", "I-LOC"], token_predictions: [null, 1, null],
                               token_probabilities: [null, 0.93, null] });
  assert.deepEqual(viewMatrices(tagged, "0").token_tags, [null, { tag: "B-LOC", probability: 0.93 }, null]);
  assert.equal("token_tags" in viewMatrices(side(["[CLS]", "x"]), "0"), false);
  // the CSV names the query's and the key's tag on every cell, none for special tokens
  const csv = viewCsv(viewMatrices(tagged, "0")).trimEnd().split("\r\n");
  assert.equal(csv[0], "query_index,query_token,key_index,key_token,attention,attribution,candidate,dropped,query_tag,key_tag");
  assert.equal(csv.length, 1 + 9);
  assert.deepEqual(csv.slice(1).map((l) => l.split(",").slice(-2).join("|")),
    ["|", "|B-LOC", "|", "B-LOC|", "B-LOC|B-LOC", "B-LOC|", "|", "|B-LOC", "|"]);
  // in compare mode the B − A rows take A's tags; a sequence classifier's CSV has no tag columns
  const other = side(["[CLS]", "Paris", "[SEP]"], 2);
  Object.assign(other.meta, { labels: ["O", "B-LOC", "I-LOC"], token_predictions: [null, 2, null], token_probabilities: [null, 0.5, null] });
  const both = compareCsv(compareMatrices({ a: tagged, b: other }, "0")).trimEnd().split("\r\n");
  assert.ok(both[0].endsWith(",query_tag,key_tag"));
  assert.equal(both.find((l) => l.startsWith("B,1,Paris,1,")).split(",").slice(-2).join("|"), "I-LOC|I-LOC");
  assert.equal(both.find((l) => l.startsWith("B-A,1,Paris,1,")).split(",").slice(-2).join("|"), "B-LOC|B-LOC");
  assert.equal(viewCsv(viewMatrices(side(["[CLS]", "x"]), "0")).split("\r\n")[0].includes("tag"), false);
});

test("thumbnails scale each map to its own range", () => {
  const a = side(["[CLS]", "x"]);
  const colours = thumbnailColours(a.maps, "mask", 0, 1);
  assert.deepEqual(colours, [[214, 39, 40], [243, 245, 249], [255, 207, 135], [243, 245, 249]]);
  const attribution = thumbnailColours(a.maps, "attribution", 0, 0);
  assert.deepEqual(attribution[1], [178, 24, 43]);  // the largest value takes the full colour
  assert.deepEqual(attribution[2], [33, 102, 172]);
});

test("thumbnails follow the colour control: per row, each row's largest |value| takes the full colour", () => {
  const { maps } = side(["a", "b", "c"]);  // head 0's attribution rows: [0, 1, 2], [-1, 0, 1], [-2, -1, 0]
  const full = [178, 24, 43];
  const largest = thumbnailColours(maps, "attribution", 0, 0, "max");
  assert.deepEqual([largest[2], largest[5]].map((rgb) => rgb.join()), [full.join(), thumbnailColours(maps, "attribution", 0, 0)[5].join()]);
  assert.notDeepEqual(largest[5], full);  // 1 of the map's largest 2
  const rows = thumbnailColours(maps, "attribution", 0, 0, "row");
  assert.deepEqual([rows[2], rows[5]], [full, full]);  // 2 of row 0's 2, 1 of row 1's 1
  assert.deepEqual(rows[6], [33, 102, 172]);
  assert.throws(() => thumbnailColours(maps, "attribution", 0, 0, "loudest"), /unknown colour scale/);
});

test("maps stand far enough apart for a colour bar and the next map's longest token label", () => {
  const short = ["[CLS]", "a", "cat", "[SEP]"];
  assert.equal(panelGap(short, 1100), 0.11);  // a few short tokens: the usual gap
  const long = [...Array(120).keys()].map((i) => (i === 7 ? "administration" : "w"));
  // 74 px of colour bar + 14 characters at 9 px monospace (0.6 em) + 8 px, over 1100 px
  assert.ok(Math.abs(panelGap(long, 1100) - (74 + 14 * 9 * 0.6 + 8) / 1100) < 1e-12);
  assert.equal(panelGap(["x".repeat(200)], 1100), 0.2);  // capped
  const meta = { tokens: long, special: long.map(() => false), segments: long.map(() => 0) };
  const z = long.map(() => long.map(() => 0));
  const figure = panelFigure(meta, [{ z, title: "a" }, { z, title: "b" }, { z, title: "c" }], 1218, "image");
  const [first, second] = [figure.layout.xaxis.domain, figure.layout.xaxis2.domain];
  assert.ok((second[0] - first[1]) * 1100 >= 74 + 14 * 9 * 0.6 + 8);  // the room between two maps, in pixels
});

