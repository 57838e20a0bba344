// Plotly figures of square maps side by side.  A figure is built in one of two ways:
// - "canvas": the heatmaps, axes and colour bars only; what a p/q move changes (the candidate outline,
//   the drop marks and the mask panel's cells) is returned as overlays for overlay.js to paint, so a
//   slider move repaints one canvas instead of re-rendering three heatmaps;
// - "image": the axes, token labels and titles only; mapimage.js makes every map's cells and colour bar
//   into what the canvas paints, so a layer or head change needs no Plotly call either;
// - "plotly": everything as Plotly traces and shapes, for exports and the standalone HTML.

import { STYLE, bySize } from "../common/figure-style.js";
import { colourBarTitle, quantityTitle } from "./legends.js";
import { absMax, attends, blanked, matrix, maskLevels, outlinePath, shownMatrix, unattendedOutline } from "./matrix.js";
import { colourValues, scaleNote } from "./scales.js";
import { FOCUS_MAPS } from "./state.js";
import { kindName, rowLabels, rowTokens, tickLabels, tokenPairs } from "./text.js";

export const COLORS = STYLE.colours;
export const ATTENTION_SCALE = STYLE.scales.attention;
export const ATTRIBUTION_SCALE = STYLE.scales.attribution;
const MASK_COLORS = STYLE.scales.mask_levels;
const MASK_SCALE = [[0, MASK_COLORS[0]], [0.333, MASK_COLORS[0]], [0.333, MASK_COLORS[1]], [0.667, MASK_COLORS[1]],
  [0.667, MASK_COLORS[2]], [1, MASK_COLORS[2]]];
const DROP_FRACTION_SCALE = STYLE.scales.drop_fraction;
const UNATTENDED = STYLE.not_attended;

export const PLOT_CONFIG = {
  responsive: true, displaylogo: false,
  toImageButtonOptions: { format: "png", scale: 2, filename: "addrop-view" },
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
};

// At most labels.max_per_axis token labels along an axis.
export function tickStep(n) { const most = STYLE.labels.max_per_axis; return n <= most ? 1 : Math.ceil(n / most); }

// The token labels' font size: smaller once there are many.
export const tickFontSize = (n) => bySize(STYLE.labels.font_size, n);

// Two neighbouring key labels written at angle degrees have their baselines cell * slant(angle) apart across
// it; the rows' labels (angle null) run level, one above the other, a whole cell apart.
const slant = (angle) => (angle === null ? 1 : Math.abs(Math.sin(angle * Math.PI / 180)));
const KEY_ANGLE = STYLE.labels.key_angle;

// How far apart two labelled tokens' positions must be, in pixels, for labels of size px to sit a line of text
// apart across their slant: the keys' at angle degrees, the rows' (angle null) level.
export function labelSpacing(size, angle = KEY_ANGLE) {
  return size * STYLE.labels.line_height / slant(angle);
}

// The token labels' font size on an axis of cellPixels-wide cells (slanted: the keys' axis): the size that gives
// every token its label (a line of text apart), within [labels.min_font_size, tickFontSize(n)]; below the
// smallest, labels are thinned instead (addrop.viz's label_font).
export function labelFont(n, cellPixels, slanted = true) {
  const fits = cellPixels * slant(slanted ? KEY_ANGLE : null) / STYLE.labels.line_height;
  return Math.min(tickFontSize(n), Math.max(STYLE.labels.min_font_size, Math.floor(fits * 2) / 2));
}

// Every how many of n tokens an axis of cellPixels-wide cells is labelled by labels of size px at angle
// degrees (null: level): a line of text apart, so they never collide, and at most labels.max_per_axis of them.
export function strideFor(n, cellPixels, size, angle) {
  return Math.max(tickStep(n), Math.ceil(labelSpacing(size, angle) / Math.max(cellPixels, 1e-6) - 1e-9));
}

// Every how many tokens an axis of cellPixels-wide cells is labelled by labels of labelFont (addrop.viz's
// label_step).
export function labelStride(n, cellPixels, slanted = true) {
  return strideFor(n, cellPixels, labelFont(n, cellPixels, slanted), slanted ? KEY_ANGLE : null);
}

