// The text view (after LIT's salience maps): the input as running text, each token shaded by the
// attribution it gets in one query's row, AD-DROP's candidates outlined and its drops struck through.
// Clicking a token makes it the query.

import { el } from "../common/dom.js";
import { quantityTitle, shadeEnds } from "./legends.js";
import { describeToken, formatValue, gradient, tokenShading } from "./salience.js";
import { joinWords } from "./words.js";

const built = new WeakMap();  // container -> {body, tokens, spans, words}: the text is rebuilt only for a new input

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
  legend.append(scale, marks);
  head.append(title, legend);
  const body = el("div", { class: "tv-body" });
  const tip = el("div", { class: "tv-tip", role: "tooltip", hidden: true });
  container.append(head, body, el("div", { class: "muted tv-hint", text: "Click a word, or a row of a map, to show that query's row." }), tip);
  body.addEventListener("click", (event) => {
    const token = event.target.closest(".tv-tok");
    if (token) onSelect(Number(token.dataset.index));
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

function buildText(body, meta) {
  body.replaceChildren();
  const spans = [], words = [];
  let paragraph = null;
  for (const word of joinWords(meta.tokens, meta.special, meta.segments)) {
    if (!paragraph || word.paragraph) {
      if (paragraph) body.appendChild(el("div", { class: "tv-separator", text: `sentence ${word.segment + 1}` }));
      paragraph = body.appendChild(el("p", { class: "tv-paragraph" }));
    }
    if (word.gap) paragraph.appendChild(document.createTextNode(" "));
    const group = paragraph.appendChild(el("span", { class: "tv-word" }));
    word.tokens.forEach((index, k) => {
      const span = el("span", { class: "tv-tok" + (word.special ? " special" : "") + (k > 0 ? " piece" : ""), text: word.texts[k] });
      span.dataset.index = index;
      spans[index] = group.appendChild(span);
      words[index] = word.special ? meta.tokens[index] : word.texts.join("");
    });
  }
  return { spans, words };
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
  if (state.tokens !== meta.tokens) {
    Object.assign(state, buildText(state.body, meta));
    state.tokens = meta.tokens;
  }
  const shading = tokenShading(maps, 0, head, query);
  const single = head !== "mean";
  const n = meta.tokens.length;
  shading.tokens.forEach((shaded, j) => {
    const span = state.spans[j];
    span.style.backgroundColor = shaded.colour;
    span.style.color = shaded.ink;
    span.classList.toggle("candidate", single && shaded.candidate >= 0.5);
    span.classList.toggle("dropped", single && shaded.dropped >= 0.5);
    span.classList.toggle("query", j === query);
    span.dataset.value = shaded.value;
    span.dataset.rank = shaded.rank;
    span.dataset.describe = describeToken(meta.tokens[j], j, shaded, n, head, meta.num_heads, state.words[j]);
  });
  const where = single ? `head ${head}` : "mean over heads";
  const title = container.querySelector(".tv-title");
  title.replaceChildren(document.createTextNode("Attribution to query "),
    el("b", { class: "tv-query", text: `“${meta.tokens[query]}” (${query})` }), document.createTextNode(` · layer ${meta.layer}, ${where}`));
  container.dataset.query = query;
  container.querySelector(".tv-scale-title").textContent = `${quantityTitle("attribution", meta.method)}, this row`;
  container.querySelector(".tv-bar").style.backgroundImage = gradient(shading.scale.kind);
  const [lowWord, highWord] = shadeEnds(meta.method, shading.scale.kind);
  const ends = container.querySelector(".tv-ends");
  ends.replaceChildren(el("span", { text: `${formatValue(shading.scale.low)} ${lowWord}` }),
    ...(shading.scale.kind === "diverging" ? [el("span", { text: "0" })] : []),
    el("span", { text: `${highWord} ${formatValue(shading.scale.high)}` }));
  container.querySelector(".tv-marks").classList.toggle("hidden", !single);
}
