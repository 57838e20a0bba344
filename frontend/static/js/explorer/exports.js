// What the export buttons write: the shown maps as JSON or CSV, the figure as PNG, SVG or standalone HTML.

import { toCsv } from "../common/csv.js";
import { alignTokens, alignedDifference } from "./align.js";
import { QUANTITIES } from "./decode.js";
import { difference, matrix } from "./matrix.js";
import { sameTokens } from "./compare.js";
import { tokenTags } from "./tags.js";
import { escapeHtml } from "../common/html.js";

// One side's maps for one layer and head, with what they were computed from.
export function viewMatrices(side, head) {
  const meta = side.meta;
  const out = { tokens: meta.tokens, special: meta.special, segments: meta.segments, model: meta.model,
    method: meta.method, mode: meta.mode, p: meta.p, q: meta.q, seed: meta.seed, layer: side.layer, head,
    text: side.input.text, text_pair: side.input.text_pair, prediction: meta.labels[meta.prediction] ?? meta.prediction,
    probabilities: meta.probabilities,
    // causal maps: query i attends keys j <= i only; the maps keep every cell's number (a later key's attribution
    // is a gradient no weight flows through), and the CSV says which cells are attended
    causal: Boolean(meta.causal) };
  // a token classifier's predicted tag of each token (null for special tokens), as the page shows them
  const tags = tokenTags(meta);
  if (tags) out.token_tags = tags.map((t) => (t ? { tag: t.tag, probability: t.probability } : null));
  // a translation model's maps: rows are query_tokens (the target's but for the encoder), columns tokens
  if (meta.translation) {
    Object.assign(out, { kind: meta.kind, query_tokens: meta.query_tokens, query_special: meta.query_special,
      translation: meta.translation.text, reference: meta.translation.reference, target: meta.target });
  }
  for (const key of QUANTITIES) out[key] = matrix(side.maps[key], 0, head);
  return out;
}

// Both sides and B − A of the attention and attribution maps: over every token where the tokens match, else
// over the tokens that line up (``indices``: their positions in A), else none.
export function compareMatrices(compare, head) {
  const a = viewMatrices(compare.a, head), b = viewMatrices(compare.b, head);
  if (sameTokens(compare.a, compare.b)) {
    const diff = { tokens: a.tokens, indices: a.tokens.map((_, i) => i),
      attention: difference(a.attention, b.attention), attribution: difference(a.attribution, b.attribution) };
    return { a, b, difference: diff };
  }
  const pairs = alignTokens(a.tokens, b.tokens);
  if (pairs.length < 2) return { a, b, difference: null };
  const diff = { tokens: pairs.map(([i]) => a.tokens[i]), indices: pairs.map(([i]) => i),
    attention: alignedDifference(a.attention, b.attention, pairs), attribution: alignedDifference(a.attribution, b.attribution, pairs) };
  return { a, b, difference: diff };
}

const HEADER = ["query_index", "query_token", "key_index", "key_token", "attention", "attribution", "candidate", "dropped"];
// A token classifier's views add each token's predicted tag, for the query and for the key.
const TAG_HEADER = ["query_tag", "key_tag"];
// Causal views add whether the query attends the key (false: a later key, whose attribution is a gradient no weight
// flows through, left blank on the page), so that a spreadsheet can leave those cells out as the page does.
const ATTENDED_HEADER = ["attended"];

// The extra columns: [tagged, causal] as the views ask for them.
function extras(views) {
  return [views.some((v) => v?.token_tags), views.some((v) => v?.causal)];
}

function rows(side, view, [tagged, causal], out) {
  const at = (i) => (view.indices ? view.indices[i] : i);
  const tag = (i) => view.token_tags?.[at(i)]?.tag ?? "";
  (view.query_tokens || view.tokens).forEach((qt, i) => view.tokens.forEach((kt, j) => {
    const cells = [at(i), qt, at(j), kt, view.attention[i][j], view.attribution[i][j],
      view.candidate ? view.candidate[i][j] : null, view.dropped ? view.dropped[i][j] : null];
    if (tagged) cells.push(tag(i), tag(j));
    if (causal) cells.push(view.causal ? at(j) <= at(i) : true);
    out.push(side ? [side, ...cells] : cells);
  }));
}

function header(side, [tagged, causal]) {
  return [...(side ? ["side"] : []), ...HEADER, ...(tagged ? TAG_HEADER : []), ...(causal ? ATTENDED_HEADER : [])];
}

// One row per cell of the shown maps.
export function viewCsv(view) {
  const columns = extras([view]);
  const out = [header(false, columns)];
  rows(null, view, columns, out);
  return toCsv(out);
}

// Long form, one row per side and cell; the B − A rows have no mask columns, and their indices (and tags) are A's;
// a B − A cell is attended when both sides attend it.
export function compareCsv(views) {
  const columns = extras([views.a, views.b]);
  const out = [header(true, columns)];
  rows("A", views.a, columns, out);
  rows("B", views.b, columns, out);
  if (views.difference) {
    rows("B-A", { ...views.difference, token_tags: views.a.token_tags, causal: views.a.causal || views.b.causal },
      columns, out);
  }
  return toCsv(out);
}

// The Plotly.js every page runs: Plotly's own partial bundle with the cartesian traces (heatmap, scatter, bar),
// a third of the full library and enough for every figure the pages draw.
export const STANDALONE_PLOTLY = "/static/vendor/plotly.js-cartesian-dist-min/plotly-cartesian.min.js";

export function standaloneHtml(library, figure, title) {
  // "<" escaped so no token can close the script element.
  const json = JSON.stringify({ data: figure.data, layout: figure.layout }).replace(/</g, "\\u003c");
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<script>${library.replace(/<\/script/gi, "<\\/script")}</script></head><body style="margin:0;font-family:sans-serif">` +
    `<div id="figure" style="width:100%;height:100vh"></div><script>const f=${json};` +
    `Plotly.newPlot("figure",f.data,Object.assign(f.layout,{autosize:true}),{responsive:true,displaylogo:false});</script></body></html>`;
}
