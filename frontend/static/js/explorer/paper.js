// The "figure for a paper": the paper's Figure 1 layout for one input, one layer and one head: (a) attention,
// (b) attribution, (c) the candidate discard region, (d) the dropped positions, at the definition's fixed
// width in its fixed fonts, in the default or the colour-blind-safe palette.  Drawn as Plotly traces and
// shapes, so that Plotly writes it as SVG (text, outlines and marks as vectors; the maps as images).

import { STYLE } from "../common/figure-style.js";
import { captionFigure, figureTitle, viewFacts } from "./captions.js";
import { COLORS, attentionPanel, attributionPanel, panelFigure } from "./figures.js";
import { colourBarTitle } from "./legends.js";
import { matrix } from "./matrix.js";
import { PALETTES } from "./state.js";

// The scales and colours of a palette (addrop.viz.maps.palette_of).
export function paletteOf(name) {
  if (!PALETTES.includes(name)) throw new Error(`unknown palette ${name}`);
  return name === "colour-blind" ? STYLE.colour_blind : { scales: STYLE.scales, colours: COLORS };
}

// A map of 0/1 cells in two colours (the palette's mask colours: kept, and on), with no colour bar: its title
// says what the coloured cells are.
function binaryPanel(z, title, off, on) {
  return { z, values: z, label: title, title, trace: { colorscale: [[0, off], [1, on]], zmin: 0, zmax: 1, showscale: false } };
}

// {data, layout, title} of the paper figure for side (the explorer's {meta, layer, maps}) and a head.
export function paperFigure(side, head, { scale = "max", palette = "default" } = {}) {
  if (head === "mean") throw new Error("the figure for a paper shows one head: choose a head, not the mean");
  const paper = STYLE.paper, colours = paletteOf(palette);
  const meta = Object.assign({}, side.meta, { layer: side.layer });
  const candidate = matrix(side.maps.candidate, 0, head), dropped = matrix(side.maps.dropped, 0, head);
  const [a, b, c, d] = paper.panels;
  const [kept, candidateColour, droppedColour] = colours.scales.mask_levels;
  const panels = [
    attentionPanel(matrix(side.maps.attention, 0, head), a, { scale, colorscale: colours.scales.attention }),
    Object.assign(attributionPanel(matrix(side.maps.attribution, 0, head), b, meta.method, { scale, colorscale: colours.scales.attribution }),
      { region: candidate }),
    binaryPanel(candidate, c, kept, candidateColour),
    binaryPanel(dropped, d, kept, droppedColour),
  ];
  const figure = panelFigure(meta, panels, paper.width, "plotly", { colours: colours.colours, rowLabels: "first" });
  const title = figureTitle(viewFacts(meta, head, "paper"));
  const layout = figure.layout;
  const font = { family: paper.font, size: paper.font_size, color: STYLE.fonts.ink };
  Object.assign(layout, { width: paper.width, font });
  for (const name of Object.keys(layout).filter((key) => /^[xy]axis\d*$/.test(key))) {
    layout[name].tickfont = { family: paper.font, size: paper.label_size, color: STYLE.fonts.ink };
    if (layout[name].title) layout[name].title.font = { family: paper.font, size: paper.font_size, color: STYLE.fonts.muted };
  }
  layout.annotations.forEach((annotation) => { annotation.font = { family: paper.font, size: paper.title_size, color: STYLE.fonts.ink }; });
  for (const trace of figure.data) {
    if (!trace.colorbar || !trace.colorbar.title) continue;
    trace.colorbar.tickfont = { family: paper.font, size: paper.label_size };
    trace.colorbar.title = Object.assign(colourBarTitle(trace.colorbar.title.text), { font: { family: paper.font, size: paper.label_size, color: STYLE.fonts.muted } });
  }
  captionFigure(figure, title, "", { family: paper.font, size: paper.title_size });
  return Object.assign(figure, { title });
}
