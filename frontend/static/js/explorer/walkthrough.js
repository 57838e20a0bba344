// The four steps of one AD-DROP step, told on the input on screen: the texts carry the current
// prediction, p, q and counts, and each step names the panel it points at.  Pure: no DOM.

import { attendedCount } from "./matrix.js";
import { queryRow } from "./salience.js";

export const PAPER_URL = "https://arxiv.org/abs/2210.05883";

// The numbers the steps quote, read off the response and the maps of the shown layer and head; `marked`
// says whether the maps carry the outlines and × marks (cells too small for them leave them off); n is the keys the
// query's row attends (a causal row: its own and earlier positions).
export function walkthroughFacts(meta, maps, head, query, marked = true) {
  const n = attendedCount(meta, query);
  const count = (array) => (array ? queryRow(array, 0, head, query).reduce((a, b) => a + b, 0) : 0);
  return {
    labels: meta.labels, probabilities: meta.probabilities, prediction: meta.prediction,
    pseudoLabel: meta.pseudo_label, target: meta.target, headTrained: meta.head_trained,
    method: meta.method, mode: meta.mode, p: meta.p, q: meta.q, seed: meta.seed, layer: meta.layer, head,
    heads: meta.num_heads, n, causal: Boolean(meta.causal), query, queryToken: meta.tokens[query],
    candidates: count(maps.candidate), dropped: count(maps.dropped), marked,
  };
}

const ATTRIBUTION = {
  GA: "B = ∂F/∂A: how much the attributed output F would change per unit of attention from query i to key j. Red cells raise F, blue ones lower it.",
  IGA: "B = A ⊙ the mean gradient of F along the path from a zero map to A (integrated gradients); a row's cells add up to about F(A) − F(0).",
  AA: "B = A: the attention weights themselves stand in for the attribution (the paper's AA ablation), so the map repeats the attention map.",
  RD: "B is random noise (the RD control): the candidates are random keys, which makes AD-DROP plain attention dropout.",
};

const plural = (count, one, many) => `${count} ${Number(count) === 1 ? one : many}`;
const round = (x, digits = 1) => Number(x.toFixed(digits)).toString();

function passOne(f) {
  const untrained = f.headTrained ? "" : " This base model's classifier head is untrained, so the label is arbitrary here; the mechanics are the same.";
  if (f.target === "pseudo_loss") {
    return "The model reads the input once with only the padding mask and labels every token. Each token's predicted label is its pseudo label, "
      + `and the attributed output F is the negative loss against those pseudo labels (special tokens left out).${untrained}`;
  }
  if (f.target !== "logit") {
    return `The model reads the input once with only the padding mask. A regression head has no class to pick, so the attributed output F is the negative loss.${untrained}`;
  }
  const label = f.labels[f.pseudoLabel] ?? String(f.pseudoLabel);
  return `The model reads the input once with only the padding mask and predicts “${label}” with probability ${f.probabilities[f.pseudoLabel].toFixed(3)}. `
    + `That argmax is the pseudo label c̃ (no gold label needed), and its logit is the output F whose attribution decides what to drop.${untrained}`;
}

// The figure panels of the layer view: 0 attention, 1 attribution, 2 mask.
export function walkthroughSteps(f) {
  const where = f.head === "mean" ? "the mean over heads" : `head ${f.head}`;
  const perHead = f.head === "mean" ? " per head, on average" : "";
  const region = Math.ceil(f.p * f.n);
  const which = f.mode === "low" ? "lowest" : "highest";
  const row = `the row of query “${f.queryToken}” (${f.query})`;
  return [
    {
      key: "pass1", title: "Pass 1 and the pseudo label", target: { element: "summary" },
      text: passOne(f),
      look: f.target === "pseudo_loss" ? "Look at the per-token predictions above." : "Look at the prediction and its probabilities above.",
    },
    {
      key: "attribution", title: "The attribution map", target: { element: "layer-figure", panels: [1] },
      text: `For layer ${f.layer}, ${where}: ${ATTRIBUTION[f.method]} Rows are queries, columns keys.`
        + (f.causal ? " The hatched keys right of the diagonal are not attended: a causal row sees only its own and earlier positions, so they have no value." : ""),
      look: "Look at the middle map; the text view below shades the chosen query's row over the words.",
    },
    {
      key: "candidates", title: `The top-p candidate region (p = ${f.p})`, target: { element: "layer-figure", panels: [1, 2] },
      text: (f.causal
        ? `In each row the ${which}-attributed ⌈p·n⌉ of the n keys the row attends (a causal row: its own and earlier positions; in ${row}, ⌈${f.p} × ${f.n}⌉ = ${region}) are candidates for dropping (keys tied with the threshold join them). `
        : `In each row the ${which}-attributed ⌈p·n⌉ = ⌈${f.p} × ${f.n}⌉ = ${region} keys are candidates for dropping (keys tied with the threshold join them). `)
        + `In ${row}: ${plural(round(f.candidates), "candidate", "candidates")}${perHead}.`,
      look: f.head === "mean"
        ? "Pick one head to see the region; over the mean of heads the mask shows how many heads drop each cell."
        : f.marked
          ? "Look at the black outlines on the attribution map, the orange and red cells of the mask, and the outlined words in the text view."
          : "Look at the orange and red cells of the mask (the maps are too dense at this size to outline them; zoom in on one) and the outlined words in the text view.",
    },
    {
      key: "dropped", title: `The q-dropped positions (q = ${f.q})`, target: { element: "layer-figure", panels: [2] },
      text: `Each candidate is dropped independently with probability q = ${f.q}: about ${round(f.q * region)} per row. `
        + `In ${row}, ${plural(round(f.dropped), "key is", "keys are")} dropped${perHead} (seed ${f.seed}). `
        + `Pass 2 adds −∞ to layer ${f.layer}'s attention scores at these positions, so the softmax gives them weight 0; `
        + "its loss on the gold label trains the model. The masks are drawn afresh at every step.",
      look: `Look at the red cells of the mask${f.marked ? " (× on the other maps)" : ""} and the struck-through words in the text view.`,
    },
  ];
}
