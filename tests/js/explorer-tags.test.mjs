import assert from "node:assert/strict";
import { test } from "node:test";

import { entityType, tagClass, tagSummary, tokenTags } from "../../frontend/static/js/explorer/tags.js";

const CONLL = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];

test("entity types come from BIO and BIOES tags; O has none", () => {
  assert.equal(entityType("B-ORG"), "ORG");
  assert.equal(entityType("I-MISC"), "MISC");
  assert.equal(entityType("S-LOC"), "LOC");
  assert.equal(entityType("O"), null);
  assert.equal(entityType("DATE"), "DATE");
  assert.deepEqual([tagClass(null), tagClass("PER"), tagClass("DATE")], ["tag-o", "tag-per", "tag-other"]);
});

test("per-token tags follow the predictions, special tokens get none", () => {
  const meta = {
    labels: CONLL, tokens: ["[CLS]", "eu", "rejects", "german", "[SEP]"],
    token_predictions: [null, 3, 0, 7, null], token_probabilities: [null, 0.9, 0.8, 0.6, null],
  };
  const tags = tokenTags(meta);
  assert.deepEqual(tags, [null, { tag: "B-ORG", type: "ORG", probability: 0.9 }, { tag: "O", type: null, probability: 0.8 },
    { tag: "B-MISC", type: "MISC", probability: 0.6 }, null]);
  assert.equal(tagSummary(tags), "2 of 3 tokens in an entity (ORG 1, MISC 1)");
  assert.equal(tokenTags({ labels: ["neg", "pos"], token_predictions: null }), null);
});

test("the summary counts entity tokens by type, most frequent first, and says when there is none", () => {
  const tag = (t) => ({ tag: t, type: entityType(t), probability: null });
  assert.equal(tagSummary([tag("B-PER"), tag("B-LOC"), tag("I-LOC"), null]), "3 of 3 tokens in an entity (LOC 2, PER 1)");
  assert.equal(tagSummary([null, tag("O"), tag("O"), null]), "no entity: all 2 tokens O");
});
