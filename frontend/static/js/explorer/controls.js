// The explorer's form: the input and its settings (model, kind of map, method, mode, p, q, seed, steps) and the
// view bar's layer, head, focus and colours.  They show the state (syncControls), and a change to one sets the
// state, writes the address and asks for what it changes.

import { $, setStatus } from "../common/dom.js";
import { listModels } from "./api.js";
import { modelOptions } from "./answertext.js";
import { fillSelect, setSegmented } from "./dom.js";
import { translating } from "./session.js";
import { clampNumber } from "./state.js";
import { noteTyped } from "./summary.js";

// The controls that differ for a translation model: a reference instead of a second sentence, the kind of map;
// no compare or walk-through (they are told for one classifier input).  showView(view) switches views.
export function showTaskControls(page, showView) {
  const translation = translating(page);
  $("text-label").textContent = translation ? "Source sentence" : "Sentence";
  $("pair-field").classList.toggle("hidden", translation);
  $("reference-field").classList.toggle("hidden", !translation);
  $("kind-field").classList.toggle("hidden", !translation);
  document.querySelector('#view button[data-value="compare"]').classList.toggle("hidden", translation);
  $("walkthrough-open").classList.toggle("hidden", translation);
  if (translation && page.state.view === "compare") showView("layer");
}

// Every control shows state.
export function syncControls(state) {
  $("text").value = state.text;
  $("text-pair").value = state.pair;
  $("reference").value = state.reference;
  setSegmented("kind", state.kind || "encoder");
  $("p").value = state.p; $("p-value").textContent = Number(state.p).toFixed(2);
  $("q").value = state.q; $("q-value").textContent = Number(state.q).toFixed(2);
  $("seed").value = state.seed;
  $("steps").value = state.steps;
  $("steps-field").classList.toggle("hidden", state.method !== "IGA");
  $("text-b").value = state.text_b;
  $("text-pair-b").value = state.pair_b;
  $("layer-filter").value = state.layers;
  $("head-filter").value = state.heads;
  $("own-scales").checked = state.scales === "own";
  if ($("model").querySelector(`option[value="${CSS.escape(state.model)}"]`)) $("model").value = state.model;
  if ($("model-b").querySelector(`option[value="${CSS.escape(state.model_b || state.model)}"]`)) $("model-b").value = state.model_b || state.model;
  if ($("layer").options.length) $("layer").value = String(state.layer);
  if ($("head").options.length) $("head").value = String(state.head);
  $("focus").value = state.focus;
  $("colour-scale").value = state.colour;
  $("palette").value = state.palette;
  $("zoomed-field").classList.toggle("hidden", !state.focus);
  setSegmented("method", state.method);
  setSegmented("mode", state.mode);
  setSegmented("view", state.view);
  setSegmented("grid-quantity", state.grid);
  setSegmented("compare-quantity", state.cq);
}

// The server's models fill both model selectors (A's and B's), and each model's task is remembered.
export async function loadModels(page, showView) {
  const { state } = page;
  try {
    const models = await listModels();
    const options = modelOptions(models, state.model);
    fillSelect($("model"), options, state.model);
    fillSelect($("model-b"), options, state.model_b || state.model);
    models.forEach((m, i) => { $("model").options[i].title = m.description; if (m.task) page.tasks[m.name] = m.task; });
    showTaskControls(page, showView);
  } catch (error) {
    setStatus(`Could not list models: ${error.message}`, true);
  }
}

// page: the session (session.js); address: the page's address; explainer (explainer.js); the views that the
// view bar's controls redraw; tabs (tabs.js).
export function bindControls(page, { address, explainer, layerView, modelView, compareView, tabs }) {
  const { state } = page;
  const { loadLayer, reloadMasks } = explainer;
  $("explain-button").addEventListener("click", () => {
    state.text = $("text").value; state.pair = $("text-pair").value; state.reference = $("reference").value;
    address.write(); loadLayer();
  });
  for (const id of ["text", "text-pair", "reference"]) {
    $(id).addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("explain-button").click();
    });
  }
  $("model").addEventListener("change", () => {
    state.model = $("model").value; showTaskControls(page, tabs.show); address.write(); if (page.current) loadLayer();
  });
  // Another kind of map is another attribution: its layers, and its rows (the query) start over.
  document.querySelectorAll("#kind button").forEach((button) => button.addEventListener("click", () => {
    state.kind = button.dataset.value === "encoder" ? "" : button.dataset.value;
    state.layer = 0; state.query = 0;
    setSegmented("kind", button.dataset.value); address.write();
    if (page.current) loadLayer();
  }));
  for (const id of ["method", "mode"]) {
    document.querySelectorAll(`#${id} button`).forEach((button) => button.addEventListener("click", () => {
      state[id] = button.dataset.value;
      syncControls(state); address.write();
      if (!page.current) return;
      if (id === "method") loadLayer(); else reloadMasks();
    }));
  }
  for (const id of ["p", "q"]) {
    $(id).addEventListener("input", () => {
      state[id] = Number($(id).value);
      $(`${id}-value`).textContent = state[id].toFixed(2);
      if (page.current) reloadMasks(); else address.write();
    });
  }
  $("seed").addEventListener("change", () => {
    state.seed = clampNumber(parseInt($("seed").value, 10), 0, 4294967295, 0);
    noteTyped("seed", $("seed").value, state.seed);
    syncControls(state); address.write();
    if (state.method === "RD") loadLayer(); else reloadMasks();
  });
  $("steps").addEventListener("change", () => {
    state.steps = clampNumber(parseInt($("steps").value, 10), 1, 100, 20);
    noteTyped("steps", $("steps").value, state.steps);
    syncControls(state); address.write(); if (page.current) loadLayer();
  });
  $("layer").addEventListener("change", () => { state.layer = Number($("layer").value); address.writeSoon(); loadLayer(); });
  $("colour-scale").addEventListener("change", () => {
    state.colour = $("colour-scale").value; address.write();
    if (state.view === "layer") layerView.draw();
    if (state.view === "model") modelView.show();
    if (state.view === "compare") compareView.draw();
  });
  $("palette").addEventListener("change", () => { state.palette = $("palette").value; address.write(); });
  $("focus").addEventListener("change", () => {
    state.focus = $("focus").value; state.zoom = ""; address.writeSoon();
    $("zoomed-field").classList.toggle("hidden", !state.focus);
    if (state.view === "layer") layerView.draw();
  });
  $("head").addEventListener("change", () => {
    state.head = $("head").value; address.writeSoon();
    if (state.view === "layer") layerView.draw();
    if (state.view === "model") modelView.show();
    if (state.view === "compare") compareView.draw();
  });
}
