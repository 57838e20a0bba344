// The explorer's state and its URL form: a view is shared by sharing its address.

export const DEFAULTS = Object.freeze({
  text: "", pair: "", model: "minilm", method: "GA", mode: "high", p: 0.3, q: 0.2, seed: 0, steps: 20,
  layer: 0, head: "0", view: "layer", grid: "attribution", layers: "", heads: "",
  model_b: "", text_b: "", pair_b: "", cq: "attribution", scales: "shared",
});

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
  const method = String(state.method).toUpperCase();
  state.method = ["GA", "IGA", "AA", "RD"].includes(method) ? method : "GA";
  state.mode = state.mode === "low" ? "low" : "high";
  state.scales = state.scales === "own" ? "own" : "shared";
  return state;
}

// Only what differs from the defaults goes into the address, so links stay short.
export function stateQuery(state) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    if (key in DEFAULTS && String(value) !== String(DEFAULTS[key])) params.set(key, value);
  }
  return params.toString();
}

// What the server is asked for side A or B; B falls back to A's model and text where left empty.
export function explainBody(state, which) {
  const b = which === "b";
  const text = b ? (state.text_b || state.text) : state.text;
  const pair = b ? (state.text_b ? state.pair_b : (state.pair_b || state.pair)) : state.pair;
  return {
    text, text_pair: pair || null, model: b ? (state.model_b || state.model) : state.model,
    method: state.method, mode: state.mode, p: Number(state.p), q: Number(state.q),
    seed: Number(state.seed), steps: Number(state.steps),
  };
}
