// The attribution explorer: asks POST /api/explain for maps and draws them.  Every number shown comes
// from the server; the page only decodes, slices, averages over heads for display, and draws.  The state
// lives in the URL so a view can be shared.  This module wires the views together; each lives in its own:
// the session they share (session.js), the address (address.js), the form (controls.js), side A's answers
// (explainer.js), the summary (summary.js), the layer, model and compare views and the tabs between them
// (layerview.js, modelview.js, compareview.js, tabs.js), and the exports (exportview.js).

import { setStatus } from "../common/dom.js";
import { createAddress } from "./address.js";
import { createCompareView } from "./compareview.js";
import { bindControls, loadModels, syncControls } from "./controls.js";
import { createExplainer } from "./explainer.js";
import { createExporter } from "./exportview.js";
import { createLayerView } from "./layerview.js";
import { createModelView } from "./modelview.js";
import { createSession } from "./session.js";
import { changedValues } from "./state.js";
import { addChange } from "./summary.js";
import { createTabs } from "./tabs.js";

const page = createSession(location.search);
const address = createAddress(page.state);
const layerView = createLayerView(page, { address, showView: (view) => tabs.show(view) });
const modelView = createModelView(page, { address, openLayer });
const compareView = createCompareView(page, { address });
const tabs = createTabs(page, { address, layerView, modelView, compareView });
const explainer = createExplainer(page, { address, layerView, modelView, compareView, tabs });
bindControls(page, { address, explainer, layerView, modelView, compareView, tabs });
createExporter(page);

// A click on a map of the model view opens it in the layer view.
function openLayer(layer, head) {
  page.state.layer = layer; page.state.head = String(head);
  tabs.show("layer");
  syncControls(page.state);
  address.write();
  explainer.loadLayer();
}

async function start() {
  changedValues(location.search, page.state).forEach(addChange);
  // The controls show the URL's state before the model list is awaited: syncing them after it overwrote
  // whatever was typed while the list loaded (an Explain clicked then ran on an empty sentence).
  syncControls(page.state);
  await loadModels(page, tabs.show);
  tabs.show(page.state.view);
  if (page.sequence.layer) return;  // explained already while the model list loaded
  if (page.state.text.trim()) explainer.loadLayer();
  else setStatus("Type a sentence (and optionally a second one), then Explain. Ctrl+Enter works too.");
}

start();
