// What a colour means, in words: the titles of the colour bars and of the text view's legend.  Each
// attribution method measures something different, so the title names it.

const ATTRIBUTION = {
  GA: "attribution ∂F/∂A (GA)",
  IGA: "attribution, integrated gradients (IGA)",
  AA: "attribution = attention weight (AA)",
  RD: "random attribution (RD)",
};

export function quantityTitle(quantity, method) {
  if (quantity === "attention") return "attention weight";
  if (quantity === "attribution") return ATTRIBUTION[method] || "attribution";
  if (quantity === "mask") return "AD-DROP mask";
  if (quantity === "mask-mean") return "share of heads dropping";
  throw new Error(`no title for ${quantity}`);
}

// A Plotly colour bar title, written along the bar so it takes no width from the maps.
export function colourBarTitle(text) {
  return { text, side: "right", font: { size: 11, color: "#677086" } };
}

// What the two ends of the text view's colour scale mean: for a gradient, the sign says which way more
// attention would move the attributed output F.
export function shadeEnds(method, kind) {
  const gradient = method === "GA" || method === "IGA";
  if (kind === "diverging") return gradient ? ["lowers F", "raises F"] : ["lower", "higher"];
  return gradient ? ["no effect", "raises F"] : ["zero", "higher"];
}
