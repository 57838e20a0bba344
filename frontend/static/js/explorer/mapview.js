// The layer view's figure.  Plotly draws the axes, token labels and titles, and only when the tokens, the
// width or the maps shown change; every map's cells, colour bar, outline and marks are painted on the
// canvas above it, so a layer, head or p/q change makes no Plotly call (a Plotly.react of three 128-token
// heatmaps took seconds on a loaded machine).  In focus mode the canvas paints the token labels too,
// thinned for the cell size at every zoom and pan, so those make no Plotly label measuring either.

import { PLOT_CONFIG, panelFigure } from "./figures.js";
import { bindHover, setHover } from "./hover.js";
import { imageOverlays } from "./mapimage.js";
import { followFigure, paintOverlays } from "./overlay.js";
import { rowSpecial, rowTokens } from "./text.js";

const shown = new WeakMap();  // figure -> {key, onZoom}

const axisNames = (layout) => Object.keys(layout).filter((key) => /^[xy]axis\d*$/.test(key));

// The figure for panels (one in focus mode) with token labels for its size (figures.js thins them so they
// never collide; they stay as they are when one of three maps is zoomed: Plotly measures every label it draws,
// which at 128 tokens made each zoom cost half a second more; focus mode is the place to zoom); overlays to paint.
export function mapsFigure(meta, panels, pixelWidth) {
  // the last map's colour bar is painted in the right margin: the room Plotly made for its own bar
  const bar = 60;
  const built = panelFigure(meta, panels, pixelWidth - bar, "image");
  const layout = built.layout;
  layout.margin = Object.assign({}, layout.margin, { r: layout.margin.r + bar });
  layout.hovermode = false;
  layout.dragmode = panels.length === 1 ? "pan" : "zoom";
  const rows = rowTokens(meta);
  built.overlays = imageOverlays(meta, panels);
  if (panels.length === 1) {
    // one map, to zoom and pan: the canvas paints its token labels, thinned for the cell size at each repaint
    for (const name of axisNames(layout)) Object.assign(layout[name], { showticklabels: false, tickvals: [] });
    // room for the longest labels (14 characters), with the axis titles beyond them
    Object.assign(layout.margin, { l: layout.margin.l + 40, b: layout.margin.b + 24 });
    layout.xaxis.title.standoff = 80;
    layout.yaxis.title.standoff = 100;
    built.overlays[0].labels = { tokens: meta.tokens, special: meta.special,
      rows: meta.query_tokens ? { tokens: rows, special: rowSpecial(meta) } : null };
  }
  return built;
}

// The shown ranges of the first map, as a zoom to keep: [x0, x1, y0, y1].
function ranges(figure) {
  const full = figure._fullLayout;
  return full.xaxis.range.concat(full.yaxis.range).map((v) => Math.round(v * 100) / 100);
}

function followZoom(figure) {
  figure.on("plotly_relayout", (update) => {
    const info = shown.get(figure);
    if (info && info.onZoom && Object.keys(update).some((key) => key.includes("range"))) info.onZoom(ranges(figure));
  });
}

// A title changed (layer, head, p or q): rewritten in place, and in the layout for Plotly's next redraw,
// since Plotly.relayout of an annotation redraws the whole figure.
function retitle(figure, annotations) {
  const drawn = figure.querySelectorAll(".annotation-text");
  annotations.forEach((annotation, k) => {
    if (figure.layout.annotations[k]) figure.layout.annotations[k].text = annotation.text;
    if (drawn[k] && drawn[k].textContent !== annotation.text) drawn[k].textContent = annotation.text;
  });
}

// Shows built on figure.  key names what the axes depend on; zoom ([x0, x1, y0, y1]) is applied after the
// first draw, so that a double click still returns to the whole map; onZoom hears every zoom and pan.
export async function showMaps(figure, built, { key, n, m = n, describe, zoom, onZoom }) {
  const before = shown.get(figure);
  if (!before || before.key !== key || !figure._fullLayout) {
    shown.set(figure, { key, onZoom: null });
    const config = Object.assign({}, PLOT_CONFIG, { scrollZoom: built.data.length === 1, doubleClick: "reset" });
    // Plotly's resize on a window resize (a full-page screenshot makes one) takes its height from the
    // element; without a height of its own the element shrank the maps to a third.
    figure.style.height = `${built.layout.height}px`;
    await Plotly.react(figure, built.data, built.layout, config);
    followFigure(figure);
    bindHover(figure);
    if (!figure.dataset.zoomBound) { figure.dataset.zoomBound = "1"; followZoom(figure); }
    if (zoom) await Plotly.relayout(figure, { "xaxis.range": zoom.slice(0, 2), "yaxis.range": zoom.slice(2, 4) });
  } else {
    retitle(figure, built.layout.annotations);
  }
  shown.get(figure).onZoom = onZoom;
  setHover(figure, n, describe, m);
  paintOverlays(figure, built.overlays);
}
