// The text view (after LIT's salience maps): the input as running text, each token shaded by the
// attribution it gets in one query's row, AD-DROP's candidates outlined and its drops struck through.
// The keys a causal row cannot attend (later positions) stay blank under a hatch, as on the maps.
// Clicking a token makes it the query.  For a translation model's cross-attention the queries are the target's
// tokens, shown above the source: clicking a target word shades the source words it leans on.

import { el } from "../common/dom.js";
import { STYLE } from "../common/figure-style.js";
import { quantityTitle, shadeEnds } from "./legends.js";
import { describeToken, formatValue, gradient, hatchBackground, tokenShading } from "./salience.js";
import { kindName, rowSpecial, rowTokens } from "./text.js";
import { joinWords } from "./words.js";

const built = new WeakMap();  // container -> {body, tokens, rows, spans, words, rowSpans}: rebuilt only for a new input

// Whether the rows are tokens of their own (cross-attention: target rows, source keys).
export const rowsApart = (meta) => Boolean(meta.query_tokens) && meta.kind === "cross";

function skeleton(container, onSelect) {
  container.replaceChildren();
  const head = el("div", { class: "tv-head" });
  const title = el("div", { class: "tv-title" });
  const legend = el("div", { class: "tv-legend" });
  const scale = el("div", { class: "tv-scale" });
  const bar = el("span", { class: "tv-bar" });
  const ends = el("div", { class: "tv-ends" });
  scale.append(el("span", { class: "tv-scale-title" }), bar, ends);
  const marks = el("div", { class: "tv-marks" }, el("span", { class: "tv-tok candidate sample", text: "word" }), " candidate (top-p of the row)  ",
    el("span", { class: "tv-tok candidate dropped sample", text: "word" }), " dropped (−∞ in pass 2)");
  const sample = el("span", { class: "tv-tok unattended sample", text: "word" });
  Object.assign(sample.style, { background: hatchBackground(), color: STYLE.not_attended.ink });
  const hatched = el("span", { class: "tv-unattended-legend hidden" }, "  ", sample, ` ${STYLE.not_attended.hover}`);
  legend.append(scale, marks, hatched);
  head.append(title, legend);
  const body = el("div", { class: "tv-body" });
  const tip = el("div", { class: "tv-tip", role: "tooltip", hidden: true });
  container.append(head, body, el("div", { class: "muted tv-hint" }), tip);
  body.addEventListener("click", (event) => {
    const token = event.target.closest("[data-query]");
    if (token) onSelect(Number(token.dataset.query));
  });
  body.addEventListener("mouseover", (event) => {
    const token = event.target.closest(".tv-tok");
    tip.hidden = !token;
    if (!token) return;
    tip.textContent = token.dataset.describe;
    const box = token.getBoundingClientRect(), frame = container.getBoundingClientRect();
    const left = Math.min(box.left - frame.left, frame.width - tip.offsetWidth - 4);
    tip.style.left = `${Math.max(0, left)}px`;
    tip.style.top = `${box.bottom - frame.top + 6}px`;
  });
  body.addEventListener("mouseleave", () => { tip.hidden = true; });
  return body;
}

// Tokens as running text, one span each; with `clickable`, a click on one makes it the query.
function appendWords(body, tokens, special, segments, clickable) {
  const spans = [], words = [];
  let paragraph = null;
  for (const word of joinWords(tokens, special, segments)) {
    if (!paragraph || word.paragraph) {
      if (paragraph) body.appendChild(el("div", { class: "tv-separator", text: `sentence ${word.segment + 1}` }));
      paragraph = body.appendChild(el("p", { class: "tv-paragraph" }));
    }
    if (word.gap) paragraph.appendChild(document.createTextNode(" "));
    const group = paragraph.appendChild(el("span", { class: "tv-word" }));
    word.tokens.forEach((index, k) => {
      const span = el("span", { class: "tv-tok" + (word.special ? " special" : "") + (k > 0 ? " piece" : ""), text: word.texts[k] });
      span.dataset.index = index;
      if (clickable) span.dataset.query = index;
      spans[index] = group.appendChild(span);
      words[index] = word.special ? tokens[index] : word.texts.join("");
    });
  }
  return { spans, words };
}

