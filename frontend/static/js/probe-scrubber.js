/* The epoch scrubber of attribution dynamics: pick a probe example, a recorded layer and head, and an epoch on
   a slider; each run's map of that example at that epoch is drawn (a Plotly heatmap, side by side for several
   runs on one colour scale) with its top-p candidate region outlined, and "open in explorer" where the run kept
   that epoch's checkpoint. The logic lives in probe-maps.js; Plotly is the page's global. */
/* global Plotly */

import { el } from "./common/dom.js";
import { api } from "./common/http.js";
import * as Jobs from "./jobs-common.js";
import { escapeHtml } from "./common/html.js";
import { ATTRIBUTION_SCALE, COLORS } from "./explorer/figures.js";
import { outlinePath, symmetricRange } from "./explorer/matrix.js";
import { exampleLabel, explorerTarget, keptPosition, mapUrl, scrubEpochs, tokenTicks } from "./probe-maps.js";

/** @typedef {import("./probe-maps.js").Probe} Probe */
/** @typedef {{job: any, probe: Probe, color?: string}} ScrubRun */

const MAP_CACHE_SIZE = 200;

export class Scrubber {
  /**
   * @param {HTMLElement} container  emptied and filled with the controls and one map per run
   * @param {{p?: (runs: ScrubRun[]) => number | null}} [options]  p: one region p for every run (default: each run's own)
   */
  constructor(container, options = {}) {
    this.options = options;
    /** @type {ScrubRun[]} */
    this.runs = [];
    /** @type {number[]} */
    this.epochs = [];
    /** @type {Map<string, any>} */
    this.cache = new Map();
    this.drawn = 0;  // the latest draw: an older one that answers late draws nothing
    const select = (/** @type {string} */ name, /** @type {string} */ label) => {
      const node = /** @type {HTMLSelectElement} */ (el("select", { class: `scrub-${name}`, "aria-label": label }));
      node.addEventListener("change", () => this.draw());
      return node;
    };
    this.example = select("example", "probe example");
    this.layer = select("layer", "layer");
    this.head = select("head", "head");
    this.slider = /** @type {HTMLInputElement} */ (el("input", { type: "range", class: "scrub-epoch", min: 0, max: 0, step: 1,
                                                                   value: 0, "aria-label": "epoch" }));
    this.slider.addEventListener("input", () => this.draw());
    this.epochLabel = el("span", { class: "mono scrub-epoch-label" });
    this.maps = el("div", { class: "scrub-maps" });
    this.note = el("p", { class: "hint scrub-note" });
    container.replaceChildren(
      el("div", { class: "scrub-controls" },
        el("label", { class: "field inline grow" }, "Probe example ", this.example),
        el("label", { class: "field inline" }, "Layer ", this.layer),
        el("label", { class: "field inline" }, "Head ", this.head),
        el("label", { class: "field inline scrub-slider" }, "Epoch ", this.slider, this.epochLabel)),
      this.maps, this.note);
  }

  /** The runs to show (their probe sets must match: the caller checks); keeps the chosen example, layer, head
      and epoch where they still exist, and follows the newest epoch when it was on the newest. */
  setRuns(/** @type {ScrubRun[]} */ runs) {
    const following = Number(this.slider.value) === this.epochs.length - 1;
    const chosen = this.epochs.length ? this.epochs[Number(this.slider.value)] : null;
    this.runs = runs;
    this.epochs = scrubEpochs(runs.map((r) => r.probe));
    const first = runs[0]?.probe;
    refill(this.example, first ? first.dev_indices.map((_, i) => [String(i), exampleLabel(first, i)]) : []);
    refill(this.layer, first ? first.layers.map((l) => [String(l), `${l}`]) : []);
    const heads = Math.max(0, ...runs.map((r) => r.probe.heads ?? 0));
    refill(this.head, Array.from({ length: heads }, (_, h) => [String(h), `${h}`]));
    this.slider.max = String(Math.max(0, this.epochs.length - 1));
    this.slider.disabled = this.epochs.length < 2;
    this.slider.value = String(keptPosition(this.epochs, chosen, following));
    // one box per run, kept across redraws so Plotly updates in place
    while (this.maps.children.length > runs.length) this.maps.lastChild?.remove();
    while (this.maps.children.length < runs.length) {
      this.maps.append(el("div", { class: "scrub-run" }, el("div", { class: "chart square scrub-map" }),
                          el("div", { class: "small scrub-explore" })));
    }
    this.maps.classList.toggle("side-by-side", runs.length > 1);
    return this.draw();
  }

  /** The chosen example, layer, head and epoch (null before any epoch is recorded). */
  view() {
    if (!this.epochs.length || !this.example.value || !this.layer.value) return null;
    return { example: Number(this.example.value), layer: Number(this.layer.value), head: Number(this.head.value || 0),
             epoch: this.epochs[Number(this.slider.value)] };
  }

