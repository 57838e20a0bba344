// Unit tests of the one HTML escape the pages use (node --test tests/js/).
import assert from "node:assert/strict";
import { test } from "node:test";

import { escapeHtml } from "../../frontend/static/js/common/html.js";

test("escapeHtml: markup and quotes become references Plotly and browsers both decode", () => {
  assert.equal(escapeHtml('<a href="x">y</a>'), "&lt;a href=&#34;x&#34;&gt;y&lt;/a&gt;");
  assert.equal(escapeHtml("Tom & 'Jerry'"), "Tom &amp; &#39;Jerry&#39;");
  assert.equal(escapeHtml("&lt;"), "&amp;lt;");  // already-escaped text stays literal
  assert.equal(escapeHtml(null), "");
  assert.equal(escapeHtml(3), "3");
});
