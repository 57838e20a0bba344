// The summary panel: an answer's prediction (or translation), attributed target, tokens and notices, and the
// layer and head selectors it fills; and the list of what the page changed from what it was asked for.

import { $, el } from "../common/dom.js";
import { headOptions, inputNotices, layerOptions, predictionText, targetText, tokenCountText } from "./answertext.js";
import { fillSelect, setSegmented } from "./dom.js";
import { changedTyped } from "./state.js";
import { tagChip, tokenTags } from "./tags.js";

// state: the page's state, whose layer and head the selectors keep when the answer has them.
export function showSummary(meta, state) {
  $("summary").classList.remove("hidden");
  $("views").classList.remove("hidden");
  $("translation-cell").classList.toggle("hidden", !meta.translation);
  $("prediction-cell").classList.toggle("hidden", Boolean(meta.translation));
  if (meta.translation) showTranslation(meta);
  else showPrediction(meta);
  fillSelect($("layer"), layerOptions(meta), String(state.layer));
  fillSelect($("head"), headOptions(meta), String(state.head));
}

function showPrediction(meta) {
  const labels = meta.labels;
  // a token classifier predicts a tag per token: they go under the tokens, and there is no one distribution
  const tags = tokenTags(meta);
  $("prediction").textContent = predictionText(meta, tags);
  const bars = $("probabilities");
  bars.replaceChildren();
  bars.parentElement.classList.toggle("hidden", Boolean(tags));
  if (labels.length !== 1 && !tags) {
    labels.forEach((label, i) => {
      const bar = el("div", { class: "bar" + (i === meta.prediction ? " predicted" : "") });
      const name = el("span", { class: "name", title: label, text: label });
      const track = el("span", { class: "track" });
      const fill = el("span", { class: "fill" }); fill.style.display = "block";
      fill.style.width = `${(meta.probabilities[i] * 100).toFixed(1)}%`; track.appendChild(fill);
      bar.append(name, track, el("span", { class: "num", text: meta.probabilities[i].toFixed(3) }));
      bars.appendChild(bar);
    });
  }
  showFacts(meta);
  const strip = $("token-strip");
  strip.replaceChildren();
  meta.tokens.forEach((token, i) => {
    const span = el("span", { class: "tok" + (meta.special[i] ? " special" : "") + (meta.segments[i] ? " seg1" : "") });
    span.append(el("span", { class: "idx", text: String(i) }), document.createTextNode(token));
    if (tags && tags[i]) span.appendChild(tagChip(tags[i]));
    strip.appendChild(span);
  });
}

function showTranslation(meta) {
  const view = meta.translation;
  $("prediction-cell").classList.add("hidden");
  $("probabilities").parentElement.classList.add("hidden");
  $("translation-cell").classList.remove("hidden");
  $("translation-text").textContent = view.text || "(empty)";
  $("reference-label").classList.toggle("hidden", view.reference === null);
  $("reference-text").classList.toggle("hidden", view.reference === null);
  $("reference-text").textContent = view.reference ?? "";
  showFacts(meta);
  const strip = $("token-strip");
  strip.replaceChildren();
  const side = (label, tokens, special) => {
    const row = el("div", { class: "tokens" });
    row.appendChild(el("span", { class: "side-label", text: label }));
    tokens.forEach((token, i) => {
      const span = el("span", { class: "tok" + (special[i] ? " special" : "") });
      span.append(el("span", { class: "idx", text: String(i) }), document.createTextNode(token));
      row.appendChild(span);
    });
    strip.appendChild(row);
  };
  side("source", view.source_tokens, view.source_special);
  side("target", view.target_tokens, view.target_special);
  setSegmented("kind", meta.kind);
}

// The attributed target, the token count and the input's notices.
function showFacts(meta) {
  $("target").textContent = targetText(meta);
  $("token-count").textContent = tokenCountText(meta);
  $("notices").replaceChildren(...inputNotices(meta).map((text) => el("div", { class: "notice", text })));
}

// What the page changed from what a link or the user asked for (a value out of bounds, a layer the model
// lacks): said apart from the input's notices, which each explanation replaces.
export function addChange(text) {
  $("changes").appendChild(el("div", { class: "notice", text }));
}

// A typed seed or step count outside its bounds is changed where it is typed, and the change is said.
export function noteTyped(key, typed, value) {
  const note = changedTyped(key, typed, value);
  if (note) addChange(note);
}
