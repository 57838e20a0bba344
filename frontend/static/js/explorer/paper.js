// The "figure for a paper": the paper's Figure 1 layout for one input, one layer and one head: (a) attention,
// (b) attribution, (c) the candidate discard region, (d) the dropped positions, two maps by two, drawn in points
// at the definition's print width in its fixed fonts, in the default or the colour-blind-safe palette.  Drawn
// as Plotly traces and shapes, so that Plotly writes it as SVG (text, outlines and marks as vectors; the maps as
// images).

import { STYLE } from "../common/figure-style.js";
import { captionFigure, figureTitle, viewFacts } from "./captions.js";
import { attentionPanel, attributionPanel, keyLabelRoom, panelFigure, rowLabelRoom } from "./figures.js";
import { blanked, matrix, shownMatrix } from "./matrix.js";
import { PALETTES } from "./state.js";
import { rowTokens } from "./text.js";

const PAPER = STYLE.paper;

// The paper figure's fonts (figures.js's SCREEN_FONTS): every text in the definition's font, the token labels
// of one size whatever the map's, so that they print at that size.
export const PAPER_FONTS = Object.freeze({
  family: PAPER.font, labels: PAPER.font, size: PAPER.font_size, title: PAPER.title_size, axisTitle: PAPER.font_size,
  colourBar: PAPER.label_size, label: PAPER.label_size, keyAngle: PAPER.key_angle,
});

// The scales and colours of a palette (addrop.viz.maps.palette_of).
export function paletteOf(name) {
  if (!PALETTES.includes(name)) throw new Error(`unknown palette ${name}`);
  return name === "colour-blind" ? STYLE.colour_blind : { scales: STYLE.scales, colours: STYLE.colours };
}

// A map of 0/1 cells in two colours (the palette's mask colours: kept, and on), with no colour bar: its title
// says what the coloured cells are.
function binaryPanel(z, title, off, on) {
  return { z, values: z, label: title, title, trace: { colorscale: [[0, off], [1, on]], zmin: 0, zmax: 1, showscale: false } };
}

// {data, layout, title} of the paper figure for side (the explorer's {meta, layer, maps}) and a head.
export function paperFigure(side, head, { scale = "max", palette = "default" } = {}) {
  if (head === "mean") throw new Error("the figure for a paper shows one head: choose a head, not the mean");
  const colours = paletteOf(palette);
  const meta = Object.assign({}, side.meta, { layer: side.layer });
  const candidate = matrix(side.maps.candidate, 0, head), dropped = matrix(side.maps.dropped, 0, head);
  const [a, b, c, d] = PAPER.panels;
  const [kept, candidateColour, droppedColour] = colours.scales.mask_levels;
  const panels = [
    attentionPanel(shownMatrix(meta, side.maps.attention, 0, head), a, { scale, colorscale: colours.scales.attention }),
    Object.assign(attributionPanel(shownMatrix(meta, side.maps.attribution, 0, head), b, meta.method, { scale, colorscale: colours.scales.attribution }),
      { region: candidate }),
    binaryPanel(blanked(candidate, meta), c, kept, candidateColour),
    binaryPanel(blanked(dropped, meta), d, kept, droppedColour),
  ];
  // margins as wide as the labels: the rows' on the left, the keys' under the lower maps, a colour bar on the right
  const margin = { l: rowLabelRoom(rowTokens(meta), PAPER_FONTS), r: PAPER.colour_bar.room, t: PAPER.title_size + 16,
    b: keyLabelRoom(meta.tokens, PAPER_FONTS) };
  const figure = panelFigure(meta, panels, PAPER.width, "plotly", { colours: colours.colours, rowLabels: "first",
    columns: PAPER.columns, fonts: PAPER_FONTS, margin, bar: PAPER.colour_bar });
  figure.layout.width = PAPER.width;
  const title = figureTitle(viewFacts(meta, head, "paper"));
  captionFigure(figure, title, "", { family: PAPER.font, size: PAPER.title_size }, PAPER.width);
  return Object.assign(figure, { title });
}
