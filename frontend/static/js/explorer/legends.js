// What a colour means, in words: the titles of the colour bars and of the text view's legend.  Each
// attribution method measures something different, so the title names it.

import { STYLE } from "../common/figure-style.js";

export function quantityTitle(quantity, method) {
  const titles = STYLE.titles;
  if (quantity === "attribution") return titles.attribution[method] || "attribution";
  if (quantity in titles && typeof titles[quantity] === "string") return titles[quantity];
  throw new Error(`no title for ${quantity}`);
}

// A Plotly colour bar title, written along the bar so it takes no width from the maps.
export function colourBarTitle(text) {
  return { text, side: "right", font: { size: STYLE.fonts.axis_title_size, color: STYLE.fonts.muted } };
}

// What the two ends of the text view's colour scale mean: for a gradient, the sign says which way more
// attention would move the attributed output F.
export function shadeEnds(method, kind) {
  const gradient = method === "GA" || method === "IGA";
  if (kind === "diverging") return gradient ? ["lowers F", "raises F"] : ["lower", "higher"];
  return gradient ? ["no effect", "raises F"] : ["zero", "higher"];
}
