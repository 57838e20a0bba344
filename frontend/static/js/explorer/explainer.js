// Side A's answers: the shown layer of the input (from the page when held, else from the server), the
// other layers fetched once the page rests, and new masks when p, q, mode or seed move.

import { $, setStatus } from "../common/dom.js";
import { explainRequest } from "./api.js";
import { showTaskControls } from "./controls.js";
import { decode, decodeAll } from "./decode.js";
import { debounce } from "./dom.js";
import { LayerCache } from "./layercache.js";
import { sideOf } from "./session.js";
import { explainBody } from "./state.js";
import { addChange, showSummary } from "./summary.js";
import { rowTokens } from "./text.js";

// page: the session (session.js); address: the page's address; the views an answer redraws; tabs (tabs.js).
export function createExplainer(page, { address, layerView, modelView, compareView, tabs }) {
  const { state, sequence, tasks } = page;

  async function loadLayer() {
    if (!state.text.trim()) { setStatus("Type a sentence to explain.", true); return; }
    const id = ++sequence.layer;
    sequence.masks++;
    setStatus("Computing attribution…");
    $("explain-button").disabled = true;
    const started = performance.now();
    try {
      const body = Object.assign(explainBody(state, "a", tasks), { layers: [Number(state.layer)] });
      if (filling.layers && filling.holds(body) && filling.layers.includes(Number(state.layer))) {
        await filling.done;
        if (id !== sequence.layer) return;
      }
      const held = layerCache.find(body, Number(state.layer));
      if (held) {
        // the input is shown already: only the layer changes
        page.current = { meta: held.meta, layer: Number(state.layer), maps: held.maps, input: { text: body.text, text_pair: body.text_pair } };
        if (state.view === "layer") await layerView.draw();
        setStatus(`Explained in ${Math.round(performance.now() - started)} ms (layer already on the page).`);
        page.grid = null; page.compare = null;
        if (state.view === "model") modelView.load();
        if (state.view === "compare") compareView.load();
        return;
      }
      const payload = await explainRequest(body);
      if (id !== sequence.layer) return;
      if (state.head !== "mean" && !(Number(state.head) < payload.num_heads)) {
        addChange(`${payload.model} has ${payload.num_heads} heads (0–${payload.num_heads - 1}): head ${state.head} does not exist, head 0 is shown.`);
        state.head = "0"; address.write();
      }
      if (state.query >= rowTokens(payload).length) state.query = 0;
      tasks[payload.model] = payload.task;
      showTaskControls(page, tabs.show);
      page.current = sideOf(payload, body);
      layerCache.keep(body, payload, page.current.maps);
      fillLayersSoon();
      showSummary(payload, state);
      if (state.view === "layer") await layerView.draw();
      const reused = payload.cached ? " (attribution reused from an earlier request)" : "";
      setStatus(`Explained in ${Math.round(performance.now() - started)} ms${reused}.`);
      page.grid = null;
      page.compare = null;
      if (state.view === "model") modelView.load();
      if (state.view === "compare") compareView.load();
    } catch (error) {
      if (id !== sequence.layer) return;
      if (error.status === 422 && Number(state.layer) > 0 && /^layer \d+ does not exist/.test(error.message)) {
        // a link to a layer the model lacks: say so and show layer 0 rather than no maps and no layer selector
        addChange(`The link's ${error.message}; layer 0 is shown.`);
        state.layer = 0; address.write(); loadLayer();
        return;
      }
      setStatus(error.message, true);
    } finally {
      if (id === sequence.layer) $("explain-button").disabled = false;
    }
  }

  // The other layers of the shown input, asked for once the page rests, so that a layer change then draws
  // from the page: one request brings all of them (GA's backward reaches every layer anyway, so the server
  // computes them all for about the cost of one), or after a p/q move only their new masks.
  const layerCache = new LayerCache();
  let filling = { layers: null };
  const fillLayersSoon = debounce(fillLayers, 400);
  async function fillLayers() {
    if (!page.current || filling.layers) return;
    const body = explainBody(state, "a", tasks);
    const { layers, mapsHeld } = layerCache.missing(body, page.current.meta.num_layers);
    if (!layers.length) return;
    const request = Object.assign({}, body, { layers }, mapsHeld ? { fields: ["candidate", "dropped"] } : {});
    filling = { layers, holds: (other) => layerCache.holds(other) && JSON.stringify(explainBody(state, "a", tasks)) === JSON.stringify(body) };
    // A fill that fails costs nothing: a layer change then asks for its own layer.
    filling.done = explainRequest(request).then((payload) => {
      if (layerCache.holds(body)) layerCache.keep(body, payload, decodeAll(payload));
      fillLayersSoon();  // p or q may have moved meanwhile: their masks are the next to fetch
    }).catch(() => {}).finally(() => { filling = { layers: null }; });
  }

  // p, q, mode or seed moved: only the masks change, and the server reuses the attribution.  One request
  // is in flight at a time and the newest setting is asked for when it returns, so a drag neither queues
  // stale requests nor waits on a debounce before the first one.
  const masks = { busy: false, again: false };
  async function reloadMasks() {
    if (!page.current) return;
    if (masks.busy) { masks.again = true; return; }
    masks.busy = true;
    try {
      do {
        masks.again = false;
        await fetchMasks();
      } while (masks.again && page.current);
    } finally {
      masks.busy = false;
    }
  }

  async function fetchMasks() {
    const id = ++sequence.masks;
    try {
      const started = performance.now();
      const payload = await explainRequest(Object.assign(explainBody(state, "a", tasks), {
        layers: [page.current.layer], fields: ["candidate", "dropped"],
      }));
      if (id !== sequence.masks || !page.current) return;
      page.current.maps.candidate = decode(payload.candidate);
      page.current.maps.dropped = decode(payload.dropped);
      Object.assign(page.current.meta, { p: payload.p, q: payload.q, mode: payload.mode, seed: payload.seed });
      layerCache.keep(explainBody(state, "a", tasks), payload, { candidate: page.current.maps.candidate, dropped: page.current.maps.dropped });
      fillLayersSoon();
      if (state.view === "layer") layerView.draw();
      setStatus(`Masks redrawn in ${Math.round(performance.now() - started)} ms (no new forward pass).`);
      address.writeSoon();
      if (state.view === "model" && page.grid) modelView.load();
      if (state.view === "compare" && page.compare) compareView.load();
    } catch (error) {
      if (id === sequence.masks) setStatus(error.message, true);
    }
  }

  return { loadLayer, reloadMasks };
}
