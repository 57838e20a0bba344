// The compare view: side A's layer beside side B's (another model, another input, or both), with B − A
// (compare.js builds the figures).

import { $, setStatus } from "../common/dom.js";
import { explainRequest } from "./api.js";
import { compareFigure } from "./compare.js";
import { setSegmented } from "./dom.js";
import { PLOT_CONFIG } from "./figures.js";
import { followFigure, paintOverlays } from "./overlay.js";
import { sideOf } from "./session.js";
import { explainBody } from "./state.js";

// page: the session (session.js); address: the page's address (address.js).
export function createCompareView(page, { address }) {
  const { state, sequence } = page;

  async function load() {
    if (!page.current) return;
    const id = ++sequence.compare;
    setStatus("Computing B…");
    try {
      const body = Object.assign(explainBody(state, "b"), { layers: [page.current.layer] });
      const payload = await explainRequest(body);
      if (id !== sequence.compare || !page.current) return;
      page.compare = { a: page.current, b: sideOf(payload, body) };
      await draw();
      setStatus(`B explained with ${payload.model}.`);
    } catch (error) {
      if (id === sequence.compare) setStatus(`B: ${error.message}`, true);
    }
  }

  async function draw() {
    if (!page.compare) return;
    const figure = $("compare-figure");
    const built = compareFigure(page.compare, state.cq, state.head, state.scales === "shared", figure.clientWidth, "canvas", state.colour);
    $("compare-note").textContent = built.note;
    await Plotly.react(figure, built.data, built.layout, PLOT_CONFIG);
    followFigure(figure);
    paintOverlays(figure, built.overlays);
    // Inputs that tokenise differently get B − A over their shared tokens as a figure of its own (its axes
    // are those tokens, not either side's).
    const aligned = $("compare-aligned-figure");
    aligned.classList.toggle("hidden", !built.aligned);
    if (built.aligned) await Plotly.react(aligned, built.aligned.data, built.aligned.layout, PLOT_CONFIG);
    else Plotly.purge(aligned);
  }

  document.querySelectorAll("#compare-quantity button").forEach((button) => button.addEventListener("click", () => {
    state.cq = button.dataset.value; setSegmented("compare-quantity", state.cq); address.write(); draw();
  }));
  $("own-scales").addEventListener("change", () => {
    state.scales = $("own-scales").checked ? "own" : "shared"; address.write(); draw();
  });
  $("compare-button").addEventListener("click", () => {
    state.model_b = $("model-b").value === state.model ? "" : $("model-b").value;
    state.text_b = $("text-b").value; state.pair_b = $("text-pair-b").value;
    address.write(); load();
  });
  return { load, draw };
}