// The fonts of a figure of maps: the page's, its token labels sized to the cells (label null) and slanted at the
// definition's angle; a figure for print gives its own (paper.js), labels of one size.
export const SCREEN_FONTS = Object.freeze({
  family: STYLE.fonts.text, labels: STYLE.fonts.mono, size: STYLE.fonts.size, title: STYLE.fonts.title_size,
  axisTitle: STYLE.fonts.axis_title_size, colourBar: STYLE.fonts.colour_bar_size, label: null, keyAngle: KEY_ANGLE,
});

// Monospace and sans-serif text are at most this many ems a character on average: how much room labels take.
const EM_PER_CHARACTER = 0.6;

// The height the key labels take under a map, with the axis title under them.
export function keyLabelRoom(tokens, fonts = SCREEN_FONTS) {
  const size = fonts.label ?? tickFontSize(tokens.length), angle = fonts.keyAngle * Math.PI / 180;
  const longest = Math.max(0, ...tokens.map((t) => t.length)) * size * EM_PER_CHARACTER;
  return longest * Math.abs(Math.sin(angle)) + size * Math.abs(Math.cos(angle)) + fonts.axisTitle + 14;
}

// The width the row labels take left of a map, with the axis title beside them.
export function rowLabelRoom(tokens, fonts = SCREEN_FONTS) {
  const size = fonts.label ?? tickFontSize(tokens.length);
  return Math.max(0, ...tokens.map((t) => t.length)) * size * EM_PER_CHARACTER + fonts.axisTitle + 14;
}

// The x axis carries the keys' tokens, the y axis the rows' (the same tokens but for cross-attention); cell
// is a cell's side in pixels, window the [first, last] token shown (a zoomed export), else all; fonts as
// panelFigure's.
function axis(meta, domain, anchor, isY, title, cell, window = null, fonts = SCREEN_FONTS) {
  const n = isY ? rowTokens(meta).length : meta.tokens.length;
  const [first, last] = window || [0, n - 1];
  const shown = last - first + 1;  // the labels' size and stride follow the tokens in view
  const angle = isY ? null : fonts.keyAngle;
  const size = fonts.label ?? labelFont(shown, cell, !isY);
  const step = strideFor(shown, cell, size, angle);
  const values = [...Array(n).keys()].filter((i) => i % step === 0 && i >= first && i <= last);
  const labels = isY ? rowLabels(meta) : tickLabels(meta);
  const spec = {
    domain, anchor, tickmode: "array", tickvals: values, ticktext: values.map((i) => labels[i]),
    tickfont: { size, family: fonts.labels, color: STYLE.fonts.ink },
    showgrid: false, zeroline: false, range: isY ? [last + 0.5, first - 0.5] : [first - 0.5, last + 0.5], ticks: "",
    title: title ? { text: title, font: { family: fonts.family, size: fonts.axisTitle, color: STYLE.fonts.muted }, standoff: 4 } : undefined,
    constrain: "domain",
  };
  if (!isY) spec.tickangle = angle;
  return spec;
}

// Where one sentence ends and the next begins, in cell coordinates.
export function boundaries(meta) {
  const at = [];
  for (let i = 1; i < meta.tokens.length; i++) if (meta.segments[i] !== meta.segments[i - 1]) at.push(i - 0.5);
  return at;
}

function boundaryShapes(meta, xref, yref) {
  const n = meta.tokens.length, m = rowTokens(meta).length;
  const line = { color: COLORS.boundary, width: 1.2, dash: "dash" };
  return boundaries(meta).flatMap((at) => [
    { type: "line", xref, yref, x0: at, x1: at, y0: -0.5, y1: m - 0.5, line },
    { type: "line", xref, yref, x0: -0.5, x1: n - 0.5, y0: at, y1: at, line },
  ]);
}

// The larger side of a map: what its outlines and marks are sized by.
export function mapSize(meta) {
  return Math.max(meta.tokens.length, rowTokens(meta).length);
}

export function regionWidth(n) { return bySize(STYLE.region_width, n); }
export function markSize(n) { const s = STYLE.mark.size; return Math.max(s.min, Math.min(s.max, s.numerator / n)); }
export function markWidth(n) { return bySize(STYLE.mark.width, n); }

