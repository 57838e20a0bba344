// The explorer page's one mutable state, passed to every view: the URL's state (state.js) and what the
// server answered for it.  Nothing here touches the page.

import { decodeAll } from "./decode.js";
import { readState } from "./state.js";

export function createSession(search) {
  return {
    state: readState(search),
    current: null,  // side A: {meta, layer, maps: {attention, attribution, candidate, dropped}, input}
    grid: null,     // all-layer maps for the model view: {meta, maps, quantity}
    compare: null,  // {a, b} for the compare view
    // each kind of request's newest number: an answer to an older one arrives too late and is dropped
    sequence: { layer: 0, masks: 0, grid: 0, compare: 0 },
    tasks: {},      // model name -> "classification" or "translation", from the model list and answers
  };
}

// A translation model (an encoder-decoder) reads a source and an optional reference, and shows three kinds of map.
export const translating = (page) => page.tasks[page.state.model] === "translation";

// One side of the page from an answer to body: the answer's first layer, decoded.
export function sideOf(payload, body) {
  return { meta: payload, layer: payload.layers[0], maps: decodeAll(payload), input: { text: body.text, text_pair: body.text_pair } };
}

// A side's answer with the layer it shows, as the figures, captions and texts read it.
export const atLayer = (side) => Object.assign({}, side.meta, { layer: side.layer });
