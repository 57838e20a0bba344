// Which of the three views shows (layer, model, compare): its tab, its panel, the exports it offers, and
// drawing it from what the page holds or asking for what it lacks.

import { $ } from "../common/dom.js";
import { setSegmented } from "./dom.js";
import { GRID_FORMATS } from "./grid.js";

// page: the session (session.js); address: the page's address; the three views (layerview.js, modelview.js,
// compareview.js).
export function createTabs(page, { address, layerView, modelView, compareView }) {
  const { state } = page;

  function show(view) {
    state.view = view;
    $("layer-view").classList.toggle("hidden", view !== "layer");
    $("model-view").classList.toggle("hidden", view !== "model");
    $("compare-view").classList.toggle("hidden", view !== "compare");
    // the model view is a grid of canvases: it exports as one image
    document.querySelectorAll("[data-export]").forEach((button) => {
      button.classList.toggle("hidden", view === "model" && !GRID_FORMATS.includes(button.dataset.export));
    });
    setSegmented("view", view);
    if (view === "layer") layerView.draw();
    if (view === "model") { if (page.grid && page.grid.quantity === state.grid) modelView.show(); else modelView.load(); }
    if (view === "compare") { if (page.compare) compareView.draw(); else compareView.load(); }
    window.dispatchEvent(new Event("resize"));
  }

  document.querySelectorAll("#view button").forEach((button) => button.addEventListener("click", () => {
    show(button.dataset.value); address.write();
  }));
  return { show };
}
