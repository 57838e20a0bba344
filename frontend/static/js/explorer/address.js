// The page's address follows its state (state.js writes it), so that a view can be shared by its link.

import { debounce } from "./dom.js";
import { stateQuery } from "./state.js";

export function createAddress(state) {
  function write() {
    const query = stateQuery(state);
    history.replaceState(null, "", query ? `?${query}` : location.pathname);
  }
  // Quick changes (a drag of p or q, stepping through layers or heads, a zoom) are written once they rest:
  // each replacement is a same-document navigation, and the browser loads the page's icon again, tens of
  // milliseconds of the main thread on a loaded machine, every time.
  return { write, writeSoon: debounce(write, 300) };
}
