import assert from "node:assert/strict";
import { test } from "node:test";

import { decode, decodeAll } from "../../frontend/static/js/explorer/decode.js";
import { countSet, difference, maskLevels, matrix, outlinePath, outlineSegments, parseIndexList, symmetricRange }
  from "../../frontend/static/js/explorer/matrix.js";
import { DEFAULTS, explainBody, readState, stateQuery } from "../../frontend/static/js/explorer/state.js";
import { tickLabels, tokenPairs } from "../../frontend/static/js/explorer/text.js";

const base64 = (bytes) => Buffer.from(bytes).toString("base64");

test("float32 maps decode little-endian, whatever the base64 string's alignment", () => {
  const values = new Float32Array([0.5, -2, 1e-7, 3]);
  const decoded = decode({ dtype: "float32", shape: [1, 1, 2, 2], data: base64(new Uint8Array(values.buffer)) });
  assert.deepEqual(decoded.shape, [1, 1, 2, 2]);
  assert.deepEqual([...decoded.values], [...values]);
});

test("bool maps unpack eight to a byte, most significant bit first, and ignore the padding bits", () => {
  // 10 values: 1011 0000 01|00 0000
  const decoded = decode({ dtype: "bool", shape: [1, 1, 10], data: base64([0b10110000, 0b01000000]) });
  assert.deepEqual([...decoded.values], [1, 0, 1, 1, 0, 0, 0, 0, 0, 1]);
  const all = decodeAll({ candidate: { dtype: "bool", shape: [1], data: base64([0x80]) }, p: 0.3 });
  assert.deepEqual(Object.keys(all), ["candidate"]);
});

function map(layers, heads, n, at) {
  const values = new Float32Array(layers * heads * n * n);
  for (let l = 0; l < layers; l++) for (let h = 0; h < heads; h++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    values[((l * heads + h) * n + i) * n + j] = at(l, h, i, j);
  }
  return { shape: [layers, heads, n, n], values };
}

test("matrix slices one layer and head, and averages over heads for mean", () => {
  const array = map(2, 3, 2, (l, h, i, j) => 100 * l + 10 * h + 2 * i + j);
  assert.deepEqual(matrix(array, 1, "2"), [[120, 121], [122, 123]]);
  assert.deepEqual(matrix(array, 0, "mean"), [[10, 11], [12, 13]]);
});

test("mask levels, counts, differences and the symmetric range", () => {
  const candidate = [[1, 1], [0, 1]], dropped = [[0, 1], [0, 0]];
  assert.deepEqual(maskLevels(candidate, dropped), [[1, 2], [0, 1]]);
  assert.equal(countSet(candidate), 3);
  assert.equal(countSet([[0.25, 0.5]]), 1);  // a mean over heads counts where half of them or more drop
  assert.deepEqual(difference([[1, 2]], [[4, 0]]), [[3, -2]]);
  assert.equal(symmetricRange([[-3, 2]]), 3);
  assert.equal(symmetricRange([[0, 0]]), 1);
});

test("the outline runs along the border of the set cells only", () => {
  assert.deepEqual(outlineSegments([[1, 0], [0, 0]]), [[-0.5, -0.5, 0.5, -0.5], [-0.5, 0.5, 0.5, 0.5], [-0.5, -0.5, -0.5, 0.5], [0.5, -0.5, 0.5, 0.5]]);
  // Two cells side by side: their shared edge is not drawn, and the top and bottom edges run on as one.
  assert.deepEqual(outlineSegments([[1, 1], [0, 0]]), [[-0.5, -0.5, 1.5, -0.5], [-0.5, 0.5, 1.5, 0.5], [-0.5, -0.5, -0.5, 0.5], [1.5, -0.5, 1.5, 0.5]]);
  // An L: the left edge runs down two rows; the inner corner's edges stay separate.
  assert.deepEqual(outlineSegments([[1, 0], [1, 1]]).length, 6);
  assert.deepEqual(outlineSegments([[1, 0, 1], [0, 0, 0], [0, 0, 0]]).filter(([, y0, , y1]) => y0 === y1), [[-0.5, -0.5, 0.5, -0.5], [1.5, -0.5, 2.5, -0.5], [-0.5, 0.5, 0.5, 0.5], [1.5, 0.5, 2.5, 0.5]]);
  assert.equal(outlinePath([[0]]), "");
  assert.equal(outlinePath([[1]]).split("M").length - 1, 4);
});

