// Token labels painted on the overlay canvas along a focused map's axes.  Plotly measures every tick
// label it draws (a layout of the page each), which made a zoom or pan of a 128-token map take half a
// second on a loaded machine; painted, they follow a zoom in the same repaint as the cells.

import { STYLE } from "../common/figure-style.js";
import { labelSpacing } from "./figures.js";
import { thinTicks } from "./ticks.js";

const INK = STYLE.fonts.ink, SPECIAL = "#8a93a6";

// labels: {tokens, special} of the keys, with rows: {tokens, special} where the rows are other tokens (a
// translation model's cross-attention); px, py map cell coordinates to pixels; the plot area is (left, top,
// width, height).  Returns the step between labelled tokens and how many key labels are in view.
export function paintTokenLabels(context, labels, px, py, area) {
  const n = labels.tokens.length;
  const rows = labels.rows || labels;
  const cell = Math.abs(px(1) - px(0));
  const inside = (at, from, length) => at >= from - 0.5 && at <= from + length + 0.5;
  const size = cell >= 14 ? 11 : 9;
  // a line of text apart: the keys' across their slant, the rows' one above the other (figures.js's rule)
  const angle = STYLE.labels.key_angle;
  const ticks = thinTicks([0, n - 1], n, cell, labelSpacing(size, angle));
  context.save();
  context.font = `${size}px ${STYLE.fonts.mono}`;
  for (const i of thinTicks([0, rows.tokens.length - 1], rows.tokens.length, cell, labelSpacing(size, null))) {
    const y = py(i);
    if (!inside(y, area.top, area.height)) continue;
    context.fillStyle = rows.special[i] ? SPECIAL : INK;
    context.textAlign = "right"; context.textBaseline = "middle";
    context.fillText(rows.tokens[i], area.left - 5, y);
  }
  for (const i of ticks) {
    context.fillStyle = labels.special[i] ? SPECIAL : INK;
    const x = px(i);
    if (inside(x, area.left, area.width)) {
      // along the slant Plotly gives the other maps' key labels, ending at the tick
      context.save();
      context.translate(x, area.top + area.height + 5);
      context.rotate(angle * Math.PI / 180);
      context.textAlign = "right"; context.textBaseline = "middle";
      context.fillText(labels.tokens[i], 0, 0);
      context.restore();
    }
  }
  context.restore();
  return { step: ticks.length > 1 ? ticks[1] - ticks[0] : 1, count: ticks.filter((i) => inside(px(i), area.left, area.width)).length };
}
