// The model view: every layer and head of the shown input as a grid of small maps (grid.js), filtered by
// layer and head; a click on a map opens it in the layer view.

import { $, setStatus } from "../common/dom.js";
import { explainRequest } from "./api.js";
import { decodeAll } from "./decode.js";
import { debounce, setSegmented } from "./dom.js";
import { drawGrid } from "./grid.js";
import { parseIndexList } from "./matrix.js";
import { explainBody } from "./state.js";

// page: the session (session.js); address: the page's address; openLayer(layer, head) opens a map.
export function createModelView(page, { address, openLayer }) {
  const { state, sequence } = page;

  async function load() {
    if (!page.current) return;
    const id = ++sequence.grid;
    const quantity = state.grid === "mask" ? [] : [state.grid];
    setStatus("Computing every layer…");
    try {
      const started = performance.now();
      const payload = await explainRequest(Object.assign(explainBody(state, "a", page.tasks), { fields: quantity.concat(["candidate", "dropped"]) }));
      if (id !== sequence.grid) return;
      page.grid = { meta: payload, maps: decodeAll(payload), quantity: state.grid };
      show();
      setStatus(`All ${payload.num_layers} layers × ${payload.num_heads} heads in ${Math.round(performance.now() - started)} ms.`);
    } catch (error) {
      if (id === sequence.grid) setStatus(error.message, true);
    }
  }

  function show() {
    if (!page.grid) return;
    let layers, heads;
    try {
      layers = parseIndexList(state.layers, page.grid.meta.num_layers, "Layers");
      heads = parseIndexList(state.heads, page.grid.meta.num_heads, "Heads");
      $("filter-error").textContent = "";
    } catch (error) {
      $("filter-error").textContent = error.message;
      return;
    }
    drawGrid($("grid"), page.grid, layers, heads, { layer: Number(state.layer), head: state.head }, openLayer, state.colour);
  }

  document.querySelectorAll("#grid-quantity button").forEach((button) => button.addEventListener("click", () => {
    state.grid = button.dataset.value; setSegmented("grid-quantity", state.grid); address.write();
    if (page.grid && (state.grid === "mask" || page.grid.maps[state.grid])) { page.grid.quantity = state.grid; show(); } else load();
  }));
  const filter = debounce(() => { state.layers = $("layer-filter").value; state.heads = $("head-filter").value; address.write(); show(); }, 200);
  $("layer-filter").addEventListener("input", filter);
  $("head-filter").addEventListener("input", filter);
  return { load, show };
}
