// Slicing and small maths on the decoded maps: pure functions on arrays, no drawing.

// One [layers, heads, m, n] map as m rows of n numbers (m = n but for a translation model's cross-attention);
// head "mean" averages over every returned head.
export function matrix(array, layerIndex, head) {
  const [, heads, m, n] = array.shape;
  const chosen = head === "mean" ? [...Array(heads).keys()] : [Number(head)];
  const rows = [];
  for (let i = 0; i < m; i++) {
    const row = new Array(n).fill(0);
    for (const h of chosen) {
      const offset = ((layerIndex * heads + h) * m + i) * n;
      for (let j = 0; j < n; j++) row[j] += array.values[offset + j];
    }
    if (chosen.length > 1) for (let j = 0; j < n; j++) row[j] /= chosen.length;
    rows.push(row);
  }
  return rows;
}

// The largest |value|; cells without a value (NaN: keys a row cannot attend) take no part.
export function absMax(rows) {
  let max = 0;
  for (const row of rows) for (const v of row) if (Math.abs(v) > max) max = Math.abs(v);
  return max;
}

// Which keys a row may attend, from the answer's causal (a decoder's self-attention: query i attends keys j <= i
// only); every key of any other map.  addrop.masking.attended_keys is the same rule, the one the masks are drawn in.
export function attends(meta) {
  return meta.causal ? (i, j) => j <= i : () => true;
}

// How many keys row i attends.
export function attendedCount(meta, i) {
  return meta.causal ? Math.min(i + 1, meta.tokens.length) : meta.tokens.length;
}

// A map's rows with NaN at the keys a row cannot attend: their gradient exists, but no attention flows through
// them, so they get no colour and no part in a colour range (addrop.viz.maps.blanked).
export function blanked(rows, meta) {
  if (!meta.causal) return rows;
  return rows.map((row, i) => Array.from(row, (v, j) => (j <= i ? v : NaN)));
}

// One head's (or the mean's) map as matrix() slices it, with the keys a row cannot attend blanked.
export function shownMatrix(meta, array, layerIndex, head) {
  return blanked(matrix(array, layerIndex, head), meta);
}

// The polygon [[x, y], ...] around the cells a causal n x n map's rows cannot attend (key j > query i), in cell
// coordinates: a staircase from the top edge down the right one and back along the diagonal; none for one token
// (addrop.viz.maps.unattended_outline).
export function unattendedOutline(n) {
  if (n < 2) return [];
  const corners = [[0.5, -0.5], [n - 0.5, -0.5], [n - 0.5, n - 1.5]];
  for (let i = n - 2; i >= 0; i--) corners.push([i + 0.5, i + 0.5], [i + 0.5, i - 0.5]);
  return corners;
}

// A diverging scale around zero needs one half-width; an all-zero map still needs a non-empty range.
export function symmetricRange(rows) {
  return absMax(rows) || 1;
}

// 0 kept, 1 candidate, 2 dropped: the AD-DROP mask panel's levels.
export function maskLevels(candidate, dropped) {
  return candidate.map((row, i) => row.map((c, j) => (dropped[i][j] ? 2 : c ? 1 : 0)));
}

export function difference(a, b) {
  return b.map((row, i) => row.map((v, j) => v - a[i][j]));
}

export function countSet(rows) {
  let count = 0;
  for (const row of rows) for (const v of row) if (v >= 0.5) count++;
  return count;
}

// The border of the set cells as segments [x0, y0, x1, y1] in cell coordinates (cell centres on
// integers): the edges between a set cell and an unset one or the map's edge, with edges that continue
// each other joined, since every segment is a stroke to draw.
export function outlineSegments(mask) {
  const m = mask.length, n = m ? mask[0].length : 0;
  const on = (i, j) => i >= 0 && j >= 0 && i < m && j < n && mask[i][j];
  const rows = new Map(), columns = new Map();  // y -> [x0, x1] edges; x -> [y0, y1] edges
  const add = (lines, at, from) => { if (!lines.has(at)) lines.set(at, []); lines.get(at).push(from); };
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      if (!mask[i][j]) continue;
      if (!on(i - 1, j)) add(rows, i - 0.5, j - 0.5);
      if (!on(i + 1, j)) add(rows, i + 0.5, j - 0.5);
      if (!on(i, j - 1)) add(columns, j - 0.5, i - 0.5);
      if (!on(i, j + 1)) add(columns, j + 0.5, i - 0.5);
    }
  }
  const segments = [];
  const join = (lines, horizontal) => {
    for (const [at, starts] of [...lines].sort((a, b) => a[0] - b[0])) {
      starts.sort((a, b) => a - b);
      let from = starts[0], to = from + 1;
      for (const start of starts.slice(1).concat([Infinity])) {
        if (start === to) { to += 1; continue; }
        segments.push(horizontal ? [from, at, to, at] : [at, from, at, to]);
        from = start; to = start + 1;
      }
    }
  };
  join(rows, true);
  join(columns, false);
  return segments;
}

export function outlinePath(mask) {
  return outlineSegments(mask).map(([x0, y0, x1, y1]) => `M${x0},${y0}L${x1},${y1}`).join("");
}

// "all", "" or a list like "0-2,5" of indices below count; the error names the part that is wrong.
export function parseIndexList(text, count, what) {
  const trimmed = text.trim();
  if (!trimmed || trimmed.toLowerCase() === "all") return [...Array(count).keys()];
  const chosen = new Set();
  for (const part of trimmed.split(",")) {
    const match = part.trim().match(/^(\d+)(?:\s*-\s*(\d+))?$/);
    if (!match) throw new Error(`${what}: “${part.trim()}” is not a number or a range like 2-4`);
    const from = Number(match[1]), to = match[2] === undefined ? from : Number(match[2]);
    if (from > to || to >= count) throw new Error(`${what}: ${part.trim()} is outside 0-${count - 1}`);
    for (let i = from; i <= to; i++) chosen.add(i);
  }
  return [...chosen].sort((a, b) => a - b);
}
