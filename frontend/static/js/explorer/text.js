// Text shown inside figures.  Plotly reads a few HTML tags in tick and hover text, so tokens are escaped.

export function escapeHtml(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function tickLabels(meta) {
  return meta.tokens.map((token, i) =>
    meta.special[i] ? `<span style="color:#8a93a6">${escapeHtml(token)}</span>` : escapeHtml(token));
}

// The query → key part of every cell's hover text.  It depends only on the tokens, so one grid serves
// every panel, layer and head of an input (building n² strings per redraw was most of a redraw's cost).
const pairCache = new WeakMap();
export function tokenPairs(tokens) {
  if (!pairCache.has(tokens)) {
    const t = tokens.map(escapeHtml);
    pairCache.set(tokens, t.map((query, i) => t.map((key, j) => `${query} (${i}) → ${key} (${j})`)));
  }
  return pairCache.get(tokens);
}
