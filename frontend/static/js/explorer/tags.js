// A token classifier's predictions (e.g. a CoNLL-2003 checkpoint's entity tags): one predicted tag per
// token, which is also the token's pseudo label, shown under each token of the summary's token strip.

import { el } from "../common/dom.js";

// Entity types with a colour of their own (CoNLL-2003's); any other type shares one colour.
const COLOURED = new Set(["PER", "ORG", "LOC", "MISC"]);

// The entity type of a tag in the BIO/BIOES schemes ("B-ORG" → "ORG"); null for the outside tag "O".
export function entityType(tag) {
  if (tag === "O") return null;
  const match = /^[BIESLU]-(.+)$/.exec(tag);
  return match ? match[1] : tag;
}

// Per token {tag, type, probability}, or null where a token has no prediction (special tokens); null
// altogether for a sequence-level model.
export function tokenTags(meta) {
  if (!meta.token_predictions) return null;
  return meta.token_predictions.map((index, i) => {
    if (index === null) return null;
    const tag = meta.labels[index] ?? String(index);
    const probability = meta.token_probabilities ? meta.token_probabilities[i] : null;
    return { tag, type: entityType(tag), probability };
  });
}

// The summary's prediction line: how many tokens carry an entity tag, by type, in order of count.
export function tagSummary(tags) {
  const tagged = tags.filter(Boolean);
  const counts = new Map();
  for (const { type } of tagged) if (type !== null) counts.set(type, (counts.get(type) || 0) + 1);
  const entities = [...counts.values()].reduce((a, b) => a + b, 0);
  if (!entities) return `no entity: all ${tagged.length} tokens O`;
  const byType = [...counts].sort((a, b) => b[1] - a[1]).map(([type, count]) => `${type} ${count}`).join(", ");
  return `${entities} of ${tagged.length} tokens in an entity (${byType})`;
}

// The CSS class of a tag's chip: one per coloured type, else "other", and "o" for the outside tag.
export function tagClass(type) {
  if (type === null) return "tag-o";
  return COLOURED.has(type) ? `tag-${type.toLowerCase()}` : "tag-other";
}

// The chip shown under a token.
export function tagChip(info) {
  const title = info.probability === null ? null : `predicted ${info.tag} (probability ${info.probability.toFixed(3)})`;
  return el("span", { class: `tag ${tagClass(info.type)}`, title, text: info.tag });
}
