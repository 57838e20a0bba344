import assert from "node:assert/strict";
import { test } from "node:test";

import { colourBarTitle, quantityTitle, shadeEnds } from "../../frontend/static/js/explorer/legends.js";
import { css, describeToken, formatValue, gradient, inkFor, queryRow, ranks, scaleStops, shade, shadeScale, tokenShading }
  from "../../frontend/static/js/explorer/salience.js";
import { PAPER_URL, walkthroughFacts, walkthroughSteps } from "../../frontend/static/js/explorer/walkthrough.js";
import { joinWords, pieceText } from "../../frontend/static/js/explorer/words.js";
import { layerPanels } from "../../frontend/static/js/explorer/figures.js";

const words = (tokens, special = tokens.map((t) => /^(\[.*\]|<\/?s>)$/.test(t)), segments) =>
  joinWords(tokens, special, segments).map((w) => (w.gap ? " " : "") + (w.paragraph ? "¶" : "") + w.texts.join("|"));

test("WordPiece continuations join their word; punctuation joins the word before it", () => {
  const tokens = ["[CLS]", "weber", "worked", "for", "wa", "##bc", ",", "(", "12", ")", "years", ".", "[SEP]"];
  assert.deepEqual(words(tokens), ["[CLS]", " weber", " worked", " for", " wa|bc", ",", " (", "12", ")", " years", ".", " [SEP]"]);
  const joined = joinWords(tokens, tokens.map((t) => t.startsWith("[")));
  assert.deepEqual(joined[4].tokens, [4, 5]);  // every token keeps its own index, so its own shade
  assert.equal(joined[4].texts.join(""), "wabc");
  assert.equal(pieceText("##", false), "##");  // a literal "##" is a token, not a marker
});

test("byte-level BPE and SentencePiece mark a word's start instead", () => {
  assert.deepEqual(words(["<s>", "The", "Ġcat", "Ġsat", "s", ".", "</s>"]), ["<s>", " The", " cat", " sat|s|.", " </s>"]);
  assert.deepEqual(words(["▁The", "▁un", "believ", "able"], [false, false, false, false]), ["The", " un|believ|able"]);
});

test("a sentence pair becomes two paragraphs, and no word runs across the separator", () => {
  const tokens = ["[CLS]", "a", "[SEP]", "##b", "c", "[SEP]"];
  assert.deepEqual(words(tokens, undefined, [0, 0, 0, 1, 1, 1]), ["[CLS]", " a", " [SEP]", "¶b", " c", " [SEP]"]);
});

function map(heads, n, at) {
  const values = new Float32Array(heads * n * n);
  for (let h = 0; h < heads; h++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) values[(h * n + i) * n + j] = at(h, i, j);
  return { shape: [1, heads, n, n], values };
}

test("a query's row is sliced per head or averaged over heads", () => {
  const array = map(2, 3, (h, i, j) => 100 * h + 10 * i + j);
  assert.deepEqual(queryRow(array, 0, "1", 2), [120, 121, 122]);
  assert.deepEqual(queryRow(array, 0, "mean", 0), [50, 51, 52]);
});

test("ranks count from the highest value, ties sharing the best rank", () => {
  assert.deepEqual(ranks([0.1, 0.5, -2, 0.5]), [3, 1, 4, 1]);
});

test("signed values shade on a diverging scale around zero, non-negative ones from white", () => {
  const diverging = shadeScale([-0.2, 0.05, 0.1]);
  assert.deepEqual(diverging, { kind: "diverging", low: -0.2, high: 0.2 });
  assert.deepEqual(shade(0, diverging), [0xf7, 0xf7, 0xf7]);
  assert.deepEqual(shade(0.2, diverging), [0xb2, 0x18, 0x2b]);
  assert.deepEqual(shade(-0.2, diverging), [0x21, 0x66, 0xac]);
  const positive = shade(0.1, diverging);
  assert.ok(positive[0] > positive[2]);  // warm: raises F
  const sequential = shadeScale([0, 0.25, 0.5]);
  assert.deepEqual(sequential, { kind: "sequential", low: 0, high: 0.5 });
  assert.deepEqual(shade(0, sequential), [0xf7, 0xf7, 0xf7]);
  assert.deepEqual(shade(0.5, sequential), [0xb2, 0x18, 0x2b]);
  assert.deepEqual(scaleStops("sequential")[0][0], 0);
  assert.equal(shadeScale([0, 0]).high, 1);  // an all-zero row (the last layer's) still has a range
  assert.match(gradient("diverging"), /^linear-gradient\(to right, rgb\(33, 102, 172\) 0%.*rgb\(178, 24, 43\) 100%\)$/);
  assert.equal(css([1, 2, 3]), "rgb(1, 2, 3)");
});

