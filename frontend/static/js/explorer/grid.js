// The model view: every layer and head as a small canvas, one pixel per cell, each scaled to its own range as
// the colour control says (its largest |value|, a percentile of them, or each row its own); hovering a cell names
// it and its value, and the grid exports as one PNG or SVG.

import { el } from "../common/dom.js";
import { STYLE } from "../common/figure-style.js";
import { parseColour } from "./colormap.js";
import { attends, blanked, matrix } from "./matrix.js";
import { colourValues } from "./scales.js";
import { rowTokens } from "./text.js";

// A power below 1 (the square root): small weights stay visible in a thumbnail.
export function ramp([from, to], t) {
  const s = Math.max(0, Math.min(1, t)) ** STYLE.thumbnail.gamma;
  return from.map((c, i) => Math.round(c + (to[i] - c) * s));
}

const THUMB = {
  attention: STYLE.thumbnail.attention.map(parseColour),
  negative: [STYLE.thumbnail.attribution.zero, STYLE.thumbnail.attribution.negative].map(parseColour),
  positive: [STYLE.thumbnail.attribution.zero, STYLE.thumbnail.attribution.positive].map(parseColour),
  mask: STYLE.thumbnail.mask.map(parseColour),
  blank: parseColour(STYLE.not_attended.fill),  // a key its row cannot attend: no colour of the scale
};

// Maps are [layers, heads, m, n]: m rows (the keys' n but for cross-attention).
const cellsOf = (maps) => maps.candidate.shape[2] * maps.candidate.shape[3];
const offsetOf = (maps, layer, head) => (layer * maps.candidate.shape[1] + head) * cellsOf(maps);

// The RGB of every cell of one thumbnail, as m*n triples; mode is the colour control's (scales.js); meta (the
// answer) says which keys a row cannot attend: those are blank, outside the range, as on the maps.
export function thumbnailColours(maps, quantity, layer, head, mode = "max", meta = {}) {
  if (quantity === "mask") {
    const offset = offsetOf(maps, layer, head), cand = maps.candidate.values, drop = maps.dropped.values;
    const n = maps.candidate.shape[3], seen = attends(meta);
    return Array.from({ length: cellsOf(maps) }, (_, k) => (!seen(Math.floor(k / n), k % n) ? THUMB.blank
      : THUMB.mask[drop[offset + k] ? 2 : cand[offset + k] ? 1 : 0]));
  }
  const { z: [rows], top } = colourValues([blanked(matrix(maps[quantity], layer, head), meta)], mode);
  return rows.flatMap((row) => Array.from(row, (value) => {
    if (Number.isNaN(value)) return THUMB.blank;
    const v = value / top;  // beyond a percentile's top: the end colour (ramp clamps)
    if (quantity === "attention") return ramp(THUMB.attention, v);
    return v >= 0 ? ramp(THUMB.positive, v) : ramp(THUMB.negative, -v);
  }));
}

// The cell under a point (x, y) of a thumbnail of m rows and n keys drawn width x height pixels.
export function cellAt(x, y, width, height, n, m = n) {
  const clamp = (v, count) => Math.max(0, Math.min(count - 1, v));
  return { query: clamp(Math.floor((y / height) * m), m), key: clamp(Math.floor((x / width) * n), n) };
}

// What the hover says about one cell: where it is, its tokens and the shown quantity's value there.
export function cellText({ meta, maps, quantity }, layer, head, query, key) {
  const n = meta.tokens.length;
  const at = offsetOf(maps, layer, head) + query * n + key;
  const value = quantity === "mask"
    ? (maps.dropped.values[at] ? "dropped" : maps.candidate.values[at] ? "candidate" : "kept")
    : Number(maps[quantity].values[at].toPrecision(4)).toString();
  const token = (tokens, i) => `${tokens[i]} (${i})`;
  return [`layer ${layer} · head ${head}`, `query ${token(rowTokens(meta), query)} → key ${token(meta.tokens, key)}`,
    attends(meta)(query, key) ? `${quantity}: ${value}` : STYLE.not_attended.hover].join("\n");
}

function paintThumbnail(canvas, colours) {
  const context = canvas.getContext("2d");
  const image = context.createImageData(canvas.width, canvas.height);
  colours.forEach((rgb, k) => image.data.set([rgb[0], rgb[1], rgb[2], 255], k * 4));
  context.putImageData(image, 0, 0);
}

