// The attribution explorer: asks POST /api/explain for maps and draws them.  Every number shown comes
// from the server; the page only decodes, slices, averages over heads for display, and draws.  The state
// lives in the URL so a view can be shared.

import { explainRequest, listModels } from "./api.js";
import { compareFigure } from "./compare.js";
import { decode, decodeAll } from "./decode.js";
import { $, download, el, setStatus } from "../common/dom.js";
import { debounce, fillSelect, setSegmented } from "./dom.js";
import { STANDALONE_PLOTLY, compareCsv, compareMatrices, standaloneHtml, viewCsv, viewMatrices } from "./exports.js";
import { PLOT_CONFIG, layerPanels, panelFigure, zoomWindow } from "./figures.js";
import { captionFigure, fileName, figureTitle, viewFacts } from "./captions.js";
import { paperFigure } from "./paper.js";
import { GRID_FORMATS, drawGrid, gridPng, gridSvg } from "./grid.js";
import { parseIndexList } from "./matrix.js";
import { followFigure, paintOverlays } from "./overlay.js";
import { FOCUS_MAPS, changedTyped, changedValues, clampNumber, explainBody, parseZoom, readState, stateQuery } from "./state.js";
import { cellText } from "./hover.js";
import { LayerCache } from "./layercache.js";
import { mapsFigure, showMaps } from "./mapview.js";
import { tagChip, tagSummary, tokenTags } from "./tags.js";
import { followQueryClicks, markQueryRow } from "./queryrow.js";
import { renderTextView } from "./textview.js";
import { rowTokens } from "./text.js";
import { createWalkthrough } from "./tour.js";
import { walkthroughFacts } from "./walkthrough.js";

const state = readState(location.search);
let current = null;        // side A: {meta, layer, maps: {attention, attribution, candidate, dropped}, input}
let gridData = null;       // all-layer maps for the model view
let compareData = null;    // {a, b} for the compare view
const sequence = { layer: 0, masks: 0, grid: 0, compare: 0 };
const tasks = {};          // model name -> "classification" or "translation", from the model list and answers

// A translation model (an encoder-decoder) reads a source and an optional reference, and shows three kinds of map.
const translating = () => tasks[state.model] === "translation";

