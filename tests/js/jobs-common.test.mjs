// The job pages' shared chart pieces (frontend/static/js/jobs-common.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { layout, untilDrawn } from "../../frontend/static/js/jobs-common.js";

test("a chart with nothing to draw shows its sentence and no axes; with data it is left as it was", () => {
  const base = layout("Dev f1 per epoch", "epoch", "f1", { xaxis: { dtick: 1 } });
  assert.equal(untilDrawn(base, true, "nothing yet"), base);
  const empty = untilDrawn(base, false, "nothing yet");
  assert.deepEqual([empty.xaxis.visible, empty.yaxis.visible, empty.showlegend], [false, false, false]);
  assert.equal(empty.xaxis.dtick, 1);  // the rest of each axis is kept for when data comes
  assert.deepEqual(empty.annotations.map((a) => [a.text, a.xref, a.x, a.y]), [["nothing yet", "paper", 0.5, 0.5]]);
  assert.equal(base.xaxis.visible, undefined);  // the layout it was given is not changed
  assert.equal(empty.title.text, "Dev f1 per epoch");
});
