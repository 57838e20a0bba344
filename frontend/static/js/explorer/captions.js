// What a figure says it is: model, input (first words), where in the model, method, p, q, mode and seed, in
// its title and its file name, by the definition's caption rules (addrop.viz.captions fills the same ones).

import { STYLE } from "../common/figure-style.js";
import { escapeHtml } from "../common/html.js";
import { joinWords } from "./words.js";

const CAPTION = STYLE.caption;

// The input's first count words as the text view runs them (words.js joinWords, special tokens left out): a word
// without a space before it (punctuation) stays with its neighbour (addrop.viz.captions.words_of).
export function firstWords(tokens, special, count) {
  const words = [];
  for (const word of joinWords(tokens, special)) {
    if (word.special) continue;
    if (words.length && !word.gap) words[words.length - 1] += word.texts.join("");
    else words.push(word.texts.join(""));
  }
  const shown = words.slice(0, count).join(" ");
  return shown + (words.length > count ? "…" : "");
}

function fill(template, facts) {
  return template.replace(/\{(\w+)\}/g, (_, key) => String(facts[key]));
}

// facts: {model, tokens, special, where, method, p, q, mode, seed}.
export function figureTitle(facts) {
  return fill(CAPTION.title, { ...facts, words: firstWords(facts.tokens, facts.special, CAPTION.title_words) });
}

// A file name (no extension) that tells figures of different models, inputs or settings apart; facts as
// figureTitle's, where in short ("L0-h3") and what the figure is ("maps", "paper"...).
export function fileName(facts) {
  const words = firstWords(facts.tokens, facts.special, CAPTION.file_name_words)
    .replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+|-+$/g, "").toLowerCase();
  const parts = CAPTION.file_name.map((part) => fill(part, { ...facts, where: facts.short, words }));
  return parts.join(CAPTION.file_name_joiner).replace(/[^A-Za-z0-9._-]+/g, "-");
}

// The facts of one side of the explorer (its answer's meta at a layer) and a head; a translation's input is its
// source sentence, whichever kind of map is shown.
export function viewFacts(meta, head, what) {
  const single = head !== "mean";
  const input = meta.translation ? { tokens: meta.translation.source_tokens, special: meta.translation.source_special } : meta;
  return {
    model: meta.model, tokens: input.tokens, special: input.special, method: meta.method, p: meta.p, q: meta.q,
    mode: meta.mode, seed: meta.seed, what,
    where: `layer ${meta.layer}, ${single ? `head ${head}` : "mean over heads"}`,
    short: `L${meta.layer}-${single ? `h${head}` : "mean"}`,
  };
}

// The lines of a title that fit width pixels at size px (a sans-serif title takes at most about 0.5 em a
// character), broken after a " · " (the line ends with its "·"); one line where it fits.
export function titleLines(title, width, size) {
  const most = Math.max(24, Math.floor(width / (size * 0.5)));
  const lines = [];
  for (const part of title.split(" · ")) {
    const joined = lines.length ? `${lines[lines.length - 1]} · ${part}` : part;
    if (lines.length && joined.length <= most) lines[lines.length - 1] = joined;
    else lines.push(part);
  }
  return lines.map((line, i) => (i < lines.length - 1 ? `${line} ·` : line));
}

// Puts a title (and, under it, a note) above a Plotly figure, making room for them; escaped, since Plotly
// reads a few HTML tags in text.  The note is an annotation of its own: Plotly cut off the first line of a
// two-line title anchored at the top.  width: the figure's fixed width, which a longer title wraps to.
export function captionFigure(figure, title, note, font, width = null) {
  const lines = width ? titleLines(title, width - 16, font.size) : [title];
  const extra = (note ? 46 : 28) + (lines.length - 1) * Math.ceil(font.size * 1.3);
  const layout = figure.layout;
  layout.title = { text: lines.map(escapeHtml).join("<br>"), x: 0.01, xanchor: "left", y: 1, yanchor: "top", yref: "container",
    pad: { t: 8 }, font };
  layout.margin = Object.assign({}, layout.margin, { t: layout.margin.t + extra });
  layout.height += extra;
  if (note) {
    layout.annotations = layout.annotations.concat({ text: escapeHtml(note), xref: "paper", yref: "paper", x: 0, y: 1,
      xanchor: "left", yanchor: "bottom", yshift: 34, showarrow: false, font: { size: 11, color: STYLE.fonts.muted } });
  }
  return figure;
}

// The facts of an export of the explorer's shown view: side A's meta at its layer and the head; focus, the
// focused map ("" for all three); compare, {quantity, model: B's model} when the compare view is exported;
// window, the zoomed window ({keys, rows}: first and last index each) when only that is exported.
export function exportFacts(meta, head, { focus = "", compare = null, window = null } = {}) {
  const facts = viewFacts(meta, head, focus ? `focus-${focus}` : "maps");
  if (compare) {
    const b = compare.model;
    return Object.assign(facts, { what: `compare-${compare.quantity}`, model: b === meta.model ? meta.model : `${meta.model} vs ${b}` });
  }
  if (window) {
    const span = ([first, last]) => `${first}–${last}`;
    Object.assign(facts, { where: `${facts.where}, keys ${span(window.keys)} × queries ${span(window.rows)}`,
      short: `${facts.short}-k${window.keys.join("-")}-q${window.rows.join("-")}` });
  }
  return facts;
}
