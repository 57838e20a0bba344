// Lining up two inputs' tokens for the compare view: when A and B tokenise differently, B − A is still
// defined on the tokens they share in the same order (the longest common subsequence of the two token lists).

// The pairs [i, j] of A's token i and B's token j that line up, in order. Among equally long alignments the
// earliest tokens are kept, so a repeated word pairs with its first occurrence on both sides.
export function alignTokens(a, b) {
  const n = a.length, m = b.length;
  // suffix[i][j]: the longest common subsequence of a[i..] and b[j..]
  const suffix = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      suffix[i][j] = a[i] === b[j] ? suffix[i + 1][j + 1] + 1 : Math.max(suffix[i + 1][j], suffix[i][j + 1]);
    }
  }
  const pairs = [];
  for (let i = 0, j = 0; i < n && j < m;) {
    if (a[i] === b[j]) { pairs.push([i, j]); i++; j++; }
    else if (suffix[i + 1][j] >= suffix[i][j + 1]) i++;
    else j++;
  }
  return pairs;
}

// B − A over the lined-up tokens: entry [x][y] is B's value at its tokens (x, y) minus A's at the same tokens.
export function alignedDifference(aRows, bRows, pairs) {
  return pairs.map(([ai, bi]) => pairs.map(([aj, bj]) => bRows[bi][bj] - aRows[ai][aj]));
}
