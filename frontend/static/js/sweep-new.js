/* The sweep form: the base job (from the job form's "Sweep this", a cloned job, or edited as JSON), presets,
   the search space and strategy, the number of runs it makes, and submit. */

import { api } from "./common/http.js";
import { modelName } from "./jobs-common.js";
import { initialSpace, layerSets, numberList, preset, sweepSize } from "./sweep-form.js";
import { plural } from "./sweep-view.js";

const form = /** @type {HTMLFormElement} */ (document.getElementById("sweep-form"));
const context = JSON.parse(/** @type {HTMLElement} */ (document.getElementById("sweep-context")).textContent || "{}");
const field = (/** @type {string} */ name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
const baseText = /** @type {HTMLTextAreaElement} */ (document.getElementById("base-json"));
const stored = sessionStorage.getItem("addrop-sweep-base");
let base = context.base || (stored ? JSON.parse(stored) : null);

function checks(id) { return [...document.querySelectorAll(`#${id} input`)].map((i) => /** @type {HTMLInputElement} */ (i)); }

function showBase() {
  document.getElementById("base-missing").classList.toggle("hidden", Boolean(base));
  baseText.value = base ? JSON.stringify(base, null, 2) : "";
  const summary = document.getElementById("base-summary");
  if (!base) { summary.textContent = ""; return; }
  const t = base.training || {}, a = base.addrop || {};
  summary.textContent = `${base.data?.task ?? "?"} · ${modelName(base.model)} · ${t.epochs ?? 10} epochs, batch ${t.batch_size ?? 16}, lr ${t.learning_rate ?? 2e-5}`
    + ` · ${a.cross_tuning === false ? "AD-DROP in every epoch" : "cross-tuning"}`;
}

function apply(values) {
  const set = { p: (v) => v.join(", "), q: (v) => v.join(", "), layers: (v) => v.map((l) => l.join(",")).join("; "), seeds: (v) => v.join(", ") };
  for (const [key, value] of Object.entries(values)) {
    if (key === "method" || key === "mode") { checks(key === "method" ? "methods" : "modes").forEach((i) => { i.checked = value.includes(i.value); }); continue; }
    const name = ["p", "q", "layers"].includes(key) ? `space.${key}` : key;
    const input = field(name);
    if (input.type === "checkbox") input.checked = Boolean(value);
    else input.value = key in set ? set[key](value) : value ?? "";
  }
}

function body() {
  let parsedBase;
  try { parsedBase = JSON.parse(baseText.value); } catch (error) { throw Object.assign(new Error(`the base job is not valid JSON (${error.message})`), { field: "base" }); }
  const parse = (name, fn) => { try { return fn(field(name).value); } catch (error) { throw Object.assign(error, { field: name }); } };
  const number = (name) => (field(name).value === "" ? null : Number(field(name).value));
  return {
    name: field("name").value.trim() || null, base: parsedBase,
    space: { p: parse("space.p", numberList), q: parse("space.q", numberList), method: checks("methods").filter((i) => i.checked).map((i) => i.value),
             mode: checks("modes").filter((i) => i.checked).map((i) => i.value), layers: parse("space.layers", layerSets) },
    strategy: field("strategy").value, max_trials: field("strategy").value === "tpe" ? number("max_trials") : null,
    seeds: parse("seeds", numberList), baseline: field("baseline").checked, parallel: number("parallel"),
    pruning: { kind: field("pruning.kind").value, percentile: number("pruning.percentile"), warmup_epochs: number("pruning.warmup_epochs"),
               startup_trials: number("pruning.startup_trials") },
    keep_checkpoints: field("keep_checkpoints").checked,
  };
}

function setError(name, message) {
  const slot = form.querySelector(`.field-error[data-for="${name}"]`);
  if (slot) slot.textContent = message;
  return Boolean(slot);
}

function showSize() {
  const status = document.getElementById("sweep-size");
  form.querySelectorAll(".field-error").forEach((slot) => { slot.textContent = ""; });
  try {
    const size = sweepSize(body());
    status.textContent = `${plural(size.settings, "setting")} × ${plural(body().seeds.length, "seed")} = ${plural(size.runs, "run")}, plus ${plural(size.baseline, "baseline run")}`
      + (size.settings > context.max_trials ? ` · over this server's limit of ${context.max_trials} settings` : "");
  } catch (error) {
    status.textContent = "";
    if (error.field) setError(error.field, error.message);
  }
  field("max_trials").disabled = field("strategy").value !== "tpe";
}

document.querySelectorAll("[data-preset]").forEach((button) => button.addEventListener("click", () => {
  const chosen = preset(/** @type {HTMLElement} */ (button).dataset.preset || "", base, context.paper_grid);
  base = chosen.base;
  showBase();
  apply(chosen.values);
  document.getElementById("preset-note").textContent = chosen.note;
  showSize();
}));
form.addEventListener("input", showSize);
form.addEventListener("change", showSize);
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = document.getElementById("form-error");
  box.classList.add("hidden");
  let request;
  try { request = body(); } catch (error) { setError(error.field, error.message); return; }
  const button = /** @type {HTMLButtonElement} */ (document.getElementById("submit-sweep"));
  button.disabled = true;
  document.getElementById("submit-status").textContent = "Checking the base job and the space…";
  try {
    const sweep = await api("/api/sweeps", { method: "POST", json: request });
    sessionStorage.removeItem("addrop-sweep-base");
    location.href = `/sweeps/${sweep.id}`;
  } catch (error) {
    document.getElementById("submit-status").textContent = "";
    const match = /^([a-z_.]+): (.*)$/s.exec(error.message);
    if (!(error.status === 422 && match && setError(match[1].replace(/^space\.(\w+).*/, "space.$1"), match[2]))) {
      box.textContent = error.message;
      box.classList.remove("hidden");
    }
    button.disabled = false;
  }
});

showBase();
apply({ ...initialSpace(context.space, base), seeds: [42], strategy: "grid", baseline: true, "pruning.kind": "median" });
showSize();
