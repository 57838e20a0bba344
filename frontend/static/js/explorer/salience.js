// The text view's numbers: one query's row of a [layers, heads, n, n] map, each key's rank in it, and
// the colour a value gets.  Pure functions, no DOM.

import { STYLE } from "../common/figure-style.js";
import { ATTRIBUTION_SCALE } from "./figures.js";

const UNATTENDED = STYLE.not_attended;

// Row `query` of one layer and head of a [layers, heads, m, n] map; head "mean" averages over every returned
// head, as matrix() does.
export function queryRow(array, layerIndex, head, query) {
  const [, heads, m, n] = array.shape;
  const chosen = head === "mean" ? [...Array(heads).keys()] : [Number(head)];
  const row = new Array(n).fill(0);
  for (const h of chosen) {
    const offset = ((layerIndex * heads + h) * m + query) * n;
    for (let j = 0; j < n; j++) row[j] += array.values[offset + j];
  }
  return chosen.length > 1 ? row.map((v) => v / chosen.length) : row;
}

// 1 for the highest value; tied values share the best rank they cover, as the candidate region
// includes every key tied with its threshold.  A NaN (a key the row cannot attend) ranks nothing and is never above.
export function ranks(values) {
  return values.map((v) => (Number.isNaN(v) ? null : 1 + values.filter((w) => w > v).length));
}

// Signed values get a diverging scale centred on zero; values that are never negative (AA, RD, a
// rank) a sequential one from zero, so white always means "nothing".
export function shadeScale(values) {
  const low = Math.min(...values), high = Math.max(...values);
  if (low < 0) {
    const half = Math.max(-low, high) || 1;
    return { kind: "diverging", low: -half, high: half };
  }
  return { kind: "sequential", low: 0, high: high || 1 };
}

const STOPS = ATTRIBUTION_SCALE.map(([at, colour]) => [at, [1, 3, 5].map((k) => parseInt(colour.slice(k, k + 2), 16))]);

// The scale's colours as [fraction, [r, g, b]] stops: the whole diverging scale, or its warm half.
export function scaleStops(kind) {
  if (kind === "diverging") return STOPS;
  return STOPS.filter(([at]) => at >= 0.5).map(([at, rgb]) => [(at - 0.5) * 2, rgb]);
}

export function shade(value, scale) {
  const t = Math.min(1, Math.max(0, (value - scale.low) / (scale.high - scale.low)));
  const stops = scaleStops(scale.kind);
  let k = 1;
  while (k < stops.length - 1 && stops[k][0] < t) k++;
  const [a, from] = stops[k - 1], [b, to] = stops[k];
  const f = b > a ? (t - a) / (b - a) : 0;
  return from.map((c, i) => Math.round(c + (to[i] - c) * f));
}

export function css(rgb) {
  return `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`;
}

// Dark text on light cells, light text on dark ones (relative luminance, WCAG's weights).
export function inkFor(rgb) {
  const [r, g, b] = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.28 ? "#ffffff" : "#1d2330";
}

// A CSS gradient for the legend bar, left = scale.low.
export function gradient(kind) {
  return `linear-gradient(to right, ${scaleStops(kind).map(([at, rgb]) => `${css(rgb)} ${Math.round(at * 100)}%`).join(", ")})`;
}

// Numbers small enough to need an exponent (GA's are often 1e-4) get one; the rest three digits.
export function formatValue(value) {
  if (value === 0) return "0";
  const size = Math.abs(value);
  return size < 1e-3 || size >= 1e4 ? value.toExponential(2) : Number(value.toPrecision(3)).toString();
}

// The light hatch over a token its row cannot attend (the definition's not_attended, as the maps' fill pattern:
// lines along the diagonal a pattern size apart), as a CSS background.
export function hatchBackground() {
  const { size, solidity } = UNATTENDED.pattern;
  const line = solidity * size;
  return `repeating-linear-gradient(45deg, ${UNATTENDED.hatch} 0 ${line}px, ${UNATTENDED.fill} ${line}px ${size}px)`;
}

// Everything the text view draws for one query: per key its value, rank, colour and mask state.  Over the mean of
// heads the mask maps are the share of heads that make a key a candidate or drop it.  A key the row cannot attend
// (causal: a later position) has no value (NaN), rank or colour of the scale and takes no part in its range.
export function tokenShading(maps, layerIndex, head, query, causal = false) {
  const row = queryRow(maps.attribution, layerIndex, head, query);
  const values = causal ? row.map((v, j) => (j <= query ? v : NaN)) : row;
  const candidate = maps.candidate ? queryRow(maps.candidate, layerIndex, head, query) : values.map(() => 0);
  const dropped = maps.dropped ? queryRow(maps.dropped, layerIndex, head, query) : values.map(() => 0);
  const seen = values.filter((v) => !Number.isNaN(v));
  const scale = shadeScale(seen);
  const rank = ranks(values);
  return {
    scale, attended: seen.length,
    tokens: values.map((value, j) => {
      if (Number.isNaN(value)) {
        return { value, attended: false, rank: null, colour: UNATTENDED.fill, ink: UNATTENDED.ink, candidate: 0, dropped: 0 };
      }
      const rgb = shade(value, scale);
      return { value, attended: true, rank: rank[j], colour: css(rgb), ink: inkFor(rgb), candidate: candidate[j], dropped: dropped[j] };
    }),
  };
}

// The hover text of one key (count: the keys the row attends); a wordpiece also names the word it is part of.
export function describeToken(token, index, shaded, count, head, heads, word = token) {
  const name = `${token} (${index})${word !== token ? ` in “${word}”` : ""}`;
  if (shaded.attended === false) return [name, UNATTENDED.hover].join("\n");
  const lines = [name, `attribution ${formatValue(shaded.value)} · rank ${shaded.rank} of ${count} (1 = highest)`];
  if (head === "mean") {
    const share = (x) => `${Math.round(x * heads)} of ${heads} heads`;
    lines.push(`candidate in ${share(shaded.candidate)}, dropped in ${share(shaded.dropped)}`);
  } else {
    lines.push(shaded.dropped >= 0.5 ? "dropped (−∞ in pass 2)" : shaded.candidate >= 0.5 ? "candidate, kept" : "not a candidate");
  }
  return lines.join("\n");
}
