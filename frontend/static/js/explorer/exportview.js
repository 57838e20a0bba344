// The export bar: saves the shown view as PNG, SVG, JSON, CSV, standalone HTML or the paper's figure (SVG or PDF), with
// a title and a file name that say what it is (captions.js); and copies a link to the view.

import { $, download, setStatus } from "../common/dom.js";
import { captionFigure, exportFacts, fileName, figureTitle, viewFacts } from "./captions.js";
import { compareFigure } from "./compare.js";
import { STANDALONE_PLOTLY, compareCsv, compareMatrices, standaloneHtml, viewCsv, viewMatrices } from "./exports.js";
import { layerPanels, panelFigure, shownPanels, zoomWindow } from "./figures.js";
import { GRID_FORMATS, gridPng, gridSvg } from "./grid.js";
import { paperFigure } from "./paper.js";
import { svgToPdf } from "./pdf.js";
import { atLayer } from "./session.js";
import { parseZoom } from "./state.js";
import { rowTokens } from "./text.js";

// page: the session (session.js).
export function createExporter(page) {
  const { state } = page;

  // What the exports of the shown view say they are: model (A's and B's when comparing), input, layer, head,
  // method, p, q, mode, seed; a zoomed export names its window.
  function facts(window) {
    const compare = state.view === "compare" && page.compare ? { quantity: state.cq, model: page.compare.b.meta.model } : null;
    return exportFacts(atLayer(page.current), state.head, { focus: state.focus, compare, window });
  }

  // The zoomed window of the focused map, when the export is asked for it.
  function zoomedWindow() {
    if (state.view !== "layer" || !state.focus || !$("export-zoomed").checked) return null;
    return zoomWindow(parseZoom(state.zoom), page.current.meta.tokens.length, rowTokens(page.current.meta).length);
  }

  // The shown figure with its overlays as Plotly traces, so an image or a standalone page carries them, and a
  // title that says what it is.
  function figureOf(shown, window) {
    let figure;
    if (state.view === "compare") {
      if (!page.compare) return null;
      figure = compareFigure(page.compare, state.cq, state.head, state.scales === "shared", $("compare-figure").clientWidth, "plotly", state.colour);
    } else {
      const meta = atLayer(page.current);
      figure = panelFigure(meta, shownPanels(layerPanels(meta, page.current.maps, 0, state.head, state.colour), state.focus),
        $("layer-figure").clientWidth, "plotly", { window });
    }
    const note = figure.marked === false ? "cells too small for outlines and marks: the mask panel shows every candidate and drop" : "";
    return captionFigure(figure, figureTitle(shown), note, { size: 13 });
  }

  // The paper figure as SVG, or as PDF ("pdf": the same SVG drawn into a PDF page, pdf.js); its file's name.
  async function exportPaper(format) {
    const figure = paperFigure(page.current, state.head, { scale: state.colour, palette: state.palette });
    const name = fileName(viewFacts(atLayer(page.current), state.head, "paper"));
    const { width, height } = figure.layout;
    const url = await Plotly.toImage(figure, { format: "svg", width, height });
    if (format === "pdf") {
      setStatus("Drawing the PDF…");
      const svg = await (await fetch(url)).text();
      download(await svgToPdf(svg, width, height), "application/pdf", `${name}.pdf`);
    } else {
      download(await (await fetch(url)).blob(), "image/svg+xml", `${name}.svg`);
    }
    return `${name}.${format}`;
  }

  async function exportAs(format) {
    if (!page.current) return;
    if (state.view === "model") {
      if (!GRID_FORMATS.includes(format)) return;
      const image = format === "png" ? await gridPng($("grid")) : gridSvg($("grid"));
      if (image) {
        const gridFacts = Object.assign(viewFacts(page.grid.meta, state.head, `model-view-${state.grid}`), { short: "all-layers" });
        download(image, format === "png" ? "image/png" : "image/svg+xml", `${fileName(gridFacts)}.${format}`);
        setStatus(`Saved the model view as ${format.toUpperCase()}.`);
      }
      return;
    }
    const comparing = state.view === "compare";
    try {
      if (format === "paper" || format === "paper-pdf") {
        setStatus(`Saved ${await exportPaper(format === "paper" ? "svg" : "pdf")}.`);
        return;
      }
      const window = zoomedWindow();
      const shown = facts(window);
      const name = fileName(shown);
      if (format === "json") {
        const views = comparing ? page.compare && compareMatrices(page.compare, state.head) : viewMatrices(page.current, state.head);
        if (!views) return;
        download(JSON.stringify(views), "application/json", `${name}.json`);
      } else if (format === "csv") {
        if (comparing && !page.compare) return;
        download(comparing ? compareCsv(compareMatrices(page.compare, state.head)) : viewCsv(viewMatrices(page.current, state.head)), "text/csv", `${name}.csv`);
      } else {
        const figure = figureOf(shown, window);
        if (!figure) return;
        if (format === "html") {
          const library = await (await fetch(STANDALONE_PLOTLY)).text();
          download(standaloneHtml(library, figure, figureTitle(shown)), "text/html", `${name}.html`);
        } else {
          const width = (comparing ? $("compare-figure") : $("layer-figure")).clientWidth;
          const url = await Plotly.toImage(figure, { format, width, height: figure.layout.height, scale: format === "png" ? 2 : 1 });
          download(await (await fetch(url)).blob(), format === "png" ? "image/png" : "image/svg+xml", `${name}.${format}`);
        }
      }
      setStatus(`Saved ${name}.${format}.`);
    } catch (error) {
      setStatus(`Export failed: ${error.message}`, true);
    }
  }

  document.querySelectorAll("[data-export]").forEach((button) => button.addEventListener("click", () => exportAs(button.dataset.export)));
  $("copy-link").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(location.href); setStatus("Link to this view copied."); } catch (error) { setStatus(location.href); }
  });
}
