// Which ticks to label: the token labels of a map's axes, thinned so that they never overlap and back
// at every token once zoomed in far enough, and the numbers along a colour bar.

// The token indices to label on an axis showing range (either order) of an n-token map whose cells are
// cellPixels wide, labels at least spacing pixels apart.  Labels sit on multiples of the step, so panning
// keeps the labelled tokens labelled.
export function thinTicks(range, n, cellPixels, spacing) {
  const lo = Math.max(0, Math.ceil(Math.min(range[0], range[1]))), hi = Math.min(n - 1, Math.floor(Math.max(range[0], range[1])));
  const step = Math.max(1, Math.ceil(spacing / Math.max(cellPixels, 1e-6)));
  const ticks = [];
  for (let i = Math.ceil(lo / step) * step; i <= hi; i += step) ticks.push(i);
  return ticks;
}

// About count round numbers (steps of 1, 2, 2.5 or 5 times a power of ten) from min to max.
export function niceTicks(min, max, count = 5) {
  if (!(max > min)) return { values: [min], step: 1 };
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const values = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) values.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { values, step };
}

// A colour bar's tick text: fixed decimals enough for the step, or for tiny and huge scales a short
// exponent form like Plotly's "2e−3"; minus signs are typographic.
export function formatTick(value, step, exponent) {
  if (value === 0) return "0";
  let text;
  if (exponent && (step < 0.01 || step >= 1e4)) {
    const power = Math.floor(Math.log10(Math.abs(value)));
    const digits = Math.max(0, Math.min(6, power - Math.floor(Math.log10(step) + 1e-9)));
    text = value.toExponential(digits).replace(/\.?0+e/, "e").replace("e+", "e");
  } else {
    let decimals = 0;
    while (decimals < 6 && Math.abs(Math.round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-6) decimals++;
    text = value.toFixed(decimals);
  }
  return text.replace(/-/g, "−");
}
