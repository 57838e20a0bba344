// The layer view's maps as images for the canvas: each panel's values colour-mapped to one pixel per
// cell through the colour scale and range its exported Plotly trace gets, with what its colour bar
// shows.  Building them takes a few milliseconds at 128 tokens, where Plotly took seconds per heatmap.

import { STYLE } from "../common/figure-style.js";
import { colourTable, parseColour, scalePixels } from "./colormap.js";
import { boundaries, panelCausal } from "./figures.js";
import { unattendedOutline } from "./matrix.js";
import { rowTokens } from "./text.js";

const BLANK = parseColour(STYLE.not_attended.fill);

const tables = new Map();  // colour scales are module constants, so one table serves each for good
function tableFor(scale) {
  if (!tables.has(scale)) tables.set(scale, colourTable(scale));
  return tables.get(scale);
}

function flatten(rows) {
  const n = rows.length ? rows[0].length : 0;
  const values = new Float32Array(rows.length * n);
  rows.forEach((row, i) => values.set(row, i * n));
  return values;
}

// Plotly's rule: a trace given both ends spans them; otherwise the data's own range (NaN left out).
function zRange(values, trace) {
  if (Number.isFinite(trace.zmin) && Number.isFinite(trace.zmax)) return [trace.zmin, trace.zmax];
  let low = Infinity, high = -Infinity;
  for (const v of values) { if (v < low) low = v; if (v > high) high = v; }
  return [low, high];
}

// What the canvas paints for panels drawn side by side on the axes x, x2, ... of an "image" figure: each map's
// cells (those without a value in the definition's not_attended fill), with unattended the polygon around a causal
// map's later keys, which the canvas hatches.
export function imageOverlays(meta, panels) {
  const n = meta.tokens.length, m = rowTokens(meta).length;
  const lines = boundaries(meta);
  const outline = unattendedOutline(n);
  return panels.map((panel, k) => {
    const unattended = panelCausal(meta, panel) ? outline : null;
    const suffix = k === 0 ? "" : String(k + 1);
    const values = flatten(panel.z);
    const [zmin, zmax] = zRange(values, panel.trace);
    const table = tableFor(panel.trace.colorscale);
    return {
      xaxis: `x${suffix}`, yaxis: `y${suffix}`, n, m, region: panel.region || null, dropped: panel.dropped || null,
      pixels: scalePixels(values, table, zmin, zmax, BLANK), boundaries: lines, unattended,
      colorbar: Object.assign({ table, zmin, zmax }, panel.colorbar || {}),
    };
  });
}