function dropMarkers(dropped, xaxis, yaxis, n, colour) {
  const x = [], y = [];
  dropped.forEach((row, i) => row.forEach((v, j) => { if (v >= 0.5) { x.push(j); y.push(i); } }));
  return {
    type: "scatter", mode: "markers", x, y, xaxis, yaxis, hoverinfo: "skip", showlegend: false,
    marker: { symbol: STYLE.mark.symbol, size: markSize(n), line: { width: markWidth(n), color: colour }, color: colour },
  };
}


// The light hatch over cells without a value, as a Plotly fill pattern (the definition's not_attended).
export function hatchPattern() {
  return Object.assign({}, UNATTENDED.pattern, { fgcolor: UNATTENDED.hatch, bgcolor: "rgba(0,0,0,0)" });
}

// The cells a causal map's rows cannot attend, drawn alike on every map (addrop.viz.maps draws the same two
// traces): the definition's fill, whose hover names the cell and says why it has no value, under a hatch.
// Whether a panel's map is causal: its own say (the compare view's sides may differ, B − A is causal where either
// side is), else the figure's.
export function panelCausal(meta, panel) {
  return Boolean(panel.causal ?? meta.causal);
}

function notAttendedTraces(meta, xaxis, yaxis, gap, pairs) {
  const seen = attends(meta);
  const z = pairs.map((row, i) => row.map((_, j) => (seen(i, j) ? null : 0)));
  const corners = unattendedOutline(meta.tokens.length);
  const closed = corners.concat(corners.slice(0, 1));
  return [
    { type: "heatmap", z, text: pairs, xaxis, yaxis, name: "not attended", showscale: false,
      colorscale: [[0, UNATTENDED.fill], [1, UNATTENDED.fill]], zmin: 0, zmax: 1, hoverongaps: false, xgap: gap, ygap: gap,
      hovertemplate: `%{text}<br>${UNATTENDED.hover}<extra></extra>` },
    { type: "scatter", mode: "none", fill: "toself", fillcolor: "rgba(0,0,0,0)", fillpattern: hatchPattern(),
      x: closed.map(([x]) => x), y: closed.map(([, y]) => y), xaxis, yaxis, name: "not attended (hatch)",
      hoverinfo: "skip", showlegend: false },
  ];
}

// A colour bar beside a map: room, the pixels its box takes (the bar, its tick labels up to "−1e−3" and its
// title); thickness, the bar's; pad, the box's padding on either side.
export const SCREEN_BAR = Object.freeze({ room: 74, thickness: 10, pad: 10 });

// The paper fraction between two maps: room for the left map's colour bar and the right map's token labels
// (monospace, about 0.6 em a character), at least 0.11 and at most 0.2 of the plot's width.
export function panelGap(tokens, plotPixels) {
  const labelPixels = Math.max(0, ...tokens.map((t) => t.length)) * tickFontSize(tokens.length) * 0.6 + 8;
  return Math.min(0.2, Math.max(0.11, (SCREEN_BAR.room + labelPixels) / plotPixels));
}

// The margins of a figure of maps (row labels on the left, token labels under the maps).
export const MAP_MARGIN = Object.freeze({ l: 78, r: 40, t: 44, b: 86 });

// The [first, last] keys and rows a zoom [x0, x1, y0, y1] (cell coordinates, either order) shows of an
// n-key, m-row map; null for none.
export function zoomWindow(zoom, n, m) {
  if (!zoom) return null;
  const span = (a, b, count) => [Math.max(0, Math.ceil(Math.min(a, b))), Math.min(count - 1, Math.floor(Math.max(a, b)))];
  const keys = span(zoom[0], zoom[1], n), rows = span(zoom[2], zoom[3], m);
  return keys[1] >= keys[0] && rows[1] >= rows[0] ? { keys, rows } : null;
}

