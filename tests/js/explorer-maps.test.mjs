import assert from "node:assert/strict";
import { test } from "node:test";

import { colourTable, levelPixels, scalePixels, tableColour } from "../../frontend/static/js/explorer/colormap.js";
import { barTicks } from "../../frontend/static/js/explorer/colourbar.js";
import { ATTENTION_SCALE, ATTRIBUTION_SCALE, layerPanels } from "../../frontend/static/js/explorer/figures.js";
import { cellText } from "../../frontend/static/js/explorer/hover.js";
import { LayerCache, layerSlice } from "../../frontend/static/js/explorer/layercache.js";
import { imageOverlays } from "../../frontend/static/js/explorer/mapimage.js";
import { parseZoom, readState, stateQuery } from "../../frontend/static/js/explorer/state.js";
import { formatTick, niceTicks, thinTicks } from "../../frontend/static/js/explorer/ticks.js";

test("a colour table runs through the scale's stops, interpolating in RGB between them", () => {
  const table = colourTable(ATTRIBUTION_SCALE);
  assert.deepEqual(tableColour(table, -1, -1, 1), [0x21, 0x66, 0xac]);
  assert.deepEqual(tableColour(table, 0, -1, 1), [0xf7, 0xf7, 0xf7]);
  assert.deepEqual(tableColour(table, 1, -1, 1), [0xb2, 0x18, 0x2b]);
  assert.deepEqual(tableColour(table, 5, -1, 1), [0xb2, 0x18, 0x2b]);  // clamped like a colour bar
  const [r, g, b] = tableColour(table, 0.25, -1, 1);  // halfway from #f7f7f7 to #f4a582
  assert.ok(Math.abs(r - 0xf6) <= 1 && Math.abs(g - 0xce) <= 2 && Math.abs(b - 0xbd) <= 2, `${r},${g},${b}`);
});

test("a step scale keeps its flat bands: the mask's three levels get three colours", () => {
  const steps = [[0, "#000000"], [0.333, "#000000"], [0.333, "#ff0000"], [0.667, "#ff0000"], [0.667, "#0000ff"], [1, "#0000ff"]];
  const pixels = scalePixels(new Float32Array([0, 1, 2, 1]), colourTable(steps), 0, 2);
  assert.deepEqual([...pixels], [0, 0, 0, 255, 255, 0, 0, 255, 0, 0, 255, 255, 255, 0, 0, 255]);
  assert.deepEqual([...levelPixels(new Uint8Array([1, 0, 0, 1]), ["#000000", "#ffffff"])].slice(0, 8), [255, 255, 255, 255, 0, 0, 0, 255]);
});

test("map pixels are row-major with rows as queries: cell (i, j) is pixel i * n + j", () => {
  const table = colourTable(ATTENTION_SCALE);
  const values = new Float32Array([0, 0, 0, 1]);  // only query 1 -> key 1 is high
  const pixels = scalePixels(values, table, 0, 1);
  assert.deepEqual([...pixels.slice(12, 15)], [0x0b, 0x2a, 0x66]);
  assert.deepEqual([...pixels.slice(0, 3)], [255, 255, 255]);
});

function map(heads, n, at) {
  const values = new Float32Array(heads * n * n);
  for (let h = 0; h < heads; h++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) values[(h * n + i) * n + j] = at(h, i, j);
  return { shape: [1, heads, n, n], values };
}

const meta = { tokens: ["[CLS]", "a", "b", "[SEP]"], special: [true, false, false, true], segments: [0, 0, 1, 1], layer: 2,
  method: "GA", p: 0.3, q: 0.2, mode: "high" };
const maps = {
  attention: map(2, 4, (h, i, j) => (i === j ? 0.7 : 0.1) * (h + 1)),
  attribution: map(2, 4, (h, i, j) => (j - i) * (h + 1)),
  candidate: map(2, 4, (h, i, j) => (j === 3 ? 1 : 0)),
  dropped: map(2, 4, (h, i, j) => (i === 0 && j === 3 ? 1 : 0)),
};

test("each panel's image spans its own trace's range, and its colour bar says what it shows", () => {
  const panels = layerPanels(meta, maps, 0, "1");
  const [attention, attribution, mask] = imageOverlays(meta, panels);
  // attention spans 0 (white) to its largest weight, in the image as in the exported trace
  assert.ok(attention.colorbar.zmin === 0 && Math.abs(attention.colorbar.zmax - 1.4) < 1e-6);
  assert.equal(attribution.colorbar.zmin, -6);  // symmetric around zero: |j - i| * 2 is at most 6
  assert.deepEqual(attribution.boundaries, [1.5]);  // the second sentence starts at token 2
  assert.equal(mask.pixels.length, 4 * 4 * 4);
  assert.deepEqual(barTicks(mask.colorbar).map(([, text]) => text), ["kept", "candidate", "dropped"]);
  // mask levels: row 0 drops key 3 (2), the other rows keep it as a candidate (1), the rest are kept (0)
  const colour = (i, j) => [...mask.pixels.slice((i * 4 + j) * 4, (i * 4 + j) * 4 + 3)];
  assert.notDeepEqual(colour(0, 3), colour(1, 3));
  assert.notDeepEqual(colour(1, 3), colour(1, 0));
  assert.deepEqual(colour(1, 0), colour(2, 1));
});

