// The figures' one definition (addrop/assets/figure-style.json): colour scales, outline and mark styles, the
// label stride, fonts and titles.  addrop.viz draws the notebook figures from the same file, so the pages and
// the notebooks cannot drift.  "#figure-style" resolves through the page's import map (and, under Node,
// through package.json's "imports").

import STYLE from "#figure-style" with { type: "json" };

export { STYLE };

// The value of the first rule whose "above" the size n exceeds (the rules end with "above": 0).
export function bySize(rules, n) {
  return (rules.find((rule) => n > rule.above) || rules[rules.length - 1]).value;
}
