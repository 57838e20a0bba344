// Text shown inside figures.  Plotly reads a few HTML tags in tick and hover text, so tokens are escaped.

import { STYLE } from "../common/figure-style.js";
import { escapeHtml } from "../common/html.js";

// The maps' rows: a translation model's answer names them (query_tokens: its target tokens for the decoder's
// and the cross-attention); a classifier's rows are its keys, the tokens.
export function rowTokens(meta) {
  return meta.query_tokens || meta.tokens;
}

export function rowSpecial(meta) {
  return meta.query_special || meta.special;
}

function labelled(tokens, special) {
  return tokens.map((token, i) => (special[i] ? `<span style="color:#8a93a6">${escapeHtml(token)}</span>` : escapeHtml(token)));
}

// The keys' tick labels (the x axis); rowLabels are the rows' (the y axis).
export function tickLabels(meta) {
  return labelled(meta.tokens, meta.special);
}

export function rowLabels(meta) {
  return labelled(rowTokens(meta), rowSpecial(meta));
}

// The query → key part of every cell's hover text.  It depends only on the tokens, so one grid serves
// every panel, layer and head of an input (building n² strings per redraw was most of a redraw's cost).
const pairCache = new WeakMap();
export function tokenPairs(tokens, rows = tokens) {
  const cached = pairCache.get(tokens);
  if (!cached || cached.rows !== rows) {
    const t = tokens.map(escapeHtml);
    const pairs = rows.map(escapeHtml).map((query, i) => t.map((key, j) => `${query} (${i}) → ${key} (${j})`));
    pairCache.set(tokens, { rows, pairs });
  }
  return pairCache.get(tokens).pairs;
}

// How the page names each kind of map (a translation model's; a classifier's maps are just "attention").
export function kindName(kind) {
  return STYLE.titles.kinds[kind] || kind;
}
