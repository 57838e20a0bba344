// A map's colour bar, painted on the overlay canvas beside the map: the scale, its ticks and its title,
// as Plotly would draw them for the exported figure, without a Plotly redraw when the range changes.

import { formatTick, niceTicks } from "./ticks.js";

const THICKNESS = 10;
const strips = new WeakMap();  // colour table -> a 1-pixel-wide canvas of it, top = high

function strip(table) {
  if (!strips.has(table)) {
    const steps = table.length / 3;
    const canvas = new OffscreenCanvas(1, steps);
    const context = canvas.getContext("2d");
    const image = context.createImageData(1, steps);
    for (let k = 0; k < steps; k++) {
      const row = steps - 1 - k;
      image.data.set([table[k * 3], table[k * 3 + 1], table[k * 3 + 2], 255], row * 4);
    }
    context.putImageData(image, 0, 0);
    strips.set(table, canvas);
  }
  return strips.get(table);
}

// The labelled values of a bar: its own (a mask's kept/candidate/dropped) or round numbers.
export function barTicks(bar) {
  if (bar.tickvals) return bar.tickvals.map((v, k) => [v, bar.ticktext[k]]);
  const { values, step } = niceTicks(bar.zmin, bar.zmax, 5);
  if (bar.tickformat === ".0%") return values.map((v) => [v, `${Math.round(v * 100)}%`]);
  return values.map((v) => [v, formatTick(v, step, bar.exponentformat === "e")]);
}

// Paints bar to the right of the plot area (left, top, size) in pixels.
export function paintColourBar(context, bar, left, top, size) {
  const x = left + 8, height = size * 0.75, y = top + (size - height) / 2;
  context.save();
  context.imageSmoothingEnabled = false;
  context.drawImage(strip(bar.table), x, y, THICKNESS, height);
  context.font = "10px Inter, Segoe UI, system-ui, sans-serif";
  context.fillStyle = "#1d2330";
  context.textBaseline = "middle";
  const span = bar.zmax - bar.zmin || 1;
  let widest = 0;
  for (const [value, text] of barTicks(bar)) {
    const at = y + height - ((value - bar.zmin) / span) * height;
    context.fillText(text, x + THICKNESS + 4, at);
    widest = Math.max(widest, context.measureText(text).width);
  }
  if (bar.title && bar.title.text) {
    // Written along the bar, reading downwards, so it takes no width from the maps.
    context.font = "11px Inter, Segoe UI, system-ui, sans-serif";
    context.fillStyle = (bar.title.font && bar.title.font.color) || "#677086";
    context.textAlign = "center";
    context.translate(x + THICKNESS + 4 + widest + 12, y + height / 2);
    context.rotate(Math.PI / 2);
    context.fillText(bar.title.text, 0, 0);
  }
  context.restore();
}
