/* The sweep form's logic, free of the DOM: parsing the list fields, the presets, and the request body. */

/**
 * Numbers from "0.1, 0.3 0.5" (commas or spaces); throws with the offending text.
 * @param {string} text
 * @returns {number[]}
 */
export function numberList(text) {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  return parts.map((part) => {
    const value = Number(part);
    if (!Number.isFinite(value)) throw new Error(`“${part}” is not a number`);
    return value;
  });
}

/**
 * Layer sets from "0; 0,1" (sets separated by semicolons).
 * @param {string} text
 * @returns {number[][]}
 */
export function layerSets(text) {
  return text.split(";").map((s) => s.trim()).filter(Boolean).map((set) => numberList(set).map((v) => {
    if (!Number.isInteger(v) || v < 0) throw new Error(`layer “${v}” is not a layer index`);
    return v;
  }));
}

/**
 * How many runs a sweep makes: settings x seeds, plus one baseline run per seed.
 * @param {{strategy: string, max_trials: number | null, space: {p: number[], q: number[], method: string[], mode: string[], layers: number[][]}, seeds: number[], baseline: boolean}} body
 * @returns {{settings: number, runs: number, baseline: number}}
 */
export function sweepSize(body) {
  const s = body.space;
  const all = s.p.length * s.q.length * s.method.length * s.mode.length * s.layers.length;
  const settings = body.strategy === "tpe" ? Math.min(body.max_trials || 20, all) : all;
  return { settings, runs: settings * body.seeds.length, baseline: body.baseline ? body.seeds.length : 0 };
}

/** The form's first space: the server's defaults, with the method, mode and layers the space leaves out taken
    from the base job (as the API does), or GA, high and layer 0 without one. */
export function initialSpace(space, base) {
  const addrop = { method: "GA", mode: "high", layers: [0], ...(base && base.addrop) };
  return { ...space, method: space.method ?? [addrop.method], mode: space.mode ?? [addrop.mode], layers: space.layers ?? [addrop.layers] };
}

/**
 * The form values a preset sets, given the base job (its AD-DROP settings seed the "vs baseline" preset).
 * ``base`` may be changed too (the prior experiment drops in every epoch: no cross-tuning).
 * @param {string} name
 * @param {any} base
 * @param {number[]} paperGrid
 * @returns {{values: Object<string, any>, base: any, note: string}}
 */
export function preset(name, base, paperGrid) {
  const addrop = { method: "GA", mode: "high", p: 0.3, q: 0.2, layers: [0], ...(base && base.addrop) };
  const copy = base ? structuredClone(base) : base;
  const common = { strategy: "grid", max_trials: null, baseline: true, "pruning.kind": "none" };
  if (name === "versus") {
    return { base: copy, note: "The base job's own setting and the baseline, three seeds each: a gain with its spread.",
             values: { ...common, p: [addrop.p], q: [addrop.q], method: [addrop.method], mode: [addrop.mode], layers: [addrop.layers], seeds: [1, 2, 3] } };
  }
  if (name === "prior") {
    if (copy) copy.addrop = { ...copy.addrop, cross_tuning: false };
    return { base: copy, note: "Figure 2 of the paper: drop high- vs low-attribution positions vs random vs no dropping, layer 0, p = q = 0.3, dropping in every epoch (no cross-tuning); compare the train and dev loss of the runs.",
             values: { ...common, p: [0.3], q: [0.3], method: ["GA", "RD"], mode: ["high", "low"], layers: [[0]], seeds: [42] } };
  }
  if (name === "grid") {
    return { base: copy, note: "The authors' 9 × 9 search of p and q, with trials clearly behind pruned after two epochs.",
             values: { ...common, "pruning.kind": "median", p: paperGrid, q: paperGrid, method: [addrop.method], mode: ["high"], layers: [addrop.layers], seeds: [42] } };
  }
  if (name === "tpe") {
    return { base: copy, note: "The same 9 × 9 space searched adaptively: 20 settings, chosen by Optuna's TPE from the results so far.",
             values: { ...common, strategy: "tpe", max_trials: 20, "pruning.kind": "median", p: paperGrid, q: paperGrid, method: [addrop.method], mode: ["high"], layers: [addrop.layers], seeds: [42] } };
  }
  throw new Error(`unknown preset ${name}`);
}
