/* Shared pieces of the job pages: formatting, smoothing and the curve style.  API calls and DOM helpers come
   from common/ (shared with the explorer). */

import { el } from "./common/dom.js";
import { STYLE } from "./common/figure-style.js";
import { sharedRange } from "./compare-runs.js";

export const FINISHED = ["succeeded", "failed", "cancelled", "pruned"];
export const COLORS = STYLE.curves.series;

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
  seconds = Math.max(0, Math.round(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return h ? `${h}h ${String(m).padStart(2, "0")}m` : m ? `${m}m ${String(s).padStart(2, "0")}s` : `${s}s`;
}

export function number(value, digits = 4) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

/** An epoch as people write it: whole epochs as integers, a run stopped mid-epoch to two decimals. */
export function epochNumber(epoch) {
  if (epoch === null || epoch === undefined || !isFinite(epoch)) return "–";
  return String(Math.abs(epoch - Math.round(epoch)) < 0.005 ? Math.round(epoch) : Number(epoch.toFixed(2)));
}

/** A spec section's ``[key, value]`` pairs that shape the run: a baseline's AD-DROP section only says it is
 * off (its method, p, q and layers are never used), a section turned off only says so. */
export function usedSettings(spec, section) {
  const values = spec[section] || {};
  if (values.enabled === false) return [["enabled", false]];
  return Object.entries(values);
}

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function setting(job) {
  const a = job.spec.addrop || {};
  if (a.enabled === false) return "baseline (no AD-DROP)";
  const layers = (a.layers || [0]).join(",");
  const never = job.addrop_epochs && !job.addrop_epochs.length ? " · never drops (1 epoch, cross-tuning)" : "";
  return `${a.method} ${a.mode === "low" ? "low " : ""}p=${a.p} q=${a.q} L${layers}${a.cross_tuning === false ? " no-cross" : ""}${never}`;
}

export function training(job) {
  const t = job.spec.training || {};
  return `lr ${t.learning_rate} · bs ${t.batch_size} · ${t.epochs} ep`;
}

/** TensorBoard's smoothing: a debiased exponential moving average of the raw values. */
export function smooth(values, weight) {
  let last = 0, count = 0;
  return values.map((value) => {
    if (!isFinite(value)) return value;
    count += 1;
    last = last * weight + (1 - weight) * value;
    return weight ? last / (1 - Math.pow(weight, count)) : value;
  });
}

/**
 * The training loss's mean over each epoch's logged steps. An epoch the run has got through (``reached``, its
 * progress in epochs) sits at its end, x = its number; the epoch still running sits at its last logged step,
 * with ``partial`` set, so the mean of its first steps is not read as the whole epoch's.
 * @param {{ step: number, epoch: number, values: Record<string, number> }[]} steps  the job's step points
 * @param {number} reached
 * @returns {{ x: number, y: number, epoch: number, steps: number, partial: boolean }[]}
 */
export function epochLossMeans(steps, reached) {
  const epochs = new Map();
  for (const p of steps) {
    if (p.values.loss === undefined || p.step === 0) continue;
    const e = Math.max(1, Math.ceil(p.epoch - 1e-9));
    const sum = epochs.get(e) || { total: 0, steps: 0, last: 0 };
    epochs.set(e, { total: sum.total + p.values.loss, steps: sum.steps + 1, last: Math.max(sum.last, p.epoch) });
  }
  return [...epochs.keys()].sort((a, b) => a - b).map((e) => {
    const { total, steps: n, last } = epochs.get(e);
    const partial = reached < e - 1e-6;
    return { x: partial ? last : e, y: total / n, epoch: e, steps: n, partial };
  });
}

/** Epoch indices (0-based) whose training steps logged addrop = 1. */
export function addropEpochs(points) {
  const epochs = new Set();
  for (const p of points) {
    if (p.kind === "step" && p.values.addrop === 1) epochs.add(Math.max(0, Math.ceil(p.epoch - 1e-9) - 1));
  }
  return epochs;
}

/** Shaded bands over AD-DROP epochs; ``toX(epoch)`` maps an epoch boundary to the axis. */
export function addropShapes(epochs, toX) {
  return [...epochs].map((e) => ({
    type: "rect", xref: "x", yref: "paper", x0: toX(e), x1: toX(e + 1), y0: 0, y1: 1,
    fillcolor: STYLE.curves.addrop_epoch_fill, line: { width: 0 }, layer: "below",
  }));
}

export function layout(title, xTitle, yTitle, extra = {}) {
  return {
    title: { text: title, font: { size: 13 }, x: 0.01, xanchor: "left" },
    margin: { l: 56, r: 16, t: 34, b: 42 },
    xaxis: { title: { text: xTitle, font: { size: 11 } }, gridcolor: "#eef0f4", zeroline: false },
    yaxis: { title: { text: yTitle, font: { size: 11 } }, gridcolor: "#eef0f4", zeroline: false },
    hovermode: "x unified", showlegend: true,
    legend: { orientation: "h", y: -0.22, font: { size: 11 } },
    paper_bgcolor: "#fff", plot_bgcolor: "#fff", font: { family: "Inter, system-ui, sans-serif", size: 11 },
    uirevision: "keep",  // zoom and legend toggles survive every live redraw
    ...extra,
  };
}

/** ``layoutObject`` with each y axis fitted to its traces' values (5 % margin): Plotly pads a flat series by
 * ±1, so an accuracy of 0.6 in every epoch was drawn on an axis from -0.4 to 1.6. */
export function fitted(layoutObject, traces) {
  const out = { ...layoutObject };
  for (const [axis, key] of [["y", "yaxis"], ["y2", "yaxis2"]]) {
    const range = sharedRange(traces.filter((t) => (t.yaxis || "y") === axis).flatMap((t) => t.y || []));
    if (range) out[key] = { ...(out[key] || {}), range, autorange: false };
  }
  return out;
}

/** ``text`` broken into lines of at most ``most`` characters at spaces (a longer word keeps its own line), joined
 * by Plotly's <br>: Plotly does not wrap an annotation, and a long one ran off both sides of a narrow chart. */
export function wrapText(text, most = 48) {
  const lines = [];
  for (const word of String(text).split(/\s+/).filter(Boolean)) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 1 + word.length <= most) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines.join("<br>");
}

// A chart with nothing to draw yet (no epoch evaluated, no step logged) says so instead of showing empty axes.
export function untilDrawn(layoutObject, drawn, sentence) {
  if (drawn) return layoutObject;
  return { ...layoutObject, showlegend: false, xaxis: { ...layoutObject.xaxis, visible: false },
           yaxis: { ...layoutObject.yaxis, visible: false },
           annotations: [{ text: wrapText(sentence), showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5,
                           font: { color: "#5a6275", size: 12 } }] };
}

export const plotConfig = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

// A job's or sweep's model: the API shows a local directory outside the server's data directory as null.
export function modelName(model) {
  return model ?? "a local model";
}

export function badge(state) { return el("span", { class: `badge ${state}`, text: state }); }
