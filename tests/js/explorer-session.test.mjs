// The pure parts of the explorer page taken out of its entry module: the session the views share, the words
// the summary and layer view show for an answer, an export's facts, and focus mode's panels.

import assert from "node:assert/strict";
import { test } from "node:test";

import { axesLegend, headOptions, inputNotices, layerNote, layerOptions, modelOptions, predictionText, targetText,
  tokenCountText } from "../../frontend/static/js/explorer/answertext.js";
import { exportFacts } from "../../frontend/static/js/explorer/captions.js";
import { shownPanels } from "../../frontend/static/js/explorer/figures.js";
import { atLayer, createSession, sideOf, translating } from "../../frontend/static/js/explorer/session.js";

const base64 = (bytes) => Buffer.from(bytes).toString("base64");

const classifier = (extra = {}) => ({
  model: "bert-sst-2", tokens: ["[CLS]", "the", "cat", "[SEP]"], special: [true, false, false, true], segments: [0, 0, 0, 0],
  labels: ["negative", "positive"], probabilities: [0.25, 0.75], prediction: 1, pseudo_label: 1, target: "logit",
  method: "GA", p: 0.3, q: 0.2, mode: "high", seed: 7, num_layers: 12, num_heads: 12, max_tokens: 128,
  truncated: false, head_trained: true, ...extra,
});

const translation = (extra = {}) => classifier({
  labels: [], target: "loss", kind: "cross",
  translation: { text: "le chat", reference: "le chat", source_tokens: ["▁the", "▁cat", "</s>"], target_tokens: ["<pad>", "▁le", "▁chat"],
    target_truncated: false },
  ...extra,
});

test("a session starts from the link's state with nothing answered, and each request kind numbered from 0", () => {
  const page = createSession("?text=hi&layer=3&method=iga");
  assert.equal(page.state.text, "hi");
  assert.equal(page.state.layer, 3);
  assert.equal(page.state.method, "IGA");
  assert.equal(page.current, null);
  assert.equal(page.grid, null);
  assert.equal(page.compare, null);
  assert.deepEqual(page.sequence, { layer: 0, masks: 0, grid: 0, compare: 0 });
  assert.deepEqual(page.tasks, {});
  assert.notEqual(createSession("").state, createSession("").state);  // two pages share nothing
});

test("a model is a translation model only when the page learnt so for the chosen model", () => {
  const page = createSession("?model=opus");
  assert.equal(translating(page), false);
  page.tasks.opus = "translation";
  assert.equal(translating(page), true);
  page.state.model = "minilm";
  page.tasks.minilm = "classification";
  assert.equal(translating(page), false);
});

test("a side is the answer's first layer, decoded, with the input it was asked for", () => {
  const values = new Float32Array([0.5, -1]);
  const payload = { layers: [4, 5], model: "m",
    attention: { dtype: "float32", shape: [1, 1, 1, 2], data: base64(new Uint8Array(values.buffer)) },
    candidate: { dtype: "bool", shape: [1, 1, 1, 2], data: base64([0b01000000]) } };
  const side = sideOf(payload, { text: "a", text_pair: null, model: "m" });
  assert.equal(side.meta, payload);
  assert.equal(side.layer, 4);
  assert.deepEqual(side.input, { text: "a", text_pair: null });
  assert.deepEqual(Object.keys(side.maps).sort(), ["attention", "candidate"]);
  assert.deepEqual([...side.maps.attention.values], [0.5, -1]);
  assert.deepEqual([...side.maps.candidate.values], [0, 1]);
  const shown = atLayer(side);
  assert.equal(shown.layer, 4);
  assert.equal(shown.model, "m");
  assert.equal(payload.layer, undefined);  // the answer itself is left as it came
});

test("the prediction: the predicted label, a regression's value, or a token classifier's tags", () => {
  assert.equal(predictionText(classifier(), null), "positive");
  assert.equal(predictionText(classifier({ labels: ["score"], probabilities: [0.12345] }), null), "score = 0.123");
  const tags = [null, { tag: "B-PER", type: "PER", probability: 0.9 }, { tag: "O", type: null, probability: 0.8 }, null];
  assert.equal(predictionText(classifier(), tags), "1 of 2 tokens in an entity (PER 1)");
});

test("the attributed target is named for each kind of target", () => {
  assert.equal(targetText(classifier()), "logit of the pseudo label “positive”");
  assert.equal(targetText(classifier({ labels: ["a"], pseudo_label: 3 })), "logit of the pseudo label “3”");
  assert.equal(targetText(classifier({ target: "pseudo_loss" })), "negative loss against the predicted tags (one pseudo label per token)");
  assert.equal(targetText(classifier({ target: "loss" })), "negative loss");
  assert.equal(targetText(translation()), "negative loss against the reference");
  assert.equal(targetText(translation({ target: "self" })),
    "negative loss against the model's own translation (its argmax at each target token)");
});

test("the token count says when the input was cut", () => {
  assert.equal(tokenCountText(classifier()), "4");
  assert.equal(tokenCountText(classifier({ truncated: true })), "4 (cut at the 128-token limit)");
  assert.equal(tokenCountText(translation()), "3 source, 3 target");
  const cut = translation();
  cut.translation.target_truncated = true;
  assert.equal(tokenCountText(cut), "3 source, 3 target (cut at the 128-token limit)");
});

