// What the page says in words about an answer: the summary's prediction, attributed target, token count and
// notices, the layer and head choices, and the layer view's axis legend and note.

import { tagSummary } from "./tags.js";

// The prediction of a classifier (tags: a token classifier's tags, tags.js, or null).
export function predictionText(meta, tags) {
  const labels = meta.labels;
  if (tags) return tagSummary(tags);
  return labels.length === 1 ? `${labels[0]} = ${meta.probabilities[0].toFixed(3)}` : labels[meta.prediction];
}

// What the attribution is of.
export function targetText(meta) {
  if (meta.translation) {
    return meta.target === "loss"
      ? "negative loss against the reference"
      : "negative loss against the model's own translation (its argmax at each target token)";
  }
  return meta.target === "logit"
    ? `logit of the pseudo label “${meta.labels[meta.pseudo_label] ?? meta.pseudo_label}”`
    : meta.target === "pseudo_loss" ? "negative loss against the predicted tags (one pseudo label per token)" : "negative loss";
}

export function tokenCountText(meta) {
  const view = meta.translation;
  if (view) {
    const cut = meta.truncated || view.target_truncated ? ` (cut at the ${meta.max_tokens}-token limit)` : "";
    return `${view.source_tokens.length} source, ${view.target_tokens.length} target${cut}`;
  }
  return `${meta.tokens.length}${meta.truncated ? ` (cut at the ${meta.max_tokens}-token limit)` : ""}`;
}

// What the reader should know about the input and the model before reading the maps.
export function inputNotices(meta) {
  const view = meta.translation;
  const notices = [];
  if (view) {
    if (meta.truncated) notices.push(`The source is longer than ${meta.max_tokens} tokens; the model saw only the first ${view.source_tokens.length}.`);
    if (view.target_truncated) notices.push(`The ${view.reference === null ? "translation stopped" : "reference was cut"} at ${meta.max_tokens} tokens.`);
    return notices;
  }
  if (meta.truncated) notices.push(`The input is longer than ${meta.max_tokens} tokens; the model saw only the first ${meta.tokens.length}, shown below.`);
  if (!meta.head_trained) notices.push("This base encoder's classification head is untrained, so its prediction is arbitrary; the maps still show what AD-DROP does. Open a fine-tuned job's checkpoint for a real prediction.");
  return notices;
}

// The layer selector's options, [value, label] each.
export const layerOptions = (meta) => [...Array(meta.num_layers).keys()].map((i) => [String(i), `${i}`]);

// The head selector's options: the mean over heads, then each head.
export const headOptions = (meta) => [["mean", "mean"]].concat([...Array(meta.num_heads).keys()].map((i) => [String(i), `${i}`]));

// Which tokens a map's rows and columns are.
export function axesLegend(meta) {
  return meta.translation
    ? `rows: ${meta.kind === "encoder" ? "source" : "target"} tokens (queries) · columns: ${meta.kind === "decoder" ? "target" : "source"} tokens (keys) · grey labels: special tokens`
    : "rows: queries · columns: keys · grey labels: special tokens";
}

// Why some of a layer's maps look empty ("" when none do); meta with the layer shown.
export function layerNote(meta) {
  const lastLayer = meta.layer === meta.num_layers - 1 && ["GA", "IGA"].includes(meta.method) && meta.target === "logit";
  const causal = meta.causal
    ? `${meta.translation ? "The decoder's self-attention" : "This decoder's attention"} is causal: a row sees only its own and earlier ${meta.translation ? "target " : ""}tokens, so keys to the right of the diagonal have no attention and are never candidates. Their gradient exists, but no weight flows through them: they are left blank under a hatch, outside the colour range.`
    : "";
  if (!lastLayer) return causal;
  // A decoder classifier (GPT-2's) reads its last token, an encoder's its first ([CLS]).
  const pooled = meta.causal ? "last" : "first";
  return [`In the last layer only the ${pooled} token's row reaches a sequence classifier's output, so every other row has zero attribution (all its keys tie).`, causal].filter(Boolean).join(" ");
}

// The model selector's options, [value, label] each: a checkpoint with its description; a model the link
// asks for that the server does not offer stays, said to be unavailable.
export function modelOptions(models, model) {
  const options = models.map((m) => [m.name, m.kind === "checkpoint" ? `${m.name} — ${m.description}` : m.name]);
  if (!models.some((m) => m.name === model)) options.push([model, `${model} (not available)`]);
  return options;
}