test("index lists take all, single indices and ranges, and name the part that is wrong", () => {
  assert.deepEqual(parseIndexList("", 3, "Layers"), [0, 1, 2]);
  assert.deepEqual(parseIndexList(" All ", 2, "Layers"), [0, 1]);
  assert.deepEqual(parseIndexList("5, 0-2,1", 6, "Heads"), [0, 1, 2, 5]);
  assert.deepEqual(parseIndexList("3 - 4", 6, "Heads"), [3, 4]);
  assert.throws(() => parseIndexList("1,x", 6, "Heads"), /Heads: “x” is not a number or a range/);
  assert.throws(() => parseIndexList("4-2", 6, "Heads"), /4-2 is outside 0-5/);
  assert.throws(() => parseIndexList("6", 6, "Layers"), /Layers: 6 is outside 0-5/);
});

test("the URL state reads clamped numbers and known values, and writes only what differs", () => {
  const state = readState("?text=a+b&p=2&q=x&seed=-4&steps=500&layer=3&method=iga&mode=odd&scales=own&junk=1");
  assert.equal(state.text, "a b");
  assert.equal(state.p, 0.95);
  assert.equal(state.q, DEFAULTS.q);
  assert.equal(state.seed, 0);
  assert.equal(state.steps, 100);
  assert.equal(state.layer, 3);
  assert.equal(state.method, "IGA");
  assert.equal(state.mode, "high");
  assert.equal(state.scales, "own");
  assert.equal("junk" in state, false);
  assert.equal(readState("?scales=whatever").scales, "shared");
  assert.equal(stateQuery(readState("")), "");
  const round = readState(`?${stateQuery(Object.assign(readState(""), { text: "x & y", p: 0.7, head: "mean" }))}`);
  assert.deepEqual([round.text, round.p, round.head], ["x & y", 0.7, "mean"]);
});

test("B's request falls back to A's model and sentences where its fields are empty", () => {
  const state = Object.assign(readState(""), { text: "a", pair: "b", model: "m" });
  assert.deepEqual([explainBody(state, "a").text, explainBody(state, "a").text_pair], ["a", "b"]);
  assert.deepEqual([explainBody(state, "b").text, explainBody(state, "b").text_pair, explainBody(state, "b").model], ["a", "b", "m"]);
  Object.assign(state, { text_b: "c", model_b: "n" });
  assert.deepEqual([explainBody(state, "b").text, explainBody(state, "b").text_pair, explainBody(state, "b").model], ["c", null, "n"]);
  assert.equal(explainBody(Object.assign(state, { pair_b: "d" }), "b").text_pair, "d");
});

test("tokens are escaped wherever Plotly would read HTML", () => {
  const labels = tickLabels({ tokens: ["[CLS]", "<b>", '"'], special: [true, false, false] });
  assert.match(labels[0], /^<span style="color:#8a93a6">\[CLS\]<\/span>$/);
  assert.equal(labels[1], "&lt;b&gt;");
  assert.equal(labels[2], "&#34;");  // Plotly decodes numeric references, not &quot;
  const tokens = ["a", "<"];
  const pairs = tokenPairs(tokens);
  assert.equal(pairs[1][0], "&lt; (1) → a (0)");
  assert.equal(tokenPairs(tokens), pairs);  // built once per input
});

test("a link's values the explorer changed are each named with what is shown instead; kept values are not", async () => {
  const { changedValues, changedTyped } = await import("../../frontend/static/js/explorer/state.js");
  const search = "?text=a&p=1.5&q=0.3&seed=1.5&steps=20&layer=2&method=iga&mode=odd&focus=attribution";
  const notes = changedValues(search, readState(search));
  assert.deepEqual(notes, [
    'The link\'s p "1.5" is not 0.05 to 0.95: 0.95 is shown instead.',
    'The link\'s seed "1.5" is not a whole number from 0 to 4294967295: 1 is shown instead.',
    'The link\'s mode "odd" is not one the explorer knows: high is shown instead.',
  ]);  // iga is IGA in another case, not a change
  assert.deepEqual(changedValues("?text=a&p=0.3", readState("?text=a&p=0.3")), []);
  assert.equal(changedTyped("steps", "500", 100), 'IGA steps "500" is not a whole number from 1 to 100: 100 is used instead.');
  assert.equal(changedTyped("steps", "20", 20), "");
});
