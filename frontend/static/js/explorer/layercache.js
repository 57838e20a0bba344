// The layers of the shown input that the page already holds, so that a layer change draws at once
// instead of waiting on the server.  Entries are views into the decoded [layers, heads, n, n] arrays of
// whichever answer brought them; each remembers the p, q, mode and seed its masks were drawn with.

// What an input's attribution depends on, and what its masks depend on besides.
const inputKey = (body) => JSON.stringify([body.text, body.text_pair, body.model, body.method, body.steps,
  body.method === "RD" ? body.seed : 0, body.kind ?? null, body.reference ?? null]);
const masksKey = (body) => JSON.stringify([body.p, body.q, body.mode, body.seed]);

// Layer k of a decoded [layers, heads, m, n] map, as a [1, heads, m, n] map sharing its memory.
export function layerSlice(array, k) {
  const [, heads, m, n] = array.shape;
  const size = heads * m * n;
  return { shape: [1, heads, m, n], values: array.values.subarray(k * size, (k + 1) * size) };
}

export class LayerCache {
  constructor() {
    this.input = null;
    this.layers = new Map();  // layer -> {meta, maps, masks}
  }

  // The layer's meta and maps when held for body's input with masks for body's p, q, mode and seed.
  find(body, layer) {
    const entry = this.input === inputKey(body) && this.layers.get(layer);
    return entry && entry.masks === masksKey(body) ? entry : null;
  }

  // Whether the held layers are body's input's.
  holds(body) {
    return this.input === inputKey(body);
  }

  // The layers of body's input not held with its masks, and whether their maps are held (masks stale).
  missing(body, count) {
    const layers = [...Array(count).keys()].filter((layer) => !this.find(body, layer));
    return { layers, mapsHeld: this.holds(body) && layers.every((layer) => this.layers.has(layer)) };
  }

  // An answer's layers (decoded maps, one entry per layer of payload.layers); a new input forgets the old.
  keep(body, payload, maps) {
    if (this.input !== inputKey(body)) { this.input = inputKey(body); this.layers.clear(); }
    payload.layers.forEach((layer, k) => {
      const held = this.layers.get(layer);
      const slices = Object.fromEntries(Object.entries(maps).map(([field, array]) => [field, layerSlice(array, k)]));
      const meta = Object.assign({}, payload, { layers: [layer] });
      if (!("attention" in slices)) {
        // masks only: they join the maps held for the layer
        if (!held) return;
        Object.assign(held.maps, slices);
        Object.assign(held.meta, { p: payload.p, q: payload.q, mode: payload.mode, seed: payload.seed });
        held.masks = masksKey(body);
      } else {
        this.layers.set(layer, { meta, maps: slices, masks: masksKey(body) });
      }
    });
  }
}
