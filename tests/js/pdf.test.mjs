// Unit tests of the PDF export's helpers (node --test tests/js/); the export itself runs in the browser tests.
import assert from "node:assert/strict";
import { test } from "node:test";

import { base64Of, embeddedFirst } from "../../frontend/static/js/explorer/pdf.js";

test("base64Of: the bytes as base64, also past the chunk size", () => {
  assert.equal(base64Of(new Uint8Array([0, 255, 104, 105]).buffer), Buffer.from([0, 255, 104, 105]).toString("base64"));
  const big = new Uint8Array(0x8000 * 2 + 17).map((_, i) => (i * 31) % 256);
  assert.equal(base64Of(big.buffer), Buffer.from(big).toString("base64"));
  assert.equal(base64Of(new ArrayBuffer(0)), "");
});

test("embeddedFirst: the embedded font leads the font-family list, the rest stays as fallbacks", () => {
  assert.equal(embeddedFirst("Arial, Helvetica, sans-serif"), "LiberationSans, Arial, Helvetica, sans-serif");
  assert.equal(embeddedFirst('"Open Sans", verdana'), 'LiberationSans, "Open Sans", verdana');
  assert.equal(embeddedFirst(""), "LiberationSans");
});
