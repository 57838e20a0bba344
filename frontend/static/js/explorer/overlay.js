// The canvas over a Plotly figure that carries what a p/q move changes: the candidate outlines, the drop
// marks; in the layer view also every map's cells and colour bar, so that a
// layer or head change repaints it alone.  It reads the axes' pixel geometry from the drawn figure, so it
// follows zoom, pan and resizes, and a slider move repaints it without touching Plotly.

import { paintTokenLabels } from "./axislabels.js";
import { paintColourBar } from "./colourbar.js";
import { STYLE } from "../common/figure-style.js";
import { followView } from "./follow.js";
import { COLORS, markSize, markWidth, regionWidth } from "./figures.js";
import { countSet, outlineSegments } from "./matrix.js";

const painted = new WeakMap();  // figure element -> the overlays last painted on it

function canvasFor(figure) {
  let canvas = figure.parentElement.querySelector(":scope > canvas.map-overlay");
  if (!canvas) {
    canvas = document.createElement("canvas");
    canvas.className = "map-overlay";
    figure.after(canvas);
  }
  return canvas;
}

// Plotly's axis objects know where they are drawn.  Their own l2p, since a y axis runs upwards: the maps'
// y range [n - 0.5, -0.5] puts query 0 at the top (a plain proportion along the range put it at the
// bottom, and with it every outline, mark and boundary line of the wrong row).
function scale(axis) {
  return (v) => axis._offset + axis.l2p(v);
}

// One pixel per cell: the image of a map (n keys wide, m rows high) is made once and drawn scaled at every
// repaint (zoom, pan).
const images = new WeakMap();
function pixelImage(pixels, n, m) {
  if (!images.has(pixels)) {
    const canvas = new OffscreenCanvas(n, m);
    canvas.getContext("2d").putImageData(new ImageData(pixels, n, m), 0, 0);
    images.set(pixels, canvas);
  }
  return images.get(pixels);
}

// The light hatch over cells without a value (the definition's not_attended, as Plotly's fill pattern draws it:
// lines along the diagonal a pattern size apart, solidity x size wide), one tile per pixel ratio.
const hatches = new Map();
function hatchTile(ratio) {
  if (!hatches.has(ratio)) {
    const { pattern, hatch } = STYLE.not_attended;
    const side = Math.max(2, Math.round(pattern.size * Math.SQRT2 * ratio));
    const tile = new OffscreenCanvas(side, side);
    const context = tile.getContext("2d");
    context.beginPath();
    for (const shift of [-side, 0, side]) { context.moveTo(shift, 0); context.lineTo(shift + side, side); }
    context.strokeStyle = hatch;
    context.lineWidth = pattern.solidity * pattern.size * ratio;
    context.stroke();
    hatches.set(ratio, tile);
  }
  return hatches.get(ratio);
}

function paintHatch(context, corners, px, py, ratio) {
  context.beginPath();
  corners.forEach(([x, y], k) => (k ? context.lineTo(px(x), py(y)) : context.moveTo(px(x), py(y))));
  context.closePath();
  const fill = context.createPattern(hatchTile(ratio), "repeat");
  // the tile is in device pixels; the context draws in CSS pixels
  fill.setTransform(new DOMMatrix([1 / ratio, 0, 0, 1 / ratio, 0, 0]));
  context.fillStyle = fill;
  context.fill();
}

// The outline of a region is the same at every zoom and pan: traced once.
const outlines = new WeakMap();
function segmentsOf(region) {
  if (!outlines.has(region)) outlines.set(region, outlineSegments(region));
  return outlines.get(region);
}

// Below this many pixels a cell cannot carry an outline or a mark that leaves any of its colour visible,
// so the maps go unmarked (the mask panel still shows every candidate and drop) until the user zooms in.
const SMALLEST_MARKED_CELL = STYLE.mark.smallest_marked_cell;

const sprites = new Map();
function markSprite(size, width, ratio) {
  const key = `${size}/${width}@${ratio}`;
  if (!sprites.has(key)) {
    const side = Math.ceil((size + width) * ratio);
    const canvas = new OffscreenCanvas(side, side);
    const context = canvas.getContext("2d");
    const c = side / 2, half = (size / 2) * ratio;
    context.beginPath();
    context.moveTo(c - half, c - half); context.lineTo(c + half, c + half);
    context.moveTo(c - half, c + half); context.lineTo(c + half, c - half);
    context.strokeStyle = COLORS.drop;
    context.lineWidth = width * ratio;
    context.stroke();
    // A bitmap, not a canvas: drawing a canvas copies a snapshot of it at every stamp.
    sprites.set(key, canvas.transferToImageBitmap());
  }
  return sprites.get(key);
}

