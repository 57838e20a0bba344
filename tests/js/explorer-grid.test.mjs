// The model view's hover text, its exported SVG, and the mean-over-heads mask scale.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { STANDALONE_PLOTLY } from "../../frontend/static/js/explorer/exports.js";
import { maskPanel } from "../../frontend/static/js/explorer/figures.js";
import { imageOverlays } from "../../frontend/static/js/explorer/mapimage.js";
import { cellAt, cellText, gridLayout, gridSvgText } from "../../frontend/static/js/explorer/grid.js";

// Two layers, two heads, three tokens; each value names its layer, head, query and key.
function grid() {
  const n = 3, values = new Float32Array(2 * 2 * n * n), cand = new Uint8Array(values.length), drop = new Uint8Array(values.length);
  for (let l = 0; l < 2; l++) for (let h = 0; h < 2; h++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    values[((l * 2 + h) * n + i) * n + j] = -(l * 1000 + h * 100 + i * 10 + j) / 7;
  }
  cand[((1 * 2 + 0) * n + 2) * n + 1] = 1;
  drop[((1 * 2 + 1) * n + 0) * n + 2] = 1; cand[((1 * 2 + 1) * n + 0) * n + 2] = 1;
  const array = (v) => ({ shape: [2, 2, n, n], values: v });
  return { meta: { tokens: ["[CLS]", "cat", "[SEP]"] }, maps: { attribution: array(values), candidate: array(cand), dropped: array(drop) } };
}

test("the pointer's position picks the cell, rows being queries and columns keys", () => {
  assert.deepEqual(cellAt(0, 0, 60, 60, 3), { query: 0, key: 0 });
  assert.deepEqual(cellAt(59, 21, 60, 60, 3), { query: 1, key: 2 });
  assert.deepEqual(cellAt(60, 60, 60, 60, 3), { query: 2, key: 2 });  // the far border belongs to the last cell
  assert.deepEqual(cellAt(-1, 45, 90, 60, 3), { query: 2, key: 0 });
});

test("the hover names layer, head, query and key tokens and the value there", () => {
  const data = Object.assign(grid(), { quantity: "attribution" });
  assert.equal(cellText(data, 1, 0, 2, 1), "layer 1 · head 0\nquery [SEP] (2) → key cat (1)\nattribution: -145.9");
  assert.equal(cellText(data, 0, 1, 0, 0), "layer 0 · head 1\nquery [CLS] (0) → key [CLS] (0)\nattribution: -14.29");
  const mask = Object.assign(grid(), { quantity: "mask" });
  assert.match(cellText(mask, 1, 0, 2, 1), /mask: candidate$/);
  assert.match(cellText(mask, 1, 1, 0, 2), /mask: dropped$/);
  assert.match(cellText(mask, 1, 1, 0, 1), /mask: kept$/);
});

test("the SVG places each map where the PNG does, with its labels as text", () => {
  const layout = gridLayout([0, 2], [1, 3, 5], 10);
  assert.equal(layout.cell, 96);
  assert.deepEqual([layout.width, layout.height], [40 + 3 * 104, 40 + 2 * 104]);
  assert.deepEqual(layout.at(2, 5), { x: 40 + 2 * 104, y: 40 + 104 });
  const svg = gridSvgText(layout, [{ layer: 2, head: 5, href: "data:image/png;base64,AAAA" }, { layer: 0, head: 1, href: "data:image/png;base64,BBBB" }]);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="352" height="248" viewBox="0 0 352 248">/);
  assert.match(svg, /<image x="248" y="144" width="96" height="96" href="data:image\/png;base64,AAAA"[^>]*style="image-rendering:pixelated"><title>layer 2, head 5<\/title><\/image>/);
  assert.match(svg, /<image x="40" y="40" width="96" height="96" href="data:image\/png;base64,BBBB"/);
  const labels = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
  assert.deepEqual(labels, ["H1", "H3", "H5", "L0", "L2"]);
  assert.ok(svg.endsWith("</svg>"));
  assert.equal(gridLayout([0], [0], 128).cell, 384);  // 3 px a cell for long inputs
});

test("over the mean of heads the dropped share's colour scale ends at the largest share", () => {
  const candidate = [[0, 0], [0, 0]], dropped = [[0, 0.25], [0.125, 0]];
  const panel = maskPanel({ p: 0.3, q: 0.2, mode: "high" }, candidate, dropped, "mean");
  assert.equal(panel.trace.zmin, 0);
  assert.equal(panel.trace.zmax, 0.25);
  // the canvas paints that scale: the largest share gets the scale's top colour, half of it a lighter one
  const [image] = imageOverlays({ tokens: ["a", "b"], segments: [0, 0] }, [panel]);
  const pixel = (i, j) => [...image.pixels.slice((i * 2 + j) * 4, (i * 2 + j) * 4 + 3)];
  const top = panel.trace.colorscale.at(-1)[1];
  assert.deepEqual(pixel(0, 1), [parseInt(top.slice(1, 3), 16), parseInt(top.slice(3, 5), 16), parseInt(top.slice(5, 7), 16)]);
  assert.notDeepEqual(pixel(1, 0), pixel(0, 1));
  assert.notDeepEqual(pixel(1, 0), pixel(0, 0));
  const none = maskPanel({ p: 0.3, q: 0.2, mode: "high" }, candidate, [[0, 0], [0, 0]], "mean");
  assert.equal(none.trace.zmax, 1);  // nothing dropped: still a non-empty range
});

test("the standalone export's Plotly bundle is the vendored one", () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../frontend");
  assert.ok(STANDALONE_PLOTLY.startsWith("/static/"));
  assert.ok(existsSync(resolve(root, STANDALONE_PLOTLY.slice(1))), STANDALONE_PLOTLY);
});