function writeUrl() {
  const query = stateQuery(state);
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

function side(payload, body) {
  return { meta: payload, layer: payload.layers[0], maps: decodeAll(payload), input: { text: body.text, text_pair: body.text_pair } };
}

// ---------- layer view ----------
// The address follows quick changes (a drag of p or q, stepping through layers or heads, a zoom) once they
// rest: each replacement is a same-document navigation, and the browser loads the page's icon again, tens
// of milliseconds of the main thread on a loaded machine, every time.
const writeUrlSoon = debounce(writeUrl, 300);

// Plotly draws the axes only when the tokens, the width or the focus change; the maps themselves (layer,
// head, p, q) are painted on the canvas above them (mapview.js).
async function drawLayerView() {
  if (!current) return;
  const figure = $("layer-figure");
  const meta = Object.assign({}, current.meta, { layer: current.layer });
  const panels = layerPanels(meta, current.maps, 0, state.head, state.colour);
  const built = mapsFigure(meta, shownPanels(panels), figure.clientWidth);
  showTextView();
  await showMaps(figure, built, {
    key: [meta.tokens.join("\u0001"), rowTokens(meta).join("\u0001"), figure.clientWidth, state.focus].join("|"),
    n: meta.tokens.length, m: rowTokens(meta).length,
    describe: cellText(meta, panels, state.head), zoom: parseZoom(state.zoom),
    onZoom: state.focus ? (zoom) => { state.zoom = zoom.join(","); writeUrlSoon(); } : null,
  });
  followQueryClicks(figure, selectQuery);
  markQueryRow(figure, state.query);
  walkthrough.refresh();
  showMaskText(meta);
  // Over the mean of heads there is no single candidate region or drop to outline or mark.
  $("legend-region").classList.toggle("hidden", state.head === "mean");
  $("legend-drop").classList.toggle("hidden", state.head === "mean");
  $("axes-legend").textContent = meta.translation
    ? `rows: ${meta.kind === "encoder" ? "source" : "target"} tokens (queries) · columns: ${meta.kind === "decoder" ? "target" : "source"} tokens (keys) · grey labels: special tokens`
    : "rows: queries · columns: keys · grey labels: special tokens";
  const lastLayer = current.layer === meta.num_layers - 1 && ["GA", "IGA"].includes(meta.method) && meta.target === "logit";
  $("layer-note").textContent = lastLayer
    ? "In the last layer only the first token's row reaches a sequence classifier's output, so every other row has zero attribution (all its keys tie)."
    : meta.translation && meta.kind === "decoder"
      ? "The decoder's self-attention is causal: a row sees only its own and earlier target tokens, so keys to the right of the diagonal have no attention and are never candidates (their gradient is shown, but no weight flows through them)."
      : "";
}

function showMaskText(meta) {
  document.querySelectorAll(".p-text").forEach((el) => { el.textContent = `${Math.round(meta.p * 100)}%`; });
  document.querySelectorAll(".q-text").forEach((el) => { el.textContent = String(meta.q); });
}

// Focus mode shows one of the three maps at full width.
function shownPanels(panels) {
  return state.focus ? [panels[FOCUS_MAPS.indexOf(state.focus)]] : panels;
}

// ---------- text view and walk-through ----------
// Both read the shown layer's maps and the chosen query's row, so they follow every redraw.
function showTextView() {
  if (!current) return;
  const meta = Object.assign({}, current.meta, { layer: current.layer });
  renderTextView($("text-view"), { meta, maps: current.maps, head: state.head, query: state.query }, selectQuery);
  markQueryRow($("layer-figure"), state.query);
  walkthrough.refresh();
}

function selectQuery(query) {
  state.query = query;
  writeUrl();
  showTextView();
}

const walkthrough = createWalkthrough($("walkthrough"),
  () => current && walkthroughFacts(Object.assign({}, current.meta, { layer: current.layer }), current.maps, state.head, state.query,
    !document.querySelector("#layer-figure + canvas.map-overlay[data-marked='no']")),
  showAllMaps);

// The walk-through points at all three maps of the layer view.
function showAllMaps() {
  const focused = Boolean(state.focus);
  state.focus = ""; state.zoom = ""; $("focus").value = "";
  if (state.view !== "layer") setView("layer");
  else if (focused) drawLayerView();
  writeUrl();
}

// ---------- translation models ----------
// The controls that differ: a reference instead of a second sentence, the kind of map; no compare or walk-through
// (they are told for one classifier input).
function showTaskControls() {
  const translation = translating();
  $("text-label").textContent = translation ? "Source sentence" : "Sentence";
  $("pair-field").classList.toggle("hidden", translation);
  $("reference-field").classList.toggle("hidden", !translation);
  $("kind-field").classList.toggle("hidden", !translation);
  document.querySelector('#view button[data-value="compare"]').classList.toggle("hidden", translation);
  $("walkthrough-open").classList.toggle("hidden", translation);
  if (translation && state.view === "compare") setView("layer");
}

function showTranslationSummary(meta) {
  const view = meta.translation;
  $("prediction-cell").classList.add("hidden");
  $("probabilities").parentElement.classList.add("hidden");
  $("translation-cell").classList.remove("hidden");
  $("translation-text").textContent = view.text || "(empty)";
  $("reference-label").classList.toggle("hidden", view.reference === null);
  $("reference-text").classList.toggle("hidden", view.reference === null);
  $("reference-text").textContent = view.reference ?? "";
  $("target").textContent = meta.target === "loss"
    ? "negative loss against the reference"
    : "negative loss against the model's own translation (its argmax at each target token)";
  const cut = meta.truncated || view.target_truncated ? ` (cut at the ${meta.max_tokens}-token limit)` : "";
  $("token-count").textContent = `${view.source_tokens.length} source, ${view.target_tokens.length} target${cut}`;
  $("notices").replaceChildren();
  if (meta.truncated) addNotice(`The source is longer than ${meta.max_tokens} tokens; the model saw only the first ${view.source_tokens.length}.`);
  if (view.target_truncated) addNotice(`The ${view.reference === null ? "translation stopped" : "reference was cut"} at ${meta.max_tokens} tokens.`);
  const strip = $("token-strip");
  strip.replaceChildren();
  const side = (label, tokens, special) => {
    const row = el("div", { class: "tokens" });
    row.appendChild(el("span", { class: "side-label", text: label }));
    tokens.forEach((token, i) => {
      const span = el("span", { class: "tok" + (special[i] ? " special" : "") });
      span.append(el("span", { class: "idx", text: String(i) }), document.createTextNode(token));
      row.appendChild(span);
    });
    strip.appendChild(row);
  };
  side("source", view.source_tokens, view.source_special);
  side("target", view.target_tokens, view.target_special);
  setSegmented("kind", meta.kind);
}

// ---------- summary ----------
function showSummary(meta) {
  $("summary").classList.remove("hidden");
  $("views").classList.remove("hidden");
  $("translation-cell").classList.toggle("hidden", !meta.translation);
  $("prediction-cell").classList.toggle("hidden", Boolean(meta.translation));
  if (meta.translation) {
    showTranslationSummary(meta);
    fillLayerAndHead(meta);
    return;
  }
  const labels = meta.labels;
  const regression = labels.length === 1;
  // a token classifier predicts a tag per token: they go under the tokens, and there is no one distribution
  const tags = tokenTags(meta);
  $("prediction").textContent = tags ? tagSummary(tags)
    : regression ? `${labels[0]} = ${meta.probabilities[0].toFixed(3)}` : labels[meta.prediction];
  const bars = $("probabilities");
  bars.replaceChildren();
  bars.parentElement.classList.toggle("hidden", Boolean(tags));
  if (!regression && !tags) {
    labels.forEach((label, i) => {
      const bar = el("div", { class: "bar" + (i === meta.prediction ? " predicted" : "") });
      const name = el("span", { class: "name", title: label, text: label });
      const track = el("span", { class: "track" });
      const fill = el("span", { class: "fill" }); fill.style.display = "block";
      fill.style.width = `${(meta.probabilities[i] * 100).toFixed(1)}%`; track.appendChild(fill);
      bar.append(name, track, el("span", { class: "num", text: meta.probabilities[i].toFixed(3) }));
      bars.appendChild(bar);
    });
  }
  $("target").textContent = meta.target === "logit"
    ? `logit of the pseudo label “${labels[meta.pseudo_label] ?? meta.pseudo_label}”`
    : meta.target === "pseudo_loss" ? "negative loss against the predicted tags (one pseudo label per token)" : "negative loss";
  $("token-count").textContent = `${meta.tokens.length}${meta.truncated ? ` (cut at the ${meta.max_tokens}-token limit)` : ""}`;
  $("notices").replaceChildren();
  if (meta.truncated) addNotice(`The input is longer than ${meta.max_tokens} tokens; the model saw only the first ${meta.tokens.length}, shown below.`);
  if (!meta.head_trained) addNotice("This base encoder's classification head is untrained, so its prediction is arbitrary; the maps still show what AD-DROP does. Open a fine-tuned job's checkpoint for a real prediction.");
  const strip = $("token-strip");
  strip.replaceChildren();
  meta.tokens.forEach((token, i) => {
    const span = el("span", { class: "tok" + (meta.special[i] ? " special" : "") + (meta.segments[i] ? " seg1" : "") });
    span.append(el("span", { class: "idx", text: String(i) }), document.createTextNode(token));
    if (tags && tags[i]) span.appendChild(tagChip(tags[i]));
    strip.appendChild(span);
  });
  fillLayerAndHead(meta);
}

function fillLayerAndHead(meta) {
  fillSelect($("layer"), [...Array(meta.num_layers).keys()].map((i) => [String(i), `${i}`]), String(state.layer));
  fillSelect($("head"), [["mean", "mean"]].concat([...Array(meta.num_heads).keys()].map((i) => [String(i), `${i}`])), String(state.head));
}

function addNotice(text) {
  $("notices").appendChild(el("div", { class: "notice", text }));
}

// What the page changed from what a link or the user asked for (a value out of bounds, a layer the model
// lacks): said apart from the input's notices, which each explanation replaces.
function addChange(text) {
  $("changes").appendChild(el("div", { class: "notice", text }));
}

// A typed seed or step count outside its bounds is changed where it is typed, and the change is said.
function noteTyped(key, typed, value) {
  const note = changedTyped(key, typed, value);
  if (note) addChange(note);
}

// ---------- loading ----------
async function loadLayer() {
  if (!state.text.trim()) { setStatus("Type a sentence to explain.", true); return; }
  const id = ++sequence.layer;
  sequence.masks++;
  setStatus("Computing attribution…");
  $("explain-button").disabled = true;
  const started = performance.now();
  try {
    const body = Object.assign(explainBody(state, "a", tasks), { layers: [Number(state.layer)] });
    if (filling.layers && filling.holds(body) && filling.layers.includes(Number(state.layer))) {
      await filling.done;
      if (id !== sequence.layer) return;
    }
    const held = layerCache.find(body, Number(state.layer));
    if (held) {
      // the input is shown already: only the layer changes
      current = { meta: held.meta, layer: Number(state.layer), maps: held.maps, input: { text: body.text, text_pair: body.text_pair } };
      if (state.view === "layer") await drawLayerView();
      setStatus(`Explained in ${Math.round(performance.now() - started)} ms (layer already on the page).`);
      gridData = null; compareData = null;
      if (state.view === "model") loadGrid();
      if (state.view === "compare") loadCompare();
      return;
    }
    const payload = await explainRequest(body);
    if (id !== sequence.layer) return;
    if (state.head !== "mean" && !(Number(state.head) < payload.num_heads)) {
      addChange(`${payload.model} has ${payload.num_heads} heads (0–${payload.num_heads - 1}): head ${state.head} does not exist, head 0 is shown.`);
      state.head = "0"; writeUrl();
    }
    if (state.query >= rowTokens(payload).length) state.query = 0;
    tasks[payload.model] = payload.task;
    showTaskControls();
    current = side(payload, body);
    layerCache.keep(body, payload, current.maps);
    fillLayersSoon();
    showSummary(payload);
    if (state.view === "layer") await drawLayerView();
    const reused = payload.cached ? " (attribution reused from an earlier request)" : "";
    setStatus(`Explained in ${Math.round(performance.now() - started)} ms${reused}.`);
    gridData = null;
    compareData = null;
    if (state.view === "model") loadGrid();
    if (state.view === "compare") loadCompare();
  } catch (error) {
    if (id !== sequence.layer) return;
    if (error.status === 422 && Number(state.layer) > 0 && /^layer \d+ does not exist/.test(error.message)) {
      // a link to a layer the model lacks: say so and show layer 0 rather than no maps and no layer selector
      addChange(`The link's ${error.message}; layer 0 is shown.`);
      state.layer = 0; writeUrl(); loadLayer();
      return;
    }
    setStatus(error.message, true);
  } finally {
    if (id === sequence.layer) $("explain-button").disabled = false;
  }
}

// The other layers of the shown input, asked for once the page rests, so that a layer change then draws
// from the page: one request brings all of them (GA's backward reaches every layer anyway, so the server
// computes them all for about the cost of one), or after a p/q move only their new masks.
const layerCache = new LayerCache();
let filling = { layers: null };
const fillLayersSoon = debounce(fillLayers, 400);
async function fillLayers() {
  if (!current || filling.layers) return;
  const body = explainBody(state, "a", tasks);
  const { layers, mapsHeld } = layerCache.missing(body, current.meta.num_layers);
  if (!layers.length) return;
  const request = Object.assign({}, body, { layers }, mapsHeld ? { fields: ["candidate", "dropped"] } : {});
  filling = { layers, holds: (other) => layerCache.holds(other) && JSON.stringify(explainBody(state, "a", tasks)) === JSON.stringify(body) };
  // A fill that fails costs nothing: a layer change then asks for its own layer.
  filling.done = explainRequest(request).then((payload) => {
    if (layerCache.holds(body)) layerCache.keep(body, payload, decodeAll(payload));
    fillLayersSoon();  // p or q may have moved meanwhile: their masks are the next to fetch
  }).catch(() => {}).finally(() => { filling = { layers: null }; });
}

// p, q, mode or seed moved: only the masks change, and the server reuses the attribution.  One request
// is in flight at a time and the newest setting is asked for when it returns, so a drag neither queues
// stale requests nor waits on a debounce before the first one.
const masks = { busy: false, again: false };
async function reloadMasks() {
  if (!current) return;
  if (masks.busy) { masks.again = true; return; }
  masks.busy = true;
  try {
    do {
      masks.again = false;
      await fetchMasks();
    } while (masks.again && current);
  } finally {
    masks.busy = false;
  }
}

async function fetchMasks() {
  const id = ++sequence.masks;
  try {
    const started = performance.now();
    const payload = await explainRequest(Object.assign(explainBody(state, "a", tasks), {
      layers: [current.layer], fields: ["candidate", "dropped"],
    }));
    if (id !== sequence.masks || !current) return;
    current.maps.candidate = decode(payload.candidate);
    current.maps.dropped = decode(payload.dropped);
    Object.assign(current.meta, { p: payload.p, q: payload.q, mode: payload.mode, seed: payload.seed });
    layerCache.keep(explainBody(state, "a", tasks), payload, { candidate: current.maps.candidate, dropped: current.maps.dropped });
    fillLayersSoon();
    if (state.view === "layer") drawLayerView();
    setStatus(`Masks redrawn in ${Math.round(performance.now() - started)} ms (no new forward pass).`);
    writeUrlSoon();
    if (state.view === "model" && gridData) loadGrid();
    if (state.view === "compare" && compareData) loadCompare();
  } catch (error) {
    if (id === sequence.masks) setStatus(error.message, true);
  }
}

// ---------- model view ----------
async function loadGrid() {
  if (!current) return;
  const id = ++sequence.grid;
  const quantity = state.grid === "mask" ? [] : [state.grid];
  setStatus("Computing every layer…");
  try {
    const started = performance.now();
    const payload = await explainRequest(Object.assign(explainBody(state, "a", tasks), { fields: quantity.concat(["candidate", "dropped"]) }));
    if (id !== sequence.grid) return;
    gridData = { meta: payload, maps: decodeAll(payload), quantity: state.grid };
    showGrid();
    setStatus(`All ${payload.num_layers} layers × ${payload.num_heads} heads in ${Math.round(performance.now() - started)} ms.`);
  } catch (error) {
    if (id === sequence.grid) setStatus(error.message, true);
  }
}

function showGrid() {
  if (!gridData) return;
  let layers, heads;
  try {
    layers = parseIndexList(state.layers, gridData.meta.num_layers, "Layers");
    heads = parseIndexList(state.heads, gridData.meta.num_heads, "Heads");
    $("filter-error").textContent = "";
  } catch (error) {
    $("filter-error").textContent = error.message;
    return;
  }
  drawGrid($("grid"), gridData, layers, heads, { layer: Number(state.layer), head: state.head }, openLayer);
}

function openLayer(layer, head) {
  state.layer = layer; state.head = String(head);
  setView("layer");
  syncControls();
  writeUrl();
  loadLayer();
}

// ---------- compare ----------
async function loadCompare() {
  if (!current) return;
  const id = ++sequence.compare;
  setStatus("Computing B…");
  try {
    const body = Object.assign(explainBody(state, "b"), { layers: [current.layer] });
    const payload = await explainRequest(body);
    if (id !== sequence.compare || !current) return;
    compareData = { a: current, b: side(payload, body) };
    await drawCompare();
    setStatus(`B explained with ${payload.model}.`);
  } catch (error) {
    if (id === sequence.compare) setStatus(`B: ${error.message}`, true);
  }
}

async function drawCompare() {
  if (!compareData) return;
  const figure = $("compare-figure");
  const built = compareFigure(compareData, state.cq, state.head, state.scales === "shared", figure.clientWidth, "canvas", state.colour);
  $("compare-note").textContent = built.note;
  await Plotly.react(figure, built.data, built.layout, PLOT_CONFIG);
  followFigure(figure);
  paintOverlays(figure, built.overlays);
  // Inputs that tokenise differently get B − A over their shared tokens as a figure of its own (its axes
  // are those tokens, not either side's).
  const aligned = $("compare-aligned-figure");
  aligned.classList.toggle("hidden", !built.aligned);
  if (built.aligned) await Plotly.react(aligned, built.aligned.data, built.aligned.layout, PLOT_CONFIG);
  else Plotly.purge(aligned);
}

// ---------- export ----------
// What the exports of the shown view say they are (captions.js): model (A's and B's when comparing), input,
// layer, head, method, p, q, mode, seed; a zoomed export names its window.
function exportFacts(window) {
  const meta = Object.assign({}, current.meta, { layer: current.layer });
  const facts = viewFacts(meta, state.head, state.focus ? `focus-${state.focus}` : "maps");
  if (state.view === "compare" && compareData) {
    const b = compareData.b.meta.model;
    return Object.assign(facts, { what: `compare-${state.cq}`, model: b === meta.model ? meta.model : `${meta.model} vs ${b}` });
  }
  if (window) {
    const span = ([first, last]) => `${first}–${last}`;
    Object.assign(facts, { where: `${facts.where}, keys ${span(window.keys)} × queries ${span(window.rows)}`,
      short: `${facts.short}-k${window.keys.join("-")}-q${window.rows.join("-")}` });
  }
  return facts;
}

// The zoomed window of the focused map, when the export is asked for it.
function exportWindow() {
  if (state.view !== "layer" || !state.focus || !$("export-zoomed").checked) return null;
  return zoomWindow(parseZoom(state.zoom), current.meta.tokens.length, rowTokens(current.meta).length);
}

// The shown figure with its overlays as Plotly traces, so an image or a standalone page carries them, and a
// title that says what it is.
function exportFigure(facts, window) {
  let figure;
  if (state.view === "compare") {
    if (!compareData) return null;
    figure = compareFigure(compareData, state.cq, state.head, state.scales === "shared", $("compare-figure").clientWidth, "plotly", state.colour);
  } else {
    const meta = Object.assign({}, current.meta, { layer: current.layer });
    figure = panelFigure(meta, shownPanels(layerPanels(meta, current.maps, 0, state.head, state.colour)), $("layer-figure").clientWidth,
      "plotly", { window });
  }
  const note = figure.marked === false ? "cells too small for outlines and marks: the mask panel shows every candidate and drop" : "";
  return captionFigure(figure, figureTitle(facts), note, { size: 13 });
}

async function exportPaper() {
  const figure = paperFigure(current, state.head, { scale: state.colour, palette: state.palette });
  const name = fileName(viewFacts(Object.assign({}, current.meta, { layer: current.layer }), state.head, "paper"));
  const url = await Plotly.toImage(figure, { format: "svg", width: figure.layout.width, height: figure.layout.height });
  download(await (await fetch(url)).blob(), "image/svg+xml", `${name}.svg`);
  return `${name}.svg`;
}

async function exportAs(format) {
  if (!current) return;
  if (state.view === "model") {
    if (!GRID_FORMATS.includes(format)) return;
    const image = format === "png" ? await gridPng($("grid")) : gridSvg($("grid"));
    if (image) {
      const facts = Object.assign(viewFacts(gridData.meta, state.head, `model-view-${state.grid}`), { short: "all-layers" });
      download(image, format === "png" ? "image/png" : "image/svg+xml", `${fileName(facts)}.${format}`);
      setStatus(`Saved the model view as ${format.toUpperCase()}.`);
    }
    return;
  }
  const comparing = state.view === "compare";
  try {
    if (format === "paper") {
      setStatus(`Saved ${await exportPaper()}.`);
      return;
    }
    const window = exportWindow();
    const facts = exportFacts(window);
    const name = fileName(facts);
    if (format === "json") {
      const views = comparing ? compareData && compareMatrices(compareData, state.head) : viewMatrices(current, state.head);
      if (!views) return;
      download(JSON.stringify(views), "application/json", `${name}.json`);
    } else if (format === "csv") {
      if (comparing && !compareData) return;
      download(comparing ? compareCsv(compareMatrices(compareData, state.head)) : viewCsv(viewMatrices(current, state.head)), "text/csv", `${name}.csv`);
    } else {
      const figure = exportFigure(facts, window);
      if (!figure) return;
      if (format === "html") {
        const library = await (await fetch(STANDALONE_PLOTLY)).text();
        download(standaloneHtml(library, figure, figureTitle(facts)), "text/html", `${name}.html`);
      } else {
        const width = (comparing ? $("compare-figure") : $("layer-figure")).clientWidth;
        const url = await Plotly.toImage(figure, { format, width, height: figure.layout.height, scale: format === "png" ? 2 : 1 });
        download(await (await fetch(url)).blob(), format === "png" ? "image/png" : "image/svg+xml", `${name}.${format}`);
      }
    }
    setStatus(`Saved ${name}.${format}.`);
  } catch (error) {
    setStatus(`Export failed: ${error.message}`, true);
  }
}

// ---------- controls ----------
function syncControls() {
  $("text").value = state.text;
  $("text-pair").value = state.pair;
  $("reference").value = state.reference;
  setSegmented("kind", state.kind || "encoder");
  $("p").value = state.p; $("p-value").textContent = Number(state.p).toFixed(2);
  $("q").value = state.q; $("q-value").textContent = Number(state.q).toFixed(2);
  $("seed").value = state.seed;
  $("steps").value = state.steps;
  $("steps-field").classList.toggle("hidden", state.method !== "IGA");
  $("text-b").value = state.text_b;
  $("text-pair-b").value = state.pair_b;
  $("layer-filter").value = state.layers;
  $("head-filter").value = state.heads;
  $("own-scales").checked = state.scales === "own";
  if ($("model").querySelector(`option[value="${CSS.escape(state.model)}"]`)) $("model").value = state.model;
  if ($("model-b").querySelector(`option[value="${CSS.escape(state.model_b || state.model)}"]`)) $("model-b").value = state.model_b || state.model;
  if ($("layer").options.length) $("layer").value = String(state.layer);
  if ($("head").options.length) $("head").value = String(state.head);
  $("focus").value = state.focus;
  $("colour-scale").value = state.colour;
  $("palette").value = state.palette;
  $("zoomed-field").classList.toggle("hidden", !state.focus);
  setSegmented("method", state.method);
  setSegmented("mode", state.mode);
  setSegmented("view", state.view);
  setSegmented("grid-quantity", state.grid);
  setSegmented("compare-quantity", state.cq);
}

function setView(view) {
  state.view = view;
  $("layer-view").classList.toggle("hidden", view !== "layer");
  $("model-view").classList.toggle("hidden", view !== "model");
  $("compare-view").classList.toggle("hidden", view !== "compare");
  // the model view is a grid of canvases: it exports as one image
  document.querySelectorAll("[data-export]").forEach((button) => {
    button.classList.toggle("hidden", view === "model" && !GRID_FORMATS.includes(button.dataset.export));
  });
  setSegmented("view", view);
  if (view === "layer") drawLayerView();
  if (view === "model") { if (gridData && gridData.quantity === state.grid) showGrid(); else loadGrid(); }
  if (view === "compare") { if (compareData) drawCompare(); else loadCompare(); }
  window.dispatchEvent(new Event("resize"));
}

async function loadModels() {
  try {
    const models = await listModels();
    const options = models.map((m) => [m.name, m.kind === "checkpoint" ? `${m.name} — ${m.description}` : m.name]);
    if (!models.some((m) => m.name === state.model)) options.push([state.model, `${state.model} (not available)`]);
    fillSelect($("model"), options, state.model);
    fillSelect($("model-b"), options, state.model_b || state.model);
    models.forEach((m, i) => { $("model").options[i].title = m.description; if (m.task) tasks[m.name] = m.task; });
    showTaskControls();
  } catch (error) {
    setStatus(`Could not list models: ${error.message}`, true);
  }
}

function bind() {
  $("explain-button").addEventListener("click", () => {
    state.text = $("text").value; state.pair = $("text-pair").value; state.reference = $("reference").value;
    writeUrl(); loadLayer();
  });
  for (const id of ["text", "text-pair", "reference"]) {
    $(id).addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("explain-button").click();
    });
  }
  $("model").addEventListener("change", () => {
    state.model = $("model").value; showTaskControls(); writeUrl(); if (current) loadLayer();
  });
  // Another kind of map is another attribution: its layers, and its rows (the query) start over.
  document.querySelectorAll("#kind button").forEach((button) => button.addEventListener("click", () => {
    state.kind = button.dataset.value === "encoder" ? "" : button.dataset.value;
    state.layer = 0; state.query = 0;
    setSegmented("kind", button.dataset.value); writeUrl();
    if (current) loadLayer();
  }));
  for (const id of ["method", "mode"]) {
    document.querySelectorAll(`#${id} button`).forEach((button) => button.addEventListener("click", () => {
      state[id] = button.dataset.value;
      syncControls(); writeUrl();
      if (!current) return;
      if (id === "method") loadLayer(); else reloadMasks();
    }));
  }
  for (const id of ["p", "q"]) {
    $(id).addEventListener("input", () => {
      state[id] = Number($(id).value);
      $(`${id}-value`).textContent = state[id].toFixed(2);
      if (current) reloadMasks(); else writeUrl();
    });
  }
  $("seed").addEventListener("change", () => {
    state.seed = clampNumber(parseInt($("seed").value, 10), 0, 4294967295, 0);
    noteTyped("seed", $("seed").value, state.seed);
    syncControls(); writeUrl();
    if (state.method === "RD") loadLayer(); else reloadMasks();
  });
  $("steps").addEventListener("change", () => {
    state.steps = clampNumber(parseInt($("steps").value, 10), 1, 100, 20);
    noteTyped("steps", $("steps").value, state.steps);
    syncControls(); writeUrl(); if (current) loadLayer();
  });
  $("layer").addEventListener("change", () => { state.layer = Number($("layer").value); writeUrlSoon(); loadLayer(); });
  $("colour-scale").addEventListener("change", () => {
    state.colour = $("colour-scale").value; writeUrl();
    if (state.view === "layer") drawLayerView();
    if (state.view === "compare") drawCompare();
  });
  $("palette").addEventListener("change", () => { state.palette = $("palette").value; writeUrl(); });
  $("focus").addEventListener("change", () => {
    state.focus = $("focus").value; state.zoom = ""; writeUrlSoon();
    $("zoomed-field").classList.toggle("hidden", !state.focus);
    if (state.view === "layer") drawLayerView();
  });
  $("head").addEventListener("change", () => {
    state.head = $("head").value; writeUrlSoon();
    if (state.view === "layer") drawLayerView();
    if (state.view === "model") showGrid();
    if (state.view === "compare") drawCompare();
  });
  document.querySelectorAll("#view button").forEach((button) => button.addEventListener("click", () => {
    setView(button.dataset.value); writeUrl();
  }));
  document.querySelectorAll("#grid-quantity button").forEach((button) => button.addEventListener("click", () => {
    state.grid = button.dataset.value; setSegmented("grid-quantity", state.grid); writeUrl();
    if (gridData && (state.grid === "mask" || gridData.maps[state.grid])) { gridData.quantity = state.grid; showGrid(); } else loadGrid();
  }));
  document.querySelectorAll("#compare-quantity button").forEach((button) => button.addEventListener("click", () => {
    state.cq = button.dataset.value; setSegmented("compare-quantity", state.cq); writeUrl(); drawCompare();
  }));
  $("own-scales").addEventListener("change", () => {
    state.scales = $("own-scales").checked ? "own" : "shared"; writeUrl(); drawCompare();
  });
  const filter = debounce(() => { state.layers = $("layer-filter").value; state.heads = $("head-filter").value; writeUrl(); showGrid(); }, 200);
  $("layer-filter").addEventListener("input", filter);
  $("head-filter").addEventListener("input", filter);
  $("compare-button").addEventListener("click", () => {
    state.model_b = $("model-b").value === state.model ? "" : $("model-b").value;
    state.text_b = $("text-b").value; state.pair_b = $("text-pair-b").value;
    writeUrl(); loadCompare();
  });
  document.querySelectorAll("[data-export]").forEach((button) => button.addEventListener("click", () => exportAs(button.dataset.export)));
  $("walkthrough-open").addEventListener("click", () => walkthrough.open());
  window.addEventListener("resize", debounce(() => walkthrough.refresh(), 250));
  $("copy-link").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(location.href); setStatus("Link to this view copied."); } catch (error) { setStatus(location.href); }
  });
}

async function start() {
  bind();
  changedValues(location.search, state).forEach(addChange);
  // The controls show the URL's state before the model list is awaited: syncing them after it overwrote
  // whatever was typed while the list loaded (an Explain clicked then ran on an empty sentence).
  syncControls();
  await loadModels();
  setView(state.view);
  if (sequence.layer) return;  // explained already while the model list loaded
  if (state.text.trim()) loadLayer();
  else setStatus("Type a sentence (and optionally a second one), then Explain. Ctrl+Enter works too.");
}

start();
