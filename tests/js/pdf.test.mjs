// Unit tests of the PDF export's helpers (node --test tests/js/); the export itself runs in the browser tests.
import assert from "node:assert/strict";
import { test } from "node:test";

import { base64Of, firstFamily } from "../../frontend/static/js/explorer/pdf.js";

test("base64Of: the bytes as base64, also past the chunk size", () => {
  assert.equal(base64Of(new Uint8Array([0, 255, 104, 105]).buffer), Buffer.from([0, 255, 104, 105]).toString("base64"));
  const big = new Uint8Array(0x8000 * 2 + 17).map((_, i) => (i * 31) % 256);
  assert.equal(base64Of(big.buffer), Buffer.from(big).toString("base64"));
  assert.equal(base64Of(new ArrayBuffer(0)), "");
});

test("firstFamily: the first name of a CSS font-family list, unquoted", () => {
  assert.equal(firstFamily("Arial, Helvetica, sans-serif"), "Arial");
  assert.equal(firstFamily('"Liberation Sans", Arial'), "Liberation Sans");
  assert.equal(firstFamily("'DejaVu Sans'"), "DejaVu Sans");
  assert.equal(firstFamily("serif"), "serif");
});
