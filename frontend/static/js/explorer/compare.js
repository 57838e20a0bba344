// Compare view: the same layer and head for input/model A and B, and B − A where the tokens match (or,
// when they tokenise differently, over the tokens that line up).

import { alignTokens, alignedDifference } from "./align.js";
import { MAP_MARGIN, attentionPanel, attributionPanel, panelFigure, panelGap, sideBySide } from "./figures.js";
import { colourBarTitle } from "./legends.js";
import { difference, matrix, shownMatrix } from "./matrix.js";
import { colourValues, scaleNote } from "./scales.js";
import { escapeHtml } from "../common/html.js";

export function sameTokens(a, b) {
  return a.meta.tokens.length === b.meta.tokens.length && a.meta.tokens.every((t, i) => t === b.meta.tokens[i]);
}

// With shared scales (the default) one colour means one value on both sides, so a map twice as strong
// looks twice as strong; with own scales each side spans its own range.  scale is how the colours span the
// values (scales.js): a percentile clip is taken over both maps together when shared.
export function comparePanels(a, b, quantity, head, shared, scale = "max") {
  const values = [a, b].map((side) => shownMatrix(side.meta, side.maps[quantity], 0, head));
  const top = shared ? colourValues(values, scale).top : null;
  const panels = [a, b].map((side, k) => {
    const title = `${k ? "B" : "A"}: ${escapeHtml(side.meta.model)}`;
    const panel = quantity === "attention" ? attentionPanel(values[k], title, { scale, top })
      : attributionPanel(values[k], title, side.meta.method, { scale, top });
    panel.causal = Boolean(side.meta.causal);  // the sides may differ, and may share one figure
    if (head !== "mean") {
      panel.region = matrix(side.maps.candidate, 0, head);
      panel.dropped = matrix(side.maps.dropped, 0, head);
    }
    return panel;
  });
  return { panels, values };
}

// A's token metadata at the tokens that line up with B's (the axes of an aligned difference).
export function alignedMeta(meta, pairs) {
  const pick = (list) => pairs.map(([i]) => list[i]);
  return Object.assign({}, meta, { tokens: pick(meta.tokens), special: pick(meta.special), segments: pick(meta.segments) });
}

// B − A on its own diverging scale, spanned as scale says (a row of B − A divided by its largest |value|).
export function differencePanel(values, quantity, layer, head, pairs = null, scale = "max") {
  const diff = pairs ? alignedDifference(values[0], values[1], pairs) : difference(values[0], values[1]);
  const where = head === "mean" ? "mean over heads" : `head ${head}`;
  const panel = attributionPanel(diff, `Difference B − A (${quantity}, layer ${layer}, ${where})`, null, { scale });
  const note = scaleNote(scale);
  return Object.assign(panel, { label: `B − A ${quantity}`, colorbar: Object.assign(panel.colorbar, {
    title: colourBarTitle(note ? `B − A ${quantity} · ${note}` : `B − A ${quantity}`) }) });
}

// {data, layout, overlays, note} for the compare view at pixelWidth.
export function compareFigure(compare, quantity, head, shared, pixelWidth, mode, scale = "max") {
  const { a, b } = compare;
  const { panels, values } = comparePanels(a, b, quantity, head, shared, scale);
  const metaA = Object.assign({}, a.meta, { layer: a.layer });
  if (sameTokens(a, b)) {
    // one figure draws all three maps: B − A has no value where either side has none
    panels.push(Object.assign(differencePanel(values, quantity, a.layer, head, null, scale),
      { causal: Boolean(a.meta.causal || b.meta.causal) }));
    return Object.assign(panelFigure(metaA, panels, pixelWidth, mode), { note: "" });
  }
  // A's colour bar and B's row labels share the gap between the two maps: as wide as they need
  const plotPixels = (pixelWidth || 1200) - MAP_MARGIN.l - MAP_MARGIN.r;
  const gap = panelGap(a.meta.tokens.concat(b.meta.tokens), plotPixels);
  const half = pixelWidth * (1 - gap) / 2;
  const left = panelFigure(metaA, [panels[0]], half, mode);
  const right = panelFigure(Object.assign({}, b.meta, { layer: b.layer }), [panels[1]], half, mode);
  const pairs = alignTokens(a.meta.tokens, b.meta.tokens);
  if (pairs.length < 2) {
    return Object.assign(sideBySide(left, right, gap), {
      note: "A and B tokenise differently and share fewer than two tokens in order, so there is no difference map.",
    });
  }
  const panel = Object.assign(differencePanel(values, quantity, a.layer, head, pairs, scale),
    { causal: Boolean(a.meta.causal || b.meta.causal) });
  panel.title = `${panel.title}, over the ${pairs.length} tokens A and B share`;
  return Object.assign(sideBySide(left, right, gap), {
    aligned: panelFigure(alignedMeta(metaA, pairs), [panel], half, mode),
    note: `A and B tokenise differently: B − A (below) is taken over the ${pairs.length} tokens they share in order ` +
      `(of ${a.meta.tokens.length} in A and ${b.meta.tokens.length} in B); the others are left out.`,
  });
}
