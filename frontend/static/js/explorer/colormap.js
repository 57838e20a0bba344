// Maps as pixels: a colour scale becomes a lookup table once, and a map's values become RGBA bytes, one
// pixel per cell, that the canvas draws as one image scaled up.  Plotly rendering a heatmap trace did the
// same work (and an image encoding) on every layer or head change.

const STEPS = 257;  // odd, so that the middle of a diverging scale is a step of its own

export function parseColour(colour) {
  const hex = colour.match(/^#(..)(..)(..)$/);
  const parts = hex ? hex.slice(1).map((h) => parseInt(h, 16)) : colour.match(/\d+/g).map(Number);
  return [parts[0], parts[1], parts[2]];
}

// A Plotly colour scale ([[0, "#fff"], ..., [1, "#000"]]) as STEPS RGB entries, interpolated linearly in
// RGB between the stops as Plotly does.
export function colourTable(scale) {
  const stops = scale.map(([at, colour]) => [Number(at), parseColour(colour)]);
  const table = new Uint8ClampedArray(STEPS * 3);
  for (let k = 0; k < STEPS; k++) {
    const t = k / (STEPS - 1);
    let s = 0;
    while (s < stops.length - 2 && t > stops[s + 1][0]) s++;
    const [a, from] = stops[s], [b, to] = stops[s + 1];
    const f = b > a ? Math.min(1, Math.max(0, (t - a) / (b - a))) : 1;
    for (let c = 0; c < 3; c++) table[k * 3 + c] = Math.round(from[c] + (to[c] - from[c]) * f);
  }
  return table;
}

// The RGB of value v on a table spanning [zmin, zmax]; values outside are clamped to the ends.
export function tableColour(table, v, zmin, zmax) {
  const t = zmax > zmin ? (v - zmin) / (zmax - zmin) : 0;
  const k = Math.round(Math.min(1, Math.max(0, t)) * (STEPS - 1)) * 3;
  return [table[k], table[k + 1], table[k + 2]];
}

// A map's values (row-major, rows are queries) as RGBA bytes through a table spanning [zmin, zmax]; a cell without
// a value (NaN: a key its row cannot attend) gets the colour blank, no colour of the scale.
export function scalePixels(values, table, zmin, zmax, blank = [255, 255, 255]) {
  const pixels = new Uint8ClampedArray(values.length * 4);
  const span = zmax > zmin ? (STEPS - 1) / (zmax - zmin) : 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) {
      pixels[i * 4] = blank[0]; pixels[i * 4 + 1] = blank[1]; pixels[i * 4 + 2] = blank[2]; pixels[i * 4 + 3] = 255;
      continue;
    }
    const k = Math.round(Math.min(STEPS - 1, Math.max(0, (values[i] - zmin) * span))) * 3;
    pixels[i * 4] = table[k]; pixels[i * 4 + 1] = table[k + 1]; pixels[i * 4 + 2] = table[k + 2]; pixels[i * 4 + 3] = 255;
  }
  return pixels;
}

// A map's small integers (0, 1, 2...) as RGBA bytes, one colour per level.
export function levelPixels(levels, colours) {
  const rgb = colours.map(parseColour);
  const pixels = new Uint8ClampedArray(levels.length * 4);
  for (let i = 0; i < levels.length; i++) {
    const [r, g, b] = rgb[levels[i]];
    pixels[i * 4] = r; pixels[i * 4 + 1] = g; pixels[i * 4 + 2] = b; pixels[i * 4 + 3] = 255;
  }
  return pixels;
}
