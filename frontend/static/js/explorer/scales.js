// How a value map's colours span its values (the definition's colour_range): to its largest |value|, to a
// percentile of |value| so that a few strong cells no longer wash the rest out, or each row to its own
// largest |value| so that every row's structure shows.  A cell without a value (NaN: a key its row cannot attend)
// takes no part in any of them.  Pure functions; the figures apply them.

import { STYLE } from "../common/figure-style.js";

export const SCALE_MODES = Object.freeze(Object.keys(STYLE.colour_range.notes));

// The pct-th percentile of the cells' |value| (NaN left out), interpolated linearly between ranks (numpy's default).
export function percentileAbs(rows, pct) {
  const values = rows.flatMap((row) => Array.from(row, Math.abs)).filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (!values.length) return 0;
  const at = ((values.length - 1) * Math.min(100, Math.max(0, pct))) / 100;
  const low = Math.floor(at), high = Math.ceil(at);
  return values[low] + (values[high] - values[low]) * (at - low);
}

// Each row divided by its largest |value| (a row of zeros stays zeros; NaN stays NaN).
export function rowNormalised(rows) {
  return rows.map((row) => {
    let top = 0;
    for (const v of row) if (Math.abs(v) > top) top = Math.abs(v);
    return top ? Array.from(row, (v) => v / top) : Array.from(row);
  });
}

// What the colours of maps (one, or several on one shared scale) show under mode: {z: each map's coloured
// values, top: the |value| the scale's end colour stands for (never 0, so a range is never empty)}.
export function colourValues(maps, mode) {
  if (!SCALE_MODES.includes(mode)) throw new Error(`unknown colour scale ${mode}`);
  if (mode === "row") return { z: maps.map(rowNormalised), top: 1 };
  const all = maps.flat();
  const top = mode === "percentile" ? percentileAbs(all, STYLE.colour_range.percentile)
    : all.reduce((m, row) => row.reduce((a, v) => (Math.abs(v) > a ? Math.abs(v) : a), m), 0);
  return { z: maps, top: top || 1 };
}

// What the colour bar adds to its title: which scale is in use ("" for the largest value).
export function scaleNote(mode) {
  return STYLE.colour_range.notes[mode].replace("{percentile}", String(STYLE.colour_range.percentile));
}