// Panels side by side, each a map of square cells with its own colour bar.  Returns {data, layout, overlays,
// marked}: marked is false where a "plotly" figure left its outlines and marks out, its cells too small to
// carry them (the screen's rule).  options: window, the keys and rows to show (zoomWindow); colours, the
// outline's and marks' (a palette's); rowLabels "first" labels the rows on the first map of a row of maps
// only, the gaps then holding colour bars alone; columns, the maps in a row (more panels start a new row
// under it, with room for the upper maps' key labels); fonts (SCREEN_FONTS); margin (MAP_MARGIN); bar, the
// colour bars' size (SCREEN_BAR).
export function panelFigure(meta, panels, pixelWidth, mode = "canvas",
  { window = null, colours = COLORS, rowLabels = "all", columns = panels.length, fonts = SCREEN_FONTS, margin = MAP_MARGIN,
    bar = SCREEN_BAR } = {}) {
  const gridRows = Math.ceil(panels.length / columns);
  margin = { ...margin };
  const rows = rowTokens(meta);
  const plot = (pixelWidth || 1200) - margin.l - margin.r;
  const gap = columns < 2 ? 0 : rowLabels === "first" ? (bar.room + 8) / plot : panelGap(meta.tokens.concat(rows), plot);
  const width = (1 - gap * (columns - 1)) / columns;
  // Square cells: the height follows the width a panel gets, times the rows per key (a cross-attention map
  // of a long translation is taller than wide).
  const panelPixels = plot * (width - 0.02);
  const shownKeys = window ? window.keys[1] - window.keys[0] + 1 : meta.tokens.length;
  const shownRows = window ? window.rows[1] - window.rows[0] + 1 : rows.length;
  const mapHeight = Math.min(900, panelPixels * shownRows / shownKeys);
  const cell = Math.min(panelPixels / shownKeys, mapHeight / shownRows);
  const n = Math.max(shownKeys, shownRows);  // what outlines and marks are sized by: the map in view
  const marked = cell >= STYLE.mark.smallest_marked_cell;
  // between two rows of maps: the upper maps' key labels and axis title, then the lower maps' titles
  const between = gridRows > 1 ? keyLabelRoom(meta.tokens, fonts) + fonts.title + 12 : 0;
  const plotHeight = gridRows * mapHeight + (gridRows - 1) * between;
  const pairs = tokenPairs(meta.tokens, rows);
  const data = [], unattended = [];
  const layout = {
    margin, height: Math.round(plotHeight + margin.t + margin.b),
    paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
    font: { family: fonts.family, size: fonts.size, color: STYLE.fonts.ink },
    shapes: [], annotations: [], hoverlabel: { font: { family: STYLE.fonts.mono, size: 11 } },
  };
  panels.forEach((panel, k) => {
    const suffix = k === 0 ? "" : String(k + 1);
    const column = k % columns, row = Math.floor(k / columns);
    const x0 = column * (width + gap);
    const top = 1 - row * (mapHeight + between) / plotHeight, bottom = top - mapHeight / plotHeight;
    const xname = `x${suffix}`, yname = `y${suffix}`;
    layout[`xaxis${suffix}`] = axis(meta, [x0, x0 + width - 0.02], yname, false, column === 0 ? "key" : "", cell, window && window.keys, fonts);
    layout[`yaxis${suffix}`] = Object.assign(axis(meta, [bottom, top], xname, true, column === 0 ? "query" : "", cell, window && window.rows, fonts),
      { scaleanchor: xname }, column > 0 && rowLabels === "first" ? { showticklabels: false } : {});
    const hovertemplate = `%{text}<br>${panel.label}: %{z:.4~g}<extra></extra>`;
    if (mode === "image") data.push({ type: "scatter", x: [], y: [], xaxis: xname, yaxis: yname, hoverinfo: "skip", showlegend: false });
    else {
      const colorbar = Object.assign({ x: x0 + width - 0.015, y: (top + bottom) / 2, yanchor: "middle", len: 0.75 * (top - bottom),
        thickness: bar.thickness, xpad: bar.pad, outlinewidth: 0, tickfont: { family: fonts.family, size: fonts.colourBar } }, panel.colorbar || {});
      if (colorbar.title) colorbar.title = Object.assign({}, colorbar.title, { font: { family: fonts.family, size: fonts.axisTitle, color: STYLE.fonts.muted } });
      const gap = n > 40 ? 0 : 0.5;
      // the keys a row cannot attend have no value here: their own traces (after every panel's) name them
      data.push(Object.assign({
        type: "heatmap", z: panel.z, xaxis: xname, yaxis: yname, text: pairs, hovertemplate, hoverongaps: false,
        xgap: gap, ygap: gap, colorbar,
      }, panel.trace));
      if (panelCausal(meta, panel)) unattended.push(...notAttendedTraces({ ...meta, causal: true }, xname, yname, gap, pairs));
    }
    if (mode !== "image") layout.shapes.push(...boundaryShapes(meta, xname, yname));
    if (mode === "plotly" && marked) {
      if (panel.region) {
        const path = outlinePath(panel.region);
        if (path) layout.shapes.push({ type: "path", path, xref: xname, yref: yname, line: { color: colours.region, width: regionWidth(n) } });
      }
      if (panel.dropped) data.push(dropMarkers(panel.dropped, xname, yname, n, colours.drop));
    }
    layout.annotations.push({
      text: panel.title, x: x0 + (width - 0.02) / 2, y: top, xref: "paper", yref: "paper", xanchor: "center", yanchor: "bottom",
      yshift: 8, showarrow: false, font: { family: fonts.family, size: fonts.title, color: STYLE.fonts.ink },
    });
  });
  data.push(...unattended);
  const unmarked = mode === "plotly" && !marked && panels.some((panel) => panel.region || panel.dropped);
  return { data, layout, overlays: mode === "canvas" ? panelOverlays(meta, panels) : [], marked: !unmarked };
}