function paintOne(context, fullLayout, overlay, ratio) {
  const xa = fullLayout[overlay.xaxis.replace("x", "xaxis")], ya = fullLayout[overlay.yaxis.replace("y", "yaxis")];
  if (!xa || !ya) return;
  const px = scale(xa), py = scale(ya);
  context.save();
  context.beginPath();
  context.rect(xa._offset, ya._offset, xa._length, ya._length);
  context.clip();
  // n keys (columns); m rows, fewer or more than the keys only in a translation model's cross-attention
  const n = overlay.n, m = overlay.m ?? overlay.n;
  if (overlay.pixels) {
    context.imageSmoothingEnabled = false;
    const left = px(-0.5), top = Math.min(py(-0.5), py(m - 0.5));
    context.drawImage(pixelImage(overlay.pixels, n, m), left, top, px(n - 0.5) - left, Math.abs(py(m - 0.5) - py(-0.5)));
  }
  if (overlay.unattended && overlay.unattended.length) paintHatch(context, overlay.unattended, px, py, ratio);
  if (overlay.boundaries.length) {
    context.beginPath();
    for (const at of overlay.boundaries) {
      context.moveTo(px(at), py(-0.5)); context.lineTo(px(at), py(m - 0.5));
      context.moveTo(px(-0.5), py(at)); context.lineTo(px(n - 0.5), py(at));
    }
    context.setLineDash([4, 3]);
    context.strokeStyle = COLORS.boundary;
    context.lineWidth = 1.2;
    context.stroke();
    context.setLineDash([]);
  }
  const cell = Math.min(Math.abs(px(1) - px(0)), Math.abs(py(1) - py(0)));
  const markable = cell >= SMALLEST_MARKED_CELL;
  if (overlay.region && markable) {
    context.beginPath();
    for (const [x0, y0, x1, y1] of segmentsOf(overlay.region)) {
      context.moveTo(px(x0), py(y0));
      context.lineTo(px(x1), py(y1));
    }
    context.strokeStyle = COLORS.region;
    context.lineWidth = regionWidth(Math.max(n, m));
    context.stroke();
  }
  if (overlay.dropped && markable) {
    // One mark drawn once and stamped at every dropped cell, rather than thousands of strokes; it fits
    // inside its cell, so zooming in makes the marks grow with the cells.
    const size = Math.round(Math.min(cell * 0.7, Math.max(markSize(Math.max(n, m)), cell * 0.5)));
    const mark = markSprite(size, Math.min(markWidth(Math.max(n, m)), size / 3), ratio);
    const half = mark.width / ratio / 2;
    overlay.dropped.forEach((row, i) => row.forEach((v, j) => {
      if (v >= 0.5) context.drawImage(mark, px(j) - half, py(i) - half, mark.width / ratio, mark.height / ratio);
    }));
  }
  context.restore();
  if (overlay.colorbar) paintColourBar(context, overlay.colorbar, xa._offset + xa._length, ya._offset, ya._length);
  if (overlay.labels) {
    const drawn = paintTokenLabels(context, overlay.labels, px, py, { left: xa._offset, top: ya._offset, width: xa._length, height: ya._length });
    // how thin the labels are, for tests and for anyone reading the page without seeing the canvas
    Object.assign(context.canvas.dataset, { labelStep: drawn.step, labelsShown: drawn.count });
  }
  return markable || !(overlay.region || overlay.dropped);
}

export function paintOverlays(figure, overlays) {
  painted.set(figure, overlays);
  const canvas = canvasFor(figure);
  const fullLayout = figure._fullLayout;
  if (!fullLayout) return;
  const ratio = window.devicePixelRatio || 1;
  const width = fullLayout.width, height = fullLayout.height;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  let marked = true;
  for (const overlay of overlays) marked = paintOne(context, fullLayout, overlay, ratio) && marked;
  canvas.dataset.marked = marked ? "yes" : "no";
  // What is painted, counted, for tests and for anyone reading the page without seeing the canvas.
  const first = overlays.find((o) => o.region) || overlays[0];
  canvas.dataset.candidates = first && first.region ? countSet(first.region) : 0;
  canvas.dataset.dropped = first && first.dropped ? countSet(first.dropped) : 0;
  canvas.dataset.ranges = JSON.stringify(overlays.map((o) => (o.colorbar ? [o.colorbar.zmin, o.colorbar.zmax] : null)));
  canvas.dataset.hatched = overlays.filter((o) => o.unattended && o.unattended.length).length;
}

// Plotly redraws on resize, zoom and pan; the overlay follows each time, and during the gesture.
export function followFigure(figure) {
  if (figure.dataset.overlayBound) return;
  figure.dataset.overlayBound = "1";
  followView(figure, () => { if (painted.has(figure)) paintOverlays(figure, painted.get(figure)); });
}
