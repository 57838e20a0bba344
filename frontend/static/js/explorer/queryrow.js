// The text view's query on the layer view's maps: a click on a cell picks its row, and that row is
// outlined across every map, so the words and the maps visibly read the same row.

import { el } from "../common/dom.js";
import { followView } from "./follow.js";

const shown = new WeakMap();  // figure -> the query outlined on it

export function followQueryClicks(figure, onSelect) {
  if (figure.dataset.queryBound) return;
  figure.dataset.queryBound = "1";
  figure.on("plotly_click", (event) => {
    const point = event.points && event.points[0];
    if (point && Number.isInteger(point.y)) onSelect(point.y);
  });
  // zoom, pan and resizes move the rows
  followView(figure, () => { if (shown.has(figure)) markQueryRow(figure, shown.get(figure)); });
}

export function markQueryRow(figure, query) {
  shown.set(figure, query);
  const stack = figure.parentElement;
  stack.querySelectorAll(":scope > .query-row").forEach((mark) => mark.remove());
  const layout = figure._fullLayout;
  if (!layout) return;
  for (let k = 0; layout[`yaxis${k ? k + 1 : ""}`]; k++) {
    const xa = layout[`xaxis${k ? k + 1 : ""}`], ya = layout[`yaxis${k ? k + 1 : ""}`];
    const [a, b] = [ya.l2p(query - 0.5), ya.l2p(query + 0.5)];
    const top = Math.max(0, Math.min(a, b)), bottom = Math.min(ya._length, Math.max(a, b));
    if (bottom <= top) continue;  // zoomed away from the row
    const mark = el("div", { class: "query-row" });
    Object.assign(mark.style, {
      left: `${xa._offset - 4}px`, top: `${ya._offset + top - 2}px`, width: `${xa._length + 8}px`, height: `${bottom - top + 4}px`,
    });
    mark.dataset.query = query;
    stack.appendChild(mark);
  }
}