test("text on a dark shade is white, on a light one dark", () => {
  assert.equal(inkFor([0xb2, 0x18, 0x2b]), "#ffffff");
  assert.equal(inkFor([0x21, 0x66, 0xac]), "#ffffff");
  assert.equal(inkFor([0xf7, 0xf7, 0xf7]), "#1d2330");
  assert.equal(inkFor([0xf4, 0xa5, 0x82]), "#1d2330");
});

test("values print with three digits, small ones with an exponent", () => {
  assert.equal(formatValue(0.012345), "0.0123");
  assert.equal(formatValue(-0.00012345), "-1.23e-4");
  assert.equal(formatValue(0), "0");
  assert.equal(formatValue(2.5), "2.5");
});

test("shading a query's row: value, rank, colour and mask state per token, and the hover text", () => {
  const maps = {
    attribution: map(2, 3, (h, i, j) => (h + 1) * (j - 1) * (i + 1)),
    candidate: map(2, 3, (h, i, j) => (j === 2 || (h === 1 && j === 0) ? 1 : 0)),
    dropped: map(2, 3, (h, i, j) => (j === 2 && h === 0 ? 1 : 0)),
  };
  const one = tokenShading(maps, 0, "0", 1);
  assert.deepEqual(one.tokens.map((t) => t.value), [-2, 0, 2]);
  assert.deepEqual(one.tokens.map((t) => t.rank), [3, 2, 1]);
  assert.deepEqual(one.tokens.map((t) => [t.candidate, t.dropped]), [[0, 0], [0, 0], [1, 1]]);
  assert.equal(one.tokens[2].colour, "rgb(178, 24, 43)");
  assert.equal(one.tokens[1].colour, "rgb(247, 247, 247)");
  assert.equal(describeToken("cat", 2, one.tokens[2], 3, "0", 2), "cat (2)\nattribution 2 · rank 1 of 3 (1 = highest)\ndropped (−∞ in pass 2)");
  assert.match(describeToken("a", 1, one.tokens[1], 3, "0", 2), /not a candidate$/);
  assert.match(describeToken("##bc", 1, one.tokens[1], 3, "0", 2, "wabc"), /^##bc \(1\) in “wabc”\n/);
  const mean = tokenShading(maps, 0, "mean", 0);
  assert.deepEqual(mean.tokens.map((t) => t.value), [-1.5, 0, 1.5]);
  assert.match(describeToken("x", 2, mean.tokens[2], 3, "mean", 2), /candidate in 2 of 2 heads, dropped in 1 of 2 heads$/);
  assert.match(describeToken("x", 0, mean.tokens[0], 3, "mean", 2), /candidate in 1 of 2 heads, dropped in 0 of 2 heads$/);
});

test("each quantity's colour bar says what its colour means", () => {
  assert.equal(quantityTitle("attention"), "attention weight");
  assert.equal(quantityTitle("attribution", "GA"), "attribution ∂F/∂A (GA)");
  assert.match(quantityTitle("attribution", "IGA"), /integrated gradients/);
  assert.match(quantityTitle("attribution", "RD"), /random/);
  assert.throws(() => quantityTitle("loss"));
  assert.deepEqual(shadeEnds("GA", "diverging"), ["lowers F", "raises F"]);
  assert.deepEqual(shadeEnds("AA", "sequential"), ["zero", "higher"]);
  const n = 3;
  const maps = { attention: map(2, n, () => 0.3), attribution: map(2, n, (h, i, j) => j - 1), candidate: map(2, n, () => 0), dropped: map(2, n, () => 0) };
  const meta = { tokens: ["[CLS]", "a", "[SEP]"], method: "IGA", layer: 0, p: 0.3, q: 0.2, mode: "high" };
  const titles = (head) => layerPanels(meta, maps, 0, head).map((panel) => panel.colorbar.title.text);
  assert.deepEqual(titles("1"), ["attention weight", "attribution, integrated gradients (IGA)", "AD-DROP mask"]);
  assert.equal(titles("mean")[2], "share of heads dropping");
  assert.equal(colourBarTitle("x").side, "right");
});

const meta = {
  tokens: ["[CLS]", "the", "cat", "sat", "[SEP]"], labels: ["no", "yes"], probabilities: [0.25, 0.75], prediction: 1,
  pseudo_label: 1, target: "logit", head_trained: true, method: "GA", mode: "high", p: 0.3, q: 0.5, seed: 7,
  layer: 2, num_heads: 2,
};
const maps = {
  candidate: map(2, 5, (h, i, j) => (j >= 3 ? 1 : 0)),
  dropped: map(2, 5, (h, i, j) => (j === 4 && (h === 0 || i === 0) ? 1 : 0)),
};

test("the walk-through tells the four steps with this input's numbers, each pointing at its panel", () => {
  const facts = walkthroughFacts(meta, maps, "1", 0);
  assert.equal(facts.candidates, 2);
  assert.equal(facts.dropped, 1);
  const steps = walkthroughSteps(facts);
  assert.deepEqual(steps.map((s) => s.key), ["pass1", "attribution", "candidates", "dropped"]);
  assert.deepEqual(steps.map((s) => s.target), [{ element: "summary" }, { element: "layer-figure", panels: [1] },
    { element: "layer-figure", panels: [1, 2] }, { element: "layer-figure", panels: [2] }]);
  assert.match(steps[0].text, /predicts “yes” with probability 0\.750/);
  assert.match(steps[1].text, /layer 2, head 1: B = ∂F\/∂A/);
  assert.match(steps[2].title, /p = 0\.3/);
  assert.match(steps[2].text, /⌈0\.3 × 5⌉ = 2 keys/);
  assert.match(steps[2].text, /query “\[CLS\]” \(0\): 2 candidates\./);
  assert.match(steps[3].text, /q = 0\.5: about 1 per row/);
  assert.match(steps[3].text, /1 key is dropped \(seed 7\)/);
  assert.match(steps[3].text, /−∞ to layer 2's attention scores/);
  assert.match(steps[2].look, /black outlines/);
  const dense = walkthroughSteps(walkthroughFacts(meta, maps, "1", 0, false));
  assert.match(dense[2].look, /too dense/);
  assert.doesNotMatch(dense[3].look, /×/);
  assert.match(PAPER_URL, /arxiv\.org\/abs\/2210\.05883$/);
});

test("over the mean of heads the counts are averages, and other targets explain F in their own terms", () => {
  const steps = walkthroughSteps(walkthroughFacts(meta, maps, "mean", 1));
  assert.match(steps[3].text, /query “the” \(1\), 0\.5 keys are dropped per head, on average/);
  assert.match(steps[2].look, /Pick one head/);
  const untrained = walkthroughSteps(walkthroughFacts(Object.assign({}, meta, { head_trained: false }), maps, "0", 0));
  assert.match(untrained[0].text, /untrained/);
  const tokens = walkthroughSteps(walkthroughFacts(Object.assign({}, meta, { target: "pseudo_loss", probabilities: [] }), maps, "0", 0));
  assert.match(tokens[0].text, /negative loss against those pseudo labels/);
  const aa = walkthroughSteps(walkthroughFacts(Object.assign({}, meta, { method: "AA", mode: "low" }), maps, "0", 0));
  assert.match(aa[1].text, /attention weights themselves/);
  assert.match(aa[2].text, /lowest-attributed/);
});