test("hover names query and key and gives every map's value, the rank in the row and the mask state", () => {
  const describe = cellText(meta, layerPanels(meta, maps, 0, "0"), "0");
  const lines = describe(0, 3);
  assert.equal(lines[0], "query [CLS] (0) → key [SEP] (3)");
  assert.match(lines[1], /attention\s+0\.1000/);
  assert.match(lines[2], /attribution\s+3\.000/);
  assert.match(lines[3], /rank\s+1 of 4 in the row/);
  assert.equal(lines[4], "candidate, dropped");
  assert.equal(describe(1, 3)[4], "candidate, kept");
  assert.equal(describe(1, 0)[4], "not a candidate");
  assert.match(describe(1, 0)[3], /rank\s+4 of 4/);
  const mean = cellText(meta, layerPanels(meta, maps, 0, "mean"), "mean");
  assert.equal(mean(0, 3)[4], "dropped by 100% of heads");
});

test("token labels thin out as cells shrink and come back, on multiples of the step", () => {
  assert.deepEqual(thinTicks([-0.5, 9.5], 10, 20, 12), [...Array(10).keys()]);
  assert.deepEqual(thinTicks([-0.5, 127.5], 128, 2.6, 12), [...Array(26).keys()].map((k) => k * 5));
  assert.deepEqual(thinTicks([30.5, 20.2], 128, 5, 12), [21, 24, 27, 30]);  // reversed range, step 3
  assert.deepEqual(thinTicks([125, 140], 128, 40, 12), [125, 126, 127]);  // never past the last token
});

test("colour bar ticks are round numbers, short for tiny attributions", () => {
  assert.deepEqual(niceTicks(0, 0.2).values.map((v) => formatTick(v, 0.05, false)), ["0", "0.05", "0.10", "0.15", "0.20"]);
  const tiny = niceTicks(-0.0023, 0.0023);
  assert.deepEqual(tiny.values.map((v) => formatTick(v, tiny.step, true)), ["−2e−3", "−1e−3", "0", "1e−3", "2e−3"]);
  assert.equal(formatTick(0.0025, 0.0005, true), "2.5e−3");
  assert.deepEqual(barTicks({ zmin: 0, zmax: 0.5, tickformat: ".0%" }).map(([, t]) => t), ["0%", "10%", "20%", "30%", "40%", "50%"]);
});

test("focus mode and its zoom live in the URL; a bad zoom or focus is dropped", () => {
  const state = readState("?text=hi&focus=attribution&zoom=10.5,40.5,40.5,10.5");
  assert.equal(state.focus, "attribution");
  assert.deepEqual(parseZoom(state.zoom), [10.5, 40.5, 40.5, 10.5]);
  assert.match(stateQuery(state), /focus=attribution&zoom=10\.5%2C40\.5%2C40\.5%2C10\.5/);
  assert.equal(readState("?focus=everything").focus, "");
  assert.equal(readState("?focus=mask&zoom=1,2,3").zoom, "");
  assert.equal(readState("?zoom=1,2,3,4").zoom, "");  // a zoom without a focused map means nothing
  assert.equal(parseZoom("1,1,2,3"), null);
});

test("held layers are found for their input and masks only; an answer's masks join the maps held", () => {
  const cache = new LayerCache();
  const body = { text: "a", text_pair: null, model: "m", method: "GA", steps: 20, p: 0.3, q: 0.2, mode: "high", seed: 0 };
  const all = { attention: map(2, 4, () => 1), attribution: map(2, 4, () => 2) };
  const twoLayers = (m) => ({ shape: [2, 2, 4, 4], values: Float32Array.from({ length: 64 }, (_, k) => (k < 32 ? m : -m)) });
  cache.keep(body, { layers: [3, 5], p: 0.3, q: 0.2, mode: "high", seed: 0 }, {
    attention: twoLayers(1), attribution: twoLayers(2), candidate: twoLayers(0), dropped: twoLayers(0) });
  assert.equal(cache.find(body, 5).maps.attention.values[0], -1);  // the second layer's own slice
  assert.deepEqual(cache.find(body, 5).meta.layers, [5]);
  assert.equal(cache.find(body, 4), null);
  assert.equal(cache.find({ ...body, p: 0.4 }, 3), null);  // other masks
  assert.deepEqual(cache.missing({ ...body, p: 0.4 }, 6), { layers: [0, 1, 2, 3, 4, 5], mapsHeld: false });
  const moved = { ...body, p: 0.4 };
  cache.keep(moved, { layers: [3, 5], p: 0.4, q: 0.2, mode: "high", seed: 0 }, { candidate: twoLayers(1), dropped: twoLayers(0) });
  assert.equal(cache.find(moved, 3).maps.candidate.values[0], 1);
  assert.equal(cache.find(moved, 3).maps.attention.values[0], 1);  // the maps stay
  assert.deepEqual(cache.missing(moved, 6).layers, [0, 1, 2, 4]);
  cache.keep({ ...body, text: "b" }, { layers: [0], p: 0.3, q: 0.2, mode: "high", seed: 0 }, all);
  assert.equal(cache.find(moved, 3), null);  // a new input forgets the old one's layers
  assert.deepEqual(layerSlice(twoLayers(7), 1).shape, [1, 2, 4, 4]);
});
