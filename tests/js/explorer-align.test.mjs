import assert from "node:assert/strict";
import { test } from "node:test";

import { alignTokens, alignedDifference } from "../../frontend/static/js/explorer/align.js";

test("identical token lists line up one to one", () => {
  const tokens = ["[CLS]", "the", "cat", "[SEP]"];
  assert.deepEqual(alignTokens(tokens, tokens), [[0, 0], [1, 1], [2, 2], [3, 3]]);
});

test("an inserted and a replaced word leave the shared tokens in order", () => {
  const a = ["[CLS]", "the", "cat", "sat", "[SEP]"];
  const b = ["[CLS]", "the", "black", "dog", "sat", "[SEP]"];
  const pairs = alignTokens(a, b);
  assert.deepEqual(pairs, [[0, 0], [1, 1], [3, 4], [4, 5]]);
  for (const [i, j] of pairs) assert.equal(a[i], b[j]);
});

test("the alignment is a longest common subsequence (checked against brute force on small lists)", () => {
  const words = ["a", "b", "c"];
  const lists = [];
  for (let length = 0; length <= 4; length++) {
    const grow = (prefix) => (prefix.length === length ? lists.push(prefix) : words.forEach((w) => grow([...prefix, w])));
    grow([]);
  }
  const isSubsequence = (sub, list) => { let k = 0; for (const t of list) if (t === sub[k]) k++; return k === sub.length; };
  const longest = (a, b) => {
    let best = 0;
    for (let mask = 0; mask < 1 << a.length; mask++) {
      const sub = a.filter((_, i) => mask & (1 << i));
      if (sub.length > best && isSubsequence(sub, b)) best = sub.length;
    }
    return best;
  };
  for (const a of lists.filter((_, k) => k % 7 === 0)) {
    for (const b of lists.filter((_, k) => k % 5 === 0)) {
      const pairs = alignTokens(a, b);
      assert.equal(pairs.length, longest(a, b), `${a} / ${b}`);
      pairs.forEach(([i, j], k) => {
        assert.equal(a[i], b[j]);
        if (k) assert.ok(i > pairs[k - 1][0] && j > pairs[k - 1][1]);
      });
    }
  }
});

test("the aligned difference takes each side's value at its own token positions", () => {
  const a = [[1, 2, 3], [4, 5, 6], [7, 8, 9]];
  const b = [[10, 0, 20, 30], [0, 0, 0, 0], [40, 0, 50, 60], [70, 0, 80, 90]];
  // A's tokens 0, 1, 2 line up with B's 0, 2, 3 (B has one extra token at 1)
  assert.deepEqual(alignedDifference(a, b, [[0, 0], [1, 2], [2, 3]]),
    [[9, 18, 27], [36, 45, 54], [63, 72, 81]]);
});