function buildText(body, meta) {
  body.replaceChildren();
  if (!rowsApart(meta)) return Object.assign(appendWords(body, meta.tokens, meta.special, meta.segments, true), { rowSpans: [] });
  const rows = rowTokens(meta);
  body.appendChild(el("div", { class: "tv-side", text: "Target (click a word)" }));
  const target = appendWords(body, rows, rowSpecial(meta), rows.map(() => 0), true);
  body.appendChild(el("div", { class: "tv-side", text: "Source" }));
  const source = appendWords(body, meta.tokens, meta.special, meta.segments, false);
  return { spans: source.spans, words: source.words, rowSpans: target.spans };
}

// view: {meta (with layer), maps, head, query}.  Repainting an unchanged input touches only the spans'
// colours and classes, so a p/q move or a head change costs well under a millisecond at 128 tokens.
export function renderTextView(container, view, onSelect) {
  const { meta, maps, head, query } = view;
  let state = built.get(container);
  if (!state) {
    state = { body: skeleton(container, onSelect), tokens: null, spans: [], words: [] };
    built.set(container, state);
  }
  if (state.tokens !== meta.tokens || state.rows !== rowTokens(meta)) {
    Object.assign(state, buildText(state.body, meta));
    state.tokens = meta.tokens;
    state.rows = rowTokens(meta);
  }
  const apart = rowsApart(meta);
  state.rowSpans.forEach((span, i) => {
    span.classList.toggle("query", i === query);
    const predicts = meta.translation ? `, which predicts “${meta.translation.target_labels[i]}”` : "";
    span.dataset.describe = `${rowTokens(meta)[i]} (${i})${predicts}\nclick: shade the source by this row`;
  });
  const shading = tokenShading(maps, 0, head, query, Boolean(meta.causal));
  const single = head !== "mean";
  const n = meta.tokens.length;
  shading.tokens.forEach((shaded, j) => {
    const span = state.spans[j];
    span.style.backgroundColor = shaded.colour;
    span.style.backgroundImage = shaded.attended ? "" : hatchBackground();
    span.style.color = shaded.ink;
    span.classList.toggle("unattended", !shaded.attended);
    span.classList.toggle("candidate", single && shaded.candidate >= 0.5);
    span.classList.toggle("dropped", single && shaded.dropped >= 0.5);
    span.classList.toggle("query", !apart && j === query);
    span.dataset.value = shaded.attended ? shaded.value : "";  // no value where the row cannot attend the key
    span.dataset.rank = shaded.attended ? shaded.rank : "";
    span.dataset.describe = describeToken(meta.tokens[j], j, shaded, shading.attended, head, meta.num_heads, state.words[j]);
  });
  const where = single ? `head ${head}` : "mean over heads";
  const title = container.querySelector(".tv-title");
  const queryToken = rowTokens(meta)[query];
  // a target position is scored against the next token: name it, since that is what the row's attribution explains
  const predicts = meta.translation && meta.kind !== "encoder" ? meta.translation.target_labels[query] : null;
  const layer = meta.translation ? `${kindName(meta.kind)} layer ${meta.layer}` : `layer ${meta.layer}`;
  title.replaceChildren(document.createTextNode(apart ? "Source words that target token " : "Attribution to query "),
    el("b", { class: "tv-query", text: `“${queryToken}” (${query})` }),
    document.createTextNode(`${predicts ? `, which predicts “${predicts}”${apart ? "," : ""}` : ""}${apart ? " leans on" : ""} · ${layer}, ${where}`));
  container.querySelector(".tv-hint").textContent = apart
    ? "Click a target word, or a row of a map, to shade the source words by that row's attribution."
    : "Click a word, or a row of a map, to show that query's row.";
  container.dataset.query = query;
  container.querySelector(".tv-scale-title").textContent = `${quantityTitle("attribution", meta.method)}, this row`;
  container.querySelector(".tv-bar").style.backgroundImage = gradient(shading.scale.kind);
  const [lowWord, highWord] = shadeEnds(meta.method, shading.scale.kind);
  const ends = container.querySelector(".tv-ends");
  ends.replaceChildren(el("span", { text: `${formatValue(shading.scale.low)} ${lowWord}` }),
    ...(shading.scale.kind === "diverging" ? [el("span", { text: "0" })] : []),
    el("span", { text: `${highWord} ${formatValue(shading.scale.high)}` }));
  container.querySelector(".tv-marks").classList.toggle("hidden", !single);
  container.querySelector(".tv-unattended-legend").classList.toggle("hidden", shading.attended === n);
}
