// The layer view: one layer's three maps (or one, in focus mode), the text view of the chosen query's row,
// and the walk-through, which reads both.

import { $ } from "../common/dom.js";
import { STYLE } from "../common/figure-style.js";
import { axesLegend, layerNote } from "./answertext.js";
import { debounce } from "./dom.js";
import { layerPanels, shownPanels } from "./figures.js";
import { cellText } from "./hover.js";
import { mapsFigure, showMaps } from "./mapview.js";
import { followQueryClicks, markQueryRow } from "./queryrow.js";
import { atLayer } from "./session.js";
import { parseZoom } from "./state.js";
import { hatchBackground } from "./salience.js";
import { rowTokens } from "./text.js";
import { renderTextView } from "./textview.js";
import { createWalkthrough } from "./tour.js";
import { walkthroughFacts } from "./walkthrough.js";

// page: the session (session.js); address: the page's address (address.js); showView(view) switches views.
export function createLayerView(page, { address, showView }) {
  const { state } = page;
  const walkthrough = createWalkthrough($("walkthrough"),
    () => page.current && walkthroughFacts(atLayer(page.current), page.current.maps, state.head, state.query,
      !document.querySelector("#layer-figure + canvas.map-overlay[data-marked='no']")),
    showAllMaps);

  // Plotly draws the axes only when the tokens, the width or the focus change; the maps themselves (layer,
  // head, p, q) are painted on the canvas above them (mapview.js).
  async function draw() {
    if (!page.current) return;
    const figure = $("layer-figure");
    const meta = atLayer(page.current);
    const panels = layerPanels(meta, page.current.maps, 0, state.head, state.colour);
    const built = mapsFigure(meta, shownPanels(panels, state.focus), figure.clientWidth);
    showText();
    await showMaps(figure, built, {
      key: [meta.tokens.join("\u0001"), rowTokens(meta).join("\u0001"), figure.clientWidth, state.focus].join("|"),
      n: meta.tokens.length, m: rowTokens(meta).length,
      describe: cellText(meta, panels, state.head), zoom: parseZoom(state.zoom),
      onZoom: state.focus ? (zoom) => { state.zoom = zoom.join(","); address.writeSoon(); } : null,
    });
    followQueryClicks(figure, selectQuery);
    markQueryRow(figure, state.query);
    walkthrough.refresh();
    showMaskText(meta);
    // Over the mean of heads there is no single candidate region or drop to outline or mark.
    $("legend-region").classList.toggle("hidden", state.head === "mean");
    $("legend-drop").classList.toggle("hidden", state.head === "mean");
    // a causal map's later keys: blank under a hatch, named as the hover names them
    $("legend-unattended").classList.toggle("hidden", !meta.causal);
    $("legend-unattended").querySelector(".swatch").style.background = hatchBackground();
    $("legend-unattended").querySelector(".legend-text").textContent = STYLE.not_attended.hover;
    $("axes-legend").textContent = axesLegend(meta);
    $("layer-note").textContent = layerNote(meta);
  }

  function showMaskText(meta) {
    document.querySelectorAll(".p-text").forEach((el) => { el.textContent = `${Math.round(meta.p * 100)}%`; });
    document.querySelectorAll(".q-text").forEach((el) => { el.textContent = String(meta.q); });
  }

  // The text view and the walk-through read the shown layer's maps and the chosen query's row, so they
  // follow every redraw.
  function showText() {
    if (!page.current) return;
    renderTextView($("text-view"), { meta: atLayer(page.current), maps: page.current.maps, head: state.head, query: state.query }, selectQuery);
    markQueryRow($("layer-figure"), state.query);
    walkthrough.refresh();
  }

  function selectQuery(query) {
    state.query = query;
    address.write();
    showText();
  }

  // The walk-through points at all three maps of the layer view.
  function showAllMaps() {
    const focused = Boolean(state.focus);
    state.focus = ""; state.zoom = ""; $("focus").value = "";
    if (state.view !== "layer") showView("layer");
    else if (focused) draw();
    address.write();
  }

  $("walkthrough-open").addEventListener("click", () => walkthrough.open());
  window.addEventListener("resize", debounce(() => walkthrough.refresh(), 250));
  return { draw };
}