// What the canvas paints over each panel of a "canvas" figure.
export function panelOverlays(meta, panels) {
  const n = meta.tokens.length, m = rowTokens(meta).length;
  const overlays = [];
  panels.forEach((panel, k) => {
    if (!panel.region && !panel.dropped) return;
    const suffix = k === 0 ? "" : String(k + 1);
    overlays.push({ xaxis: `x${suffix}`, yaxis: `y${suffix}`, n, m, region: panel.region || null, dropped: panel.dropped || null,
      boundaries: [] });
  });
  return overlays;
}

export function methodLabel(method) {
  return STYLE.titles.method[method];
}

// A colour bar's title with the note of the colour range in use.
function barTitle(text, scale) {
  const note = scaleNote(scale);
  return colourBarTitle(note ? `${text} · ${note}` : text);
}

// A value map's panel: z its coloured values (scale: how they span the colours, see scales.js), values the
// map's own (what the hover names); top, where given, the |value| of the end colour shared with other maps.
export function attentionPanel(values, title, { scale = "max", top = null, colorscale = ATTENTION_SCALE } = {}) {
  const own = colourValues([values], scale);
  return {
    z: own.z[0], values, label: scale === "row" ? "attention ÷ row max" : "attention", title,
    trace: { colorscale, zmin: 0, zmax: top ?? own.top },
    colorbar: { title: barTitle(quantityTitle("attention"), scale) },
  };
}

export function attributionPanel(values, title, method, { scale = "max", top = null, colorscale = ATTRIBUTION_SCALE } = {}) {
  const own = colourValues([values], scale);
  const range = top ?? own.top;
  return {
    z: own.z[0], values, label: scale === "row" ? "attribution ÷ row max" : "attribution", title,
    trace: { colorscale, zmin: -range, zmax: range },
    colorbar: { exponentformat: "e", showexponent: "all", title: barTitle(quantityTitle("attribution", method), scale) },
  };
}

export function maskTitle(meta, head) {
  return head === "mean" ? `Dropped, % of heads (p=${meta.p}, q=${meta.q})` : `AD-DROP mask (p=${meta.p}, q=${meta.q}, ${meta.mode})`;
}

