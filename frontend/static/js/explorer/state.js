// The explorer's state and its URL form: a view is shared by sharing its address.

export const DEFAULTS = Object.freeze({
  text: "", pair: "", model: "minilm", method: "GA", mode: "high", p: 0.3, q: 0.2, seed: 0, steps: 20,
  layer: 0, head: "0", query: 0, view: "layer", grid: "attribution", layers: "", heads: "",
  model_b: "", text_b: "", pair_b: "", cq: "attribution", scales: "shared", focus: "", zoom: "",
  kind: "", reference: "", colour: "max", palette: "default",
});

// How the value maps' colours span their values (scales.js), and the paper figure's palettes.
export const COLOUR_SCALES = ["max", "percentile", "row"];
export const PALETTES = ["default", "colour-blind"];

// A translation model's kinds of map ("" is the model's default, its encoder's self-attention).
export const KINDS = ["encoder", "decoder", "cross"];

// Focus mode: one map at full width ("" shows all three); zoom is its shown window "x0,x1,y0,y1" in cells.
export const FOCUS_MAPS = ["attention", "attribution", "mask"];

export function parseZoom(text) {
  const values = String(text).split(",").map(Number);
  return values.length === 4 && values.every(Number.isFinite) && values[0] !== values[1] && values[2] !== values[3] ? values : null;
}

export function clampNumber(value, low, high, fallback) {
  return Number.isFinite(value) ? Math.min(high, Math.max(low, value)) : fallback;
}

// A hand-edited or old link must still open: unknown keys are ignored, numbers clamped, enums defaulted.
export function readState(search) {
  const params = new URLSearchParams(search);
  const state = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) if (params.has(key)) state[key] = params.get(key);
  for (const key of ["p", "q"]) state[key] = clampNumber(parseFloat(state[key]), 0.05, 0.95, DEFAULTS[key]);
  state.seed = clampNumber(parseInt(state.seed, 10), 0, 4294967295, 0);
  state.steps = clampNumber(parseInt(state.steps, 10), 1, 100, 20);
  state.layer = clampNumber(parseInt(state.layer, 10), 0, 1000, 0);
  state.query = clampNumber(parseInt(state.query, 10), 0, 100000, 0);  // the text view's row; checked against n on load
  const method = String(state.method).toUpperCase();
  state.method = ["GA", "IGA", "AA", "RD"].includes(method) ? method : "GA";
  state.mode = state.mode === "low" ? "low" : "high";
  state.scales = state.scales === "own" ? "own" : "shared";
  state.focus = FOCUS_MAPS.includes(state.focus) ? state.focus : "";
  state.zoom = state.focus && parseZoom(state.zoom) ? state.zoom : "";
  state.kind = KINDS.includes(state.kind) ? state.kind : "";
  state.colour = COLOUR_SCALES.includes(state.colour) ? state.colour : "max";
  state.palette = PALETTES.includes(state.palette) ? state.palette : "default";
  return state;
}

// The values readState keeps within bounds, and how each is named to the user.
const BOUNDS = { p: ["p", "0.05 to 0.95"], q: ["q", "0.05 to 0.95"], seed: ["seed", "a whole number from 0 to 4294967295"],
                 steps: ["IGA steps", "a whole number from 1 to 100"], layer: ["layer", "a whole number from 0"],
                 query: ["query row", "a whole number from 0"] };
const CHOICES = ["method", "mode", "scales", "focus", "zoom", "kind", "colour", "palette"];

/** One sentence for each value of a link that readState changed to one the explorer can use (a p of 1.5, a
 * seed of -4, an unknown method), so that nothing changes without a word. */
export function changedValues(search, state) {
  const params = new URLSearchParams(search);
  const notes = [];
  for (const [key, [name, allowed]] of Object.entries(BOUNDS)) {
    if (params.has(key) && Number(params.get(key)) !== Number(state[key])) {
      notes.push(`The link's ${name} "${params.get(key)}" is not ${allowed}: ${state[key]} is shown instead.`);
    }
  }
  for (const key of CHOICES) {
    const raw = params.get(key);
    if (raw !== null && raw.toUpperCase() !== String(state[key]).toUpperCase()) {
      notes.push(`The link's ${key} "${raw}" is not one the explorer knows: ${state[key] || "the default"} is shown instead.`);
    }
  }
  return notes;
}

/** The sentence for a typed number the explorer changed to one within its bounds ("" when kept as typed). */
export function changedTyped(key, typed, value) {
  const [name, allowed] = BOUNDS[key];
  return Number(typed) === Number(value) ? "" : `${name} "${typed}" is not ${allowed}: ${value} is used instead.`;
}

// Only what differs from the defaults goes into the address, so links stay short.
export function stateQuery(state) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    if (key in DEFAULTS && String(value) !== String(DEFAULTS[key])) params.set(key, value);
  }
  return params.toString();
}

// What the server is asked for side A or B; B falls back to A's model and text where left empty.  tasks maps a
// model's name to what it explains: a translation model (side A) is asked for a kind of map and a reference
// instead of a second sentence.
export function explainBody(state, which, tasks = {}) {
  const b = which === "b";
  const model = b ? (state.model_b || state.model) : state.model;
  const text = b ? (state.text_b || state.text) : state.text;
  if (!b && tasks[model] === "translation") {
    return {
      text, text_pair: null, reference: state.reference.trim() ? state.reference : null, kind: state.kind || null,
      model, method: state.method, mode: state.mode, p: Number(state.p), q: Number(state.q),
      seed: Number(state.seed), steps: Number(state.steps),
    };
  }
  const pair = b ? (state.text_b ? state.pair_b : (state.pair_b || state.pair)) : state.pair;
  return {
    text, text_pair: pair || null, model,
    method: state.method, mode: state.mode, p: Number(state.p), q: Number(state.q),
    seed: Number(state.seed), steps: Number(state.steps),
  };
}