export function drawGrid(container, data, layers, heads, selected, onOpen, mode = "max") {
  const n = data.meta.tokens.length, m = rowTokens(data.meta).length;
  container.replaceChildren();
  container.style.gridTemplateColumns = `36px repeat(${heads.length}, minmax(40px, 1fr))`;
  container.appendChild(el("div", { class: "corner" }));
  heads.forEach((h) => container.appendChild(el("div", { class: "col-label", text: `H${h}` })));
  for (const layer of layers) {
    container.appendChild(el("div", { class: "row-label", text: `L${layer}` }));
    for (const head of heads) {
      const canvas = el("canvas", { width: n, height: m, "data-layer": layer, "data-head": head,
        class: layer === selected.layer && String(head) === String(selected.head) ? "selected" : null });
      if (m !== n) canvas.style.aspectRatio = `${n} / ${m}`;  // square cells
      paintThumbnail(canvas, thumbnailColours(data.maps, data.quantity, layer, head, mode, data.meta));
      canvas.addEventListener("click", () => onOpen(layer, head));
      container.appendChild(canvas);
    }
  }
  const tip = container.appendChild(el("div", { class: "grid-tip hidden", role: "tooltip" }));
  // Assigned, not added: the grid is redrawn often and must keep one pair of handlers.
  container.onpointermove = (event) => {
    const canvas = event.target;
    if (!(canvas instanceof HTMLCanvasElement)) { tip.classList.add("hidden"); return; }
    const box = canvas.getBoundingClientRect();
    const { query, key } = cellAt(event.clientX - box.left, event.clientY - box.top, box.width, box.height, n, m);
    tip.textContent = cellText(data, Number(canvas.dataset.layer), Number(canvas.dataset.head), query, key);
    tip.style.left = `${event.clientX + 14}px`;
    tip.style.top = `${event.clientY + 14}px`;
    tip.classList.remove("hidden");
  };
  container.onpointerleave = () => tip.classList.add("hidden");
}

export const GRID_FORMATS = ["png", "svg"];

// Where each map and label of an exported grid goes: maps at 3 px per cell (96 px at least), labels beside.
export function gridLayout(layers, heads, n) {
  const cell = Math.max(96, n * 3), gap = 8, label = 40;
  return {
    cell, width: label + heads.length * (cell + gap), height: label + layers.length * (cell + gap),
    columns: heads.map((h, j) => ({ text: `H${h}`, x: label + j * (cell + gap) + cell / 2, y: 24 })),
    rows: layers.map((l, i) => ({ text: `L${l}`, x: label - 8, y: label + i * (cell + gap) + cell / 2 + 5 })),
    at: (layer, head) => ({ x: label + heads.indexOf(head) * (cell + gap), y: label + layers.indexOf(layer) * (cell + gap) }),
  };
}

function shownMaps(container) {
  const canvases = [...container.querySelectorAll("canvas")];
  if (!canvases.length) return null;
  const layers = [...new Set(canvases.map((c) => Number(c.dataset.layer)))];
  const heads = [...new Set(canvases.map((c) => Number(c.dataset.head)))];
  return { canvases, layout: gridLayout(layers, heads, canvases[0].width) };
}

const LABEL_STYLE = { fill: "#677086", font: "600 14px sans-serif" };

// The visible grid as one PNG.
export function gridPng(container) {
  const shown = shownMaps(container);
  if (!shown) return Promise.resolve(null);
  const { canvases, layout } = shown;
  const out = el("canvas", { width: layout.width, height: layout.height });
  const context = out.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, out.width, out.height);
  context.imageSmoothingEnabled = false;
  context.fillStyle = LABEL_STYLE.fill;
  context.font = LABEL_STYLE.font;
  context.textAlign = "center";
  layout.columns.forEach((c) => context.fillText(c.text, c.x, c.y));
  context.textAlign = "right";
  layout.rows.forEach((r) => context.fillText(r.text, r.x, r.y));
  for (const canvas of canvases) {
    const { x, y } = layout.at(Number(canvas.dataset.layer), Number(canvas.dataset.head));
    context.drawImage(canvas, x, y, layout.cell, layout.cell);
  }
  return new Promise((resolve) => out.toBlob(resolve, "image/png"));
}

// An SVG of the grid: labels as text, each map a lossless PNG of one pixel per cell drawn unsmoothed (as
// Plotly's own SVG export draws a heatmap), since a vector cell per query-key pair would run to millions of
// elements for long inputs.  ``tiles`` are {layer, head, href}.
export function gridSvgText(layout, tiles) {
  const text = (t, anchor) => `<text x="${t.x}" y="${t.y}" text-anchor="${anchor}" fill="${LABEL_STYLE.fill}" ` +
    `font-family="sans-serif" font-size="14" font-weight="600">${t.text}</text>`;
  const images = tiles.map(({ layer, head, href }) => {
    const { x, y } = layout.at(layer, head);
    return `<image x="${x}" y="${y}" width="${layout.cell}" height="${layout.cell}" href="${href}" ` +
      `preserveAspectRatio="none" image-rendering="optimizeSpeed" style="image-rendering:pixelated"><title>layer ${layer}, head ${head}</title></image>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" ` +
    `viewBox="0 0 ${layout.width} ${layout.height}"><rect width="100%" height="100%" fill="#ffffff"/>` +
    layout.columns.map((c) => text(c, "middle")).join("") + layout.rows.map((r) => text(r, "end")).join("") +
    images.join("") + "</svg>";
}

export function gridSvg(container) {
  const shown = shownMaps(container);
  if (!shown) return null;
  return gridSvgText(shown.layout, shown.canvases.map((canvas) => ({
    layer: Number(canvas.dataset.layer), head: Number(canvas.dataset.head), href: canvas.toDataURL("image/png") })));
}