  async draw() {
    const view = this.view();
    const turn = ++this.drawn;
    this.epochLabel.textContent = view ? `${view.epoch} of ${this.epochs[this.epochs.length - 1]}` : "–";
    const boxes = [...this.maps.children];
    if (!view) {
      this.note.textContent = "the maps are recorded at the end of each epoch";
      boxes.forEach((box) => Plotly.purge(box.firstElementChild));
      return;
    }
    const p = this.options.p ? this.options.p(this.runs) : null;
    const answers = await Promise.all(this.runs.map((run) => (run.probe.epochs.includes(view.epoch)
      ? this.fetch(mapUrl(run.job.id, view, p)).catch((error) => ({ error })) : Promise.resolve(null))));
    if (turn !== this.drawn) return;
    const shown = answers.filter((a) => a && !a.error);
    const range = symmetricRange(shown.flatMap((a) => a.values));  // one scale for every map drawn
    this.runs.forEach((run, i) => this.drawRun(run, answers[i], /** @type {HTMLElement} */ (boxes[i]), view, range,
                                               i === this.runs.length - 1));
    const regions = [...new Set(shown.map((a) => `p = ${a.p}${a.mode === "low" ? " (lowest)" : ""}`))];
    this.note.textContent = `Rows are queries, columns keys; GA attribution as recorded at the end of the epoch. `
      + `Outlined: each row's top-p candidate region (${regions.join(", ") || "–"}), the keys AD-DROP drops from. `
      + (this.runs.length > 1 ? "One colour scale for the maps side by side." : "");
  }

  drawRun(/** @type {ScrubRun} */ run, /** @type {any} */ answer, /** @type {HTMLElement} */ box,
          /** @type {{example: number, layer: number, head: number, epoch: number}} */ view,
          /** @type {number} */ range, /** @type {boolean} */ withScale) {
    const [plot, explore] = /** @type {HTMLElement[]} */ ([...box.children]);
    const title = `#${run.job.id} ${run.job.name}`;
    const heading = `${escapeHtml(title.length > 48 ? `${title.slice(0, 47)}…` : title)}<br>`
      + `<span style="font-size:11px">epoch ${view.epoch} · layer ${view.layer} · head ${view.head}</span>`;
    if (!answer || answer.error) {
      Plotly.react(plot, [], Jobs.untilDrawn(Jobs.layout(heading, "", ""), false,
        answer ? escapeHtml(answer.error.message) : `epoch ${view.epoch} is not recorded for this run yet`), Jobs.plotConfig);
      explore.replaceChildren();
      return;
    }
    const n = answer.tokens.length;
    // numeric axes that hug the square map (constrain: domain), token names as tick texts
    const axis = { ...tokenTicks(answer.tokens), tickmode: "array", tickfont: { size: 9 }, showgrid: false, zeroline: false,
                   constrain: "domain" };
    const path = outlinePath(answer.region);
    Plotly.react(plot, [
      { type: "heatmap", z: answer.values, zmin: -range, zmax: range, colorscale: ATTRIBUTION_SCALE,
        showscale: withScale, colorbar: { thickness: 10, exponentformat: "e", title: { text: "GA", side: "right" } },
        customdata: answer.values.map((/** @type {number[]} */ row, /** @type {number} */ r) => row.map((_, c) => [answer.tokens[r], answer.tokens[c]])),
        hovertemplate: "query %{customdata[0]} → key %{customdata[1]}<br>%{z:.4g}<extra></extra>" },
    ], {
      title: { text: heading, font: { size: 12 } }, margin: { l: 70, r: 10, t: 44, b: 70 },
      xaxis: { ...axis, tickangle: -60, range: [-0.5, n - 0.5] },
      yaxis: { ...axis, range: [n - 0.5, -0.5], scaleanchor: "x" },
      shapes: path ? [{ type: "path", path, xref: "x", yref: "y", line: { color: COLORS.region, width: n > 60 ? 0.8 : 1.4 } }] : [],
      plot_bgcolor: "#fff", uirevision: `${run.job.id}-${view.example}`,
    }, Jobs.plotConfig);
    const target = explorerTarget(run.job, run.probe, { ...view, p: answer.p, mode: answer.mode });
    explore.replaceChildren(target.href
      ? el("a", { class: "button secondary small scrub-open", href: target.href, text: "Open in explorer" })
      : el("span", { class: "muted scrub-no-checkpoint", text: target.note }),
      target.href ? el("span", { class: "muted", text: ` ${target.note}` }) : "");
  }

  /** A map by its address, kept (the recorded maps of an epoch never change). */
  async fetch(/** @type {string} */ url) {
    if (!this.cache.has(url)) {
      if (this.cache.size >= MAP_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value);
      this.cache.set(url, api(url).catch((error) => { this.cache.delete(url); throw error; }));
    }
    return this.cache.get(url);
  }
}

/** Replaces a select's options when they changed, keeping its value where it still is one. */
function refill(/** @type {HTMLSelectElement} */ select, /** @type {Array<[string, string]>} */ options) {
  const value = select.value;
  const same = options.length === select.options.length && options.every(([v, t], i) => select.options[i].value === v && select.options[i].text === t);
  if (!same) select.replaceChildren(...options.map(([v, t]) => new Option(t, v)));
  if (options.some(([v]) => v === value)) select.value = value;
}
