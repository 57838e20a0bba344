// What is under the pointer on the layer view's maps.  The canvas paints the cells, so Plotly has no
// heatmap to hover: the page finds the cell from the axes and names the query and key tokens with every
// map's value there, whichever map (or how many) is shown.

import { STYLE } from "../common/figure-style.js";
import { attendedCount, attends } from "./matrix.js";
import { rowTokens } from "./text.js";

const describers = new WeakMap();  // figure -> {n, m, describe: (i, j) => lines}

// The lines for cell (i, j) of the layer view's three panels (attention, attribution, mask); a key the row cannot
// attend has no value to name, and a row's ranks count the keys it attends.
export function cellText(meta, panels, head) {
  const [attention, attribution, mask] = panels.map((panel) => panel.values);
  const rows = rowTokens(meta), seen = attends(meta);
  return (i, j) => {
    const where = `query ${rows[i]} (${i}) → key ${meta.tokens[j]} (${j})`;
    if (!seen(i, j)) return [where, STYLE.not_attended.hover];
    const b = attribution[i][j];
    let above = 0;
    for (const v of attribution[i]) if (v > b) above++;  // NaN (not attended) is never above
    const state = head === "mean"
      ? `dropped by ${Math.round(mask[i][j] * 100)}% of heads`
      : ["not a candidate", "candidate, kept", "candidate, dropped"][mask[i][j]];
    return [
      where,
      `attention    ${attention[i][j].toPrecision(4)}`,
      `attribution  ${b.toPrecision(4)}`,
      `rank         ${above + 1} of ${attendedCount(meta, i)} in the row (1 = highest)`,
      state,
    ];
  };
}

// n keys, m rows (m = n but for cross-attention).
export function setHover(figure, n, describe, m = n) {
  describers.set(figure, { n, m, describe });
}

// The cell under a pointer at (x, y) pixels in the figure, or null off the maps.
export function cellAt(figure, x, y) {
  const full = figure._fullLayout, hover = describers.get(figure);
  if (!full || !hover) return null;
  for (const name of Object.keys(full).filter((key) => /^xaxis\d*$/.test(key))) {
    const xa = full[name], ya = full[`yaxis${name.slice(5)}`];
    if (!ya || x < xa._offset || x > xa._offset + xa._length || y < ya._offset || y > ya._offset + ya._length) continue;
    const { n, m } = hover;
    const j = Math.round(xa.p2l(x - xa._offset)), i = Math.round(ya.p2l(y - ya._offset));
    if (i >= 0 && j >= 0 && i < m && j < n) return { i, j };
  }
  return null;
}

export function bindHover(figure) {
  if (figure.dataset.hoverBound) return;
  figure.dataset.hoverBound = "1";
  const tip = document.createElement("div");
  tip.className = "map-hover hidden";
  figure.parentElement.appendChild(tip);  // after the overlay canvas, which must follow the figure
  figure.addEventListener("mousemove", (event) => {
    const box = figure.getBoundingClientRect();
    const x = event.clientX - box.left, y = event.clientY - box.top;
    const cell = cellAt(figure, x, y);
    if (!cell) { tip.classList.add("hidden"); return; }
    tip.replaceChildren(...describers.get(figure).describe(cell.i, cell.j).map((line) => Object.assign(document.createElement("div"), { textContent: line })));
    tip.classList.remove("hidden");
    // beside the pointer, on the side with room
    const left = x + 14 + tip.offsetWidth > box.width ? x - 14 - tip.offsetWidth : x + 14;
    tip.style.left = `${Math.max(0, left)}px`;
    tip.style.top = `${Math.max(0, y + 14)}px`;
  });
  figure.addEventListener("mouseleave", () => tip.classList.add("hidden"));
  // A press and release in place on a cell is a click on it, told as Plotly's click event (what the other
  // views' listeners hear); Plotly itself reports clicks on trace points only, and these maps have none.
  // The release is heard on the window: Plotly lays a cover over the page while the button is down.
  figure.addEventListener("pointerdown", (down) => {
    const box = figure.getBoundingClientRect();
    const cell = cellAt(figure, down.clientX - box.left, down.clientY - box.top);
    if (!cell) return;
    window.addEventListener("pointerup", (up) => {
      if (Math.hypot(up.clientX - down.clientX, up.clientY - down.clientY) < 4) {
        figure.emit("plotly_click", { points: [{ x: cell.j, y: cell.i }], event: up });
      }
    }, { once: true });
  });
}