// The mask panel: per head the three levels, over the mean of heads the fraction of heads dropping.
// The keys a row cannot attend are no level (NaN), as on the value maps.
export function maskPanel(meta, candidate, dropped, head) {
  if (head !== "mean") {
    const levels = blanked(maskLevels(candidate, dropped), meta);
    return {
      z: levels, values: levels, label: "0 kept · 1 candidate · 2 dropped", title: maskTitle(meta, head),
      trace: { colorscale: MASK_SCALE, zmin: 0, zmax: 2 },
      colorbar: { tickvals: [0.33, 1, 1.67], ticktext: ["kept", "candidate", "dropped"], title: colourBarTitle(quantityTitle("mask")) },
    };
  }
  // At small q few cells are dropped by every head: a fixed 0-100% scale would leave the map nearly white.
  const shown = blanked(dropped, meta);
  const top = absMax(shown) || 1;
  return {
    z: shown, values: shown, label: "fraction of heads dropping", title: maskTitle(meta, head),
    trace: { colorscale: DROP_FRACTION_SCALE, zmin: 0, zmax: top }, colorbar: { tickformat: ".0%", title: colourBarTitle(quantityTitle("mask-mean")) },
  };
}

// The parts of the layer view that p and q change: the outline and marks on the two maps, and the mask.
function maskParts(meta, maps, layerIndex, head) {
  const candidate = matrix(maps.candidate, layerIndex, head);
  const dropped = matrix(maps.dropped, layerIndex, head);
  const single = head !== "mean";
  return { overlay: { region: single ? candidate : null, dropped: single ? dropped : null }, mask: maskPanel(meta, candidate, dropped, head) };
}

export function layerPanels(meta, maps, layerIndex, head, scale = "max") {
  const { overlay, mask } = maskParts(meta, maps, layerIndex, head);
  const where = head === "mean" ? "mean over heads" : `head ${head}`;
  const name = meta.translation ? kindName(meta.kind).replace(/^./, (c) => c.toUpperCase()) : "Attention";
  return [
    Object.assign(attentionPanel(shownMatrix(meta, maps.attention, layerIndex, head), `${name} · layer ${meta.layer}, ${where}`, { scale }), overlay),
    Object.assign(attributionPanel(shownMatrix(meta, maps.attribution, layerIndex, head), `Attribution ${methodLabel(meta.method)}`, meta.method, { scale }), overlay),
    mask,
  ];
}

// Focus mode (state.js) shows one of a layer's three panels at full width; "" shows them all.
export function shownPanels(panels, focus) {
  return focus ? [panels[FOCUS_MAPS.indexOf(focus)]] : panels;
}

// Two one-panel figures merged into one with two halves (different tokens on each).
export function sideBySide(left, right, gap = 0.08) {
  const data = left.data.slice();
  const layout = Object.assign({}, left.layout, { shapes: left.layout.shapes.slice(), annotations: left.layout.annotations.slice() });
  // each figure's own paper coordinates squeezed into its half; the gap between holds A's colour bar and B's labels
  const half = (1 - gap) / 2;
  const squeeze = (domain, offset) => [offset + domain[0] * half, offset + domain[1] * half];
  layout.xaxis = Object.assign({}, left.layout.xaxis, { domain: squeeze(left.layout.xaxis.domain, 0) });
  layout.xaxis2 = Object.assign({}, right.layout.xaxis, { domain: squeeze(right.layout.xaxis.domain, 1 - half), anchor: "y2" });
  // B's rows are named by their tick labels; the "query" title once, on A, leaves the gap to A's colour bar
  layout.yaxis2 = Object.assign({}, right.layout.yaxis, { anchor: "x2", scaleanchor: "x2", title: { text: "" } });
  data[0] = Object.assign({}, data[0], { colorbar: Object.assign({}, data[0].colorbar, { x: half - 0.005 }) });
  for (const trace of right.data) {
    data.push(Object.assign({}, trace, { xaxis: "x2", yaxis: "y2" }, trace.colorbar ? { colorbar: Object.assign({}, trace.colorbar, { x: 1.0 }) } : {}));
  }
  for (const shape of right.layout.shapes) layout.shapes.push(Object.assign({}, shape, { xref: "x2", yref: "y2" }));
  layout.annotations[0] = Object.assign({}, layout.annotations[0], { x: half / 2 });
  layout.annotations.push(Object.assign({}, right.layout.annotations[0], { x: 1 - half / 2 }));
  const overlays = left.overlays.concat(right.overlays.map((o) => Object.assign({}, o, { xaxis: "x2", yaxis: "y2" })));
  return { data, layout, overlays };
}