test("notices: a cut input and an untrained head; a translation's cut source and stopped target", () => {
  assert.deepEqual(inputNotices(classifier()), []);
  const both = inputNotices(classifier({ truncated: true, head_trained: false }));
  assert.equal(both.length, 2);
  assert.match(both[0], /longer than 128 tokens; the model saw only the first 4/);
  assert.match(both[1], /head is untrained/);
  assert.deepEqual(inputNotices(translation({ head_trained: false })), []);  // no classification head to speak of
  const stopped = translation({ truncated: true });
  stopped.translation.target_truncated = true;
  assert.deepEqual(inputNotices(stopped), ["The source is longer than 128 tokens; the model saw only the first 3.",
    "The reference was cut at 128 tokens."]);
  stopped.translation.reference = null;
  assert.equal(inputNotices(stopped)[1], "The translation stopped at 128 tokens.");
});

test("the layer selector lists every layer; the head selector the mean, then every head", () => {
  assert.deepEqual(layerOptions({ num_layers: 3 }), [["0", "0"], ["1", "1"], ["2", "2"]]);
  assert.deepEqual(headOptions({ num_heads: 2 }), [["mean", "mean"], ["0", "0"], ["1", "1"]]);
});

test("the model selector names checkpoints by their description and keeps a linked model the server lacks", () => {
  const models = [{ name: "minilm", kind: "base", description: "MiniLM" }, { name: "job-3", kind: "checkpoint", description: "SST-2, epoch 2" }];
  assert.deepEqual(modelOptions(models, "minilm"), [["minilm", "minilm"], ["job-3", "job-3 — SST-2, epoch 2"]]);
  assert.deepEqual(modelOptions(models, "gone").at(-1), ["gone", "gone (not available)"]);
  assert.equal(modelOptions(models, "gone").length, 3);
});

test("the axis legend names a translation model's rows and columns by its kind of map", () => {
  assert.equal(axesLegend(classifier()), "rows: queries · columns: keys · grey labels: special tokens");
  assert.match(axesLegend(translation({ kind: "encoder" })), /^rows: source tokens \(queries\) · columns: source tokens/);
  assert.match(axesLegend(translation({ kind: "decoder" })), /^rows: target tokens \(queries\) · columns: target tokens/);
  assert.match(axesLegend(translation({ kind: "cross" })), /^rows: target tokens \(queries\) · columns: source tokens/);
});

test("the layer note: a gradient of a logit in the last layer, or a decoder's causal self-attention", () => {
  assert.match(layerNote(classifier({ layer: 11 })), /^In the last layer only the first token's row/);
  assert.equal(layerNote(classifier({ layer: 10 })), "");
  assert.equal(layerNote(classifier({ layer: 11, method: "AA" })), "");
  assert.match(layerNote(classifier({ layer: 11, method: "IGA" })), /^In the last layer/);
  assert.equal(layerNote(classifier({ layer: 11, target: "loss" })), "");
  // the answer says whether its maps are causal: a translation model's decoder, or a decoder-only classifier
  assert.match(layerNote(translation({ layer: 0, kind: "decoder", causal: true })), /^The decoder's self-attention is causal.*blank under a hatch/);
  assert.match(layerNote(classifier({ layer: 0, kind: "decoder", causal: true })), /^This decoder's attention is causal/);
  // a decoder classifier (GPT-2's) reads its last token: its last layer's note says so, and still explains the hatch
  const gpt2Last = layerNote(classifier({ layer: 11, kind: "decoder", causal: true }));
  assert.match(gpt2Last, /^In the last layer only the last token's row reaches/);
  assert.match(gpt2Last, /This decoder's attention is causal.*blank under a hatch/);
  assert.doesNotMatch(gpt2Last, /first token/);
  assert.equal(layerNote(translation({ layer: 0, kind: "cross" })), "");
});

test("an export's facts name the focused map, a zoomed window, or both compared models", () => {
  const meta = classifier({ layer: 2 });
  const plain = exportFacts(meta, "5");
  assert.equal(plain.what, "maps");
  assert.equal(plain.where, "layer 2, head 5");
  assert.equal(plain.short, "L2-h5");
  assert.equal(exportFacts(meta, "mean", { focus: "attribution" }).what, "focus-attribution");
  const zoomed = exportFacts(meta, "5", { focus: "mask", window: { keys: [1, 3], rows: [0, 2] } });
  assert.equal(zoomed.where, "layer 2, head 5, keys 1–3 × queries 0–2");
  assert.equal(zoomed.short, "L2-h5-k1-3-q0-2");
  const other = exportFacts(meta, "5", { compare: { quantity: "attention", model: "minilm" }, window: { keys: [1, 3], rows: [0, 2] } });
  assert.equal(other.what, "compare-attention");
  assert.equal(other.model, "bert-sst-2 vs minilm");
  assert.equal(other.where, "layer 2, head 5");  // a compared view is never zoomed
  assert.equal(exportFacts(meta, "5", { compare: { quantity: "attribution", model: "bert-sst-2" } }).model, "bert-sst-2");
});

test("focus mode shows the one panel it names; none shows all three", () => {
  const panels = ["A", "B", "M"];
  assert.equal(shownPanels(panels, ""), panels);
  assert.deepEqual(shownPanels(panels, "attention"), ["A"]);
  assert.deepEqual(shownPanels(panels, "attribution"), ["B"]);
  assert.deepEqual(shownPanels(panels, "mask"), ["M"]);
});
