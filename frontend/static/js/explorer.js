// The attribution explorer: asks POST /api/explain for maps and draws them with Plotly.
// Every number shown comes from the server; this file only decodes, slices, averages over heads for
// display, and draws.  The page state lives in the URL so a view can be shared.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const QUANTITIES = ["attention", "attribution", "candidate", "dropped"];
  const COLORS = { region: "#111111", drop: "#d62728", boundary: "#555555" };
  const ATTENTION_SCALE = [[0, "#ffffff"], [0.15, "#dbe6f6"], [0.45, "#7fa7dc"], [0.75, "#2f5fad"], [1, "#0b2a66"]];
  const ATTRIBUTION_SCALE = [[0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [1, "#b2182b"]];
  const MASK_SCALE = [[0, "#f3f5f9"], [0.333, "#f3f5f9"], [0.333, "#ffcf87"], [0.667, "#ffcf87"], [0.667, "#d62728"], [1, "#d62728"]];
  const DROP_FRACTION_SCALE = [[0, "#f7f7f7"], [1, "#b2182b"]];
  const DEFAULTS = {
    text: "", pair: "", model: "minilm", method: "GA", mode: "high", p: 0.3, q: 0.2, seed: 0, steps: 20,
    layer: 0, head: "0", view: "layer", grid: "attribution", layers: "", heads: "",
    model_b: "", text_b: "", pair_b: "", cq: "attribution",
  };

  const state = Object.assign({}, DEFAULTS);
  let current = null;        // {meta, layer, maps: {attention, attribution, candidate, dropped}} for A
  let gridData = null;       // all-layer maps for the model view
  let compareData = null;    // {a, b} maps for the compare view
  const sequence = { layer: 0, masks: 0, grid: 0, compare: 0 };

  // ---------- URL state ----------
  function readUrl() {
    const params = new URLSearchParams(location.search);
    for (const key of Object.keys(DEFAULTS)) {
      if (params.has(key)) state[key] = params.get(key);
    }
    for (const key of ["p", "q"]) state[key] = clampNumber(parseFloat(state[key]), 0.05, 0.95, DEFAULTS[key]);
    state.seed = clampNumber(parseInt(state.seed, 10), 0, 4294967295, 0);
    state.steps = clampNumber(parseInt(state.steps, 10), 1, 100, 20);
    state.layer = clampNumber(parseInt(state.layer, 10), 0, 1000, 0);
    state.method = ["GA", "IGA", "AA", "RD"].includes(String(state.method).toUpperCase()) ? String(state.method).toUpperCase() : "GA";
    state.mode = state.mode === "low" ? "low" : "high";
  }

  function writeUrl() {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(state)) {
      if (String(value) !== String(DEFAULTS[key])) params.set(key, value);
    }
    const query = params.toString();
    history.replaceState(null, "", query ? `?${query}` : location.pathname);
  }

  function clampNumber(value, low, high, fallback) {
    return Number.isFinite(value) ? Math.min(high, Math.max(low, value)) : fallback;
  }

  // ---------- API ----------
  async function explainRequest(body, asked = false) {
    const headers = { "Content-Type": "application/json" };
    const token = localStorage.getItem("addrop-api-token");
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch("/api/explain", { method: "POST", headers, body: JSON.stringify(body) });
    if (response.status === 401 && !asked) {
      // This server keeps the explorer behind its API token (ADDROP_EXPLAIN_REQUIRES_TOKEN); ask once.
      const given = prompt("This server needs its API token to explain inputs:");
      if (given) {
        localStorage.setItem("addrop-api-token", given);
        return explainRequest(body, true);
      }
    }
    let payload = null;
    try { payload = await response.json(); } catch (error) { payload = null; }
    if (!response.ok) {
      const detail = payload && payload.detail ? payload.detail : `the server answered ${response.status}`;
      throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
    }
    return payload;
  }

  function baseRequest(which) {
    const b = which === "b";
    const text = b ? (state.text_b || state.text) : state.text;
    const pair = b ? (state.text_b ? state.pair_b : (state.pair_b || state.pair)) : state.pair;
    return {
      text, text_pair: pair || null, model: b ? (state.model_b || state.model) : state.model,
      method: state.method, mode: state.mode, p: Number(state.p), q: Number(state.q),
      seed: Number(state.seed), steps: Number(state.steps),
    };
  }

  function decode(encoded) {
    const bytes = Uint8Array.from(atob(encoded.data), (c) => c.charCodeAt(0));
    const count = encoded.shape.reduce((a, b) => a * b, 1);
    let values;
    if (encoded.dtype === "bool") {
      values = new Uint8Array(count);
      for (let i = 0; i < count; i++) values[i] = (bytes[i >> 3] >> (7 - (i & 7))) & 1;
    } else {
      values = new Float32Array(bytes.buffer, bytes.byteOffset, count);
    }
    return { shape: encoded.shape, values };
  }

  function decodeAll(payload) {
    const maps = {};
    for (const key of QUANTITIES) if (payload[key]) maps[key] = decode(payload[key]);
    return maps;
  }

  // One map as rows of numbers; head "mean" averages over every returned head.
  function matrix(array, layerIndex, head) {
    const [, heads, n] = array.shape;
    const rows = [];
    const chosen = head === "mean" ? [...Array(heads).keys()] : [Number(head)];
    for (let i = 0; i < n; i++) {
      const row = new Array(n).fill(0);
      for (const h of chosen) {
        const offset = ((layerIndex * heads + h) * n + i) * n;
        for (let j = 0; j < n; j++) row[j] += array.values[offset + j];
      }
      if (chosen.length > 1) for (let j = 0; j < n; j++) row[j] /= chosen.length;
      rows.push(row);
    }
    return rows;
  }

  // ---------- status ----------
  function setStatus(message, isError) {
    const status = $("status");
    status.textContent = message || "";
    status.classList.toggle("error", Boolean(isError));
  }

  // ---------- token labels (escaped: Plotly reads a few HTML tags in text) ----------
  function escapeHtml(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function tickLabels(meta) {
    return meta.tokens.map((token, i) =>
      meta.special[i] ? `<span style="color:#8a93a6">${escapeHtml(token)}</span>` : escapeHtml(token));
  }

  function tickStep(n) { return n <= 48 ? 1 : Math.ceil(n / 48); }

  function axis(meta, domain, anchor, isY, title) {
    const n = meta.tokens.length;
    const step = tickStep(n);
    const values = [...Array(n).keys()].filter((i) => i % step === 0);
    const labels = tickLabels(meta);
    const spec = {
      domain, anchor, tickmode: "array", tickvals: values, ticktext: values.map((i) => labels[i]),
      tickfont: { size: n > 32 ? 9 : 11, family: "JetBrains Mono, Menlo, Consolas, monospace" },
      showgrid: false, zeroline: false, range: isY ? [n - 0.5, -0.5] : [-0.5, n - 0.5], ticks: "",
      title: title ? { text: title, font: { size: 11, color: "#677086" }, standoff: 4 } : undefined,
      constrain: "domain",
    };
    if (!isY) spec.tickangle = -60;
    return spec;
  }

  // Outline of the cells where mask[i][j] is set, as one SVG path.
  function outlinePath(mask) {
    const n = mask.length;
    const parts = [];
    const on = (i, j) => i >= 0 && j >= 0 && i < n && j < n && mask[i][j];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (!mask[i][j]) continue;
        const x0 = j - 0.5, x1 = j + 0.5, y0 = i - 0.5, y1 = i + 0.5;
        if (!on(i - 1, j)) parts.push(`M${x0},${y0}L${x1},${y0}`);
        if (!on(i + 1, j)) parts.push(`M${x0},${y1}L${x1},${y1}`);
        if (!on(i, j - 1)) parts.push(`M${x0},${y0}L${x0},${y1}`);
        if (!on(i, j + 1)) parts.push(`M${x1},${y0}L${x1},${y1}`);
      }
    }
    return parts.join("");
  }

  function boundaryShapes(meta, xref, yref) {
    const n = meta.tokens.length;
    const shapes = [];
    for (let i = 1; i < n; i++) {
      if (meta.segments[i] !== meta.segments[i - 1]) {
        const at = i - 0.5;
        const line = { color: COLORS.boundary, width: 1.2, dash: "dash" };
        shapes.push({ type: "line", xref, yref, x0: at, x1: at, y0: -0.5, y1: n - 0.5, line });
        shapes.push({ type: "line", xref, yref, x0: -0.5, x1: n - 0.5, y0: at, y1: at, line });
      }
    }
    return shapes;
  }

  function hoverText(meta, values, label) {
    const t = meta.tokens.map(escapeHtml);
    return values.map((row, i) => row.map((v, j) => `${t[i]} (${i}) → ${t[j]} (${j})<br>${label}: ${formatValue(v)}`));
  }

  function formatValue(v) {
    if (v === 0) return "0";
    const a = Math.abs(v);
    return a >= 0.01 && a < 1000 ? v.toFixed(4) : v.toExponential(3);
  }

  function dropMarkers(dropped, xaxis, yaxis, n) {
    const x = [], y = [];
    dropped.forEach((row, i) => row.forEach((v, j) => { if (v >= 0.5) { x.push(j); y.push(i); } }));
    return {
      type: "scatter", mode: "markers", x, y, xaxis, yaxis, hoverinfo: "skip", showlegend: false,
      marker: { symbol: "x-thin", size: Math.max(3, Math.min(11, 300 / n)), line: { width: n > 64 ? 1.2 : 2, color: COLORS.drop }, color: COLORS.drop },
    };
  }

  // ---------- figures ----------
  // Panels side by side, each a square map with its own colour bar; overlays per panel.
  function panelFigure(meta, panels, pixelWidth) {
    const count = panels.length;
    const gap = 0.085;
    const width = (1 - gap * (count - 1)) / count;
    const margin = { l: 78, r: 40, t: 44, b: 86 };
    // Square maps: the height follows the width a panel gets.
    const panelPixels = ((pixelWidth || 1200) - margin.l - margin.r) * (width - 0.02);
    const data = [];
    const layout = {
      margin, height: Math.round(Math.min(900, panelPixels) + margin.t + margin.b),
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
      font: { family: "Inter, Segoe UI, system-ui, sans-serif", size: 12, color: "#1d2330" },
      shapes: [], annotations: [], hoverlabel: { font: { family: "JetBrains Mono, Menlo, monospace", size: 11 } },
    };
    panels.forEach((panel, k) => {
      const suffix = k === 0 ? "" : String(k + 1);
      const x0 = k * (width + gap);
      const xname = `x${suffix}`, yname = `y${suffix}`;
      layout[`xaxis${suffix}`] = axis(meta, [x0, x0 + width - 0.02], yname, false, k === 0 ? "key" : "");
      layout[`yaxis${suffix}`] = Object.assign(axis(meta, [0, 1], xname, true, k === 0 ? "query" : ""), { scaleanchor: xname });
      const heat = Object.assign({
        type: "heatmap", z: panel.z, xaxis: xname, yaxis: yname, text: hoverText(meta, panel.z, panel.label),
        hovertemplate: "%{text}<extra></extra>", xgap: meta.tokens.length > 40 ? 0 : 0.5, ygap: meta.tokens.length > 40 ? 0 : 0.5,
        colorbar: Object.assign({ x: x0 + width - 0.015, len: 0.75, thickness: 10, outlinewidth: 0, tickfont: { size: 10 } }, panel.colorbar || {}),
      }, panel.trace);
      data.push(heat);
      layout.shapes.push(...boundaryShapes(meta, xname, yname));
      if (panel.region) {
        const path = outlinePath(panel.region);
        const n = meta.tokens.length;
        const lineWidth = n > 64 ? 0.6 : n > 32 ? 1.1 : 1.6;
        if (path) layout.shapes.push({ type: "path", path, xref: xname, yref: yname, line: { color: COLORS.region, width: lineWidth } });
      }
      if (panel.dropped) data.push(dropMarkers(panel.dropped, xname, yname, meta.tokens.length));
      layout.annotations.push({
        text: panel.title, x: x0 + (width - 0.02) / 2, y: 1.0, xref: "paper", yref: "paper", yanchor: "bottom",
        yshift: 8, showarrow: false, font: { size: 13, color: "#1d2330" },
      });
    });
    return { data, layout };
  }

  function symmetricRange(values) {
    let max = 0;
    for (const row of values) for (const v of row) max = Math.max(max, Math.abs(v));
    return max || 1;
  }

  function methodLabel(method) {
    return { GA: "∂F/∂A (GA)", IGA: "IG (IGA)", AA: "= attention (AA)", RD: "random (RD)" }[method];
  }

  function attentionPanel(values, title) {
    return { z: values, label: "attention", title, trace: { colorscale: ATTENTION_SCALE, zmin: 0 } };
  }

  function attributionPanel(values, title) {
    const range = symmetricRange(values);
    return {
      z: values, label: "attribution", title,
      trace: { colorscale: ATTRIBUTION_SCALE, zmin: -range, zmax: range },
      colorbar: { exponentformat: "e", showexponent: "all" },
    };
  }

  function layerPanels(meta, maps, layerIndex, head) {
    const attention = matrix(maps.attention, layerIndex, head);
    const attribution = matrix(maps.attribution, layerIndex, head);
    const candidate = matrix(maps.candidate, layerIndex, head);
    const dropped = matrix(maps.dropped, layerIndex, head);
    const where = head === "mean" ? "mean over heads" : `head ${head}`;
    const single = head !== "mean";
    const region = single ? candidate : null;
    const drops = single ? dropped : null;
    let mask;
    if (single) {
      const z = candidate.map((row, i) => row.map((c, j) => (dropped[i][j] ? 2 : c ? 1 : 0)));
      mask = {
        z, label: "0 kept · 1 candidate · 2 dropped", title: `AD-DROP mask (p=${meta.p}, q=${meta.q}, ${meta.mode})`,
        trace: { colorscale: MASK_SCALE, zmin: 0, zmax: 2 },
        colorbar: { tickvals: [0.33, 1, 1.67], ticktext: ["kept", "candidate", "dropped"] },
      };
    } else {
      mask = {
        z: dropped, label: "fraction of heads dropping", title: `Dropped, % of heads (p=${meta.p}, q=${meta.q})`,
        trace: { colorscale: DROP_FRACTION_SCALE, zmin: 0, zmax: 1 }, colorbar: { tickformat: ".0%" },
      };
    }
    return [
      Object.assign(attentionPanel(attention, `Attention · layer ${meta.layer}, ${where}`), { region, dropped: drops }),
      Object.assign(attributionPanel(attribution, `Attribution ${methodLabel(meta.method)}`), { region, dropped: drops }),
      mask,
    ];
  }

  const PLOT_CONFIG = {
    responsive: true, displaylogo: false,
    toImageButtonOptions: { format: "png", scale: 2, filename: "addrop-view" },
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
  };

  function drawLayerView() {
    if (!current) return;
    const meta = Object.assign({}, current.meta, { layer: current.layer });
    const figure = panelFigure(meta, layerPanels(meta, current.maps, 0, state.head), $("layer-figure").clientWidth);
    Plotly.react($("layer-figure"), figure.data, figure.layout, PLOT_CONFIG);
    const lastLayer = current.layer === meta.num_layers - 1 && ["GA", "IGA"].includes(meta.method) && meta.target === "logit";
    $("layer-note").textContent = lastLayer
      ? "In the last layer only the first token's row reaches a sequence classifier's output, so every other row has zero attribution (all its keys tie)." : "";
    document.querySelectorAll(".p-text").forEach((el) => { el.textContent = `${Math.round(meta.p * 100)}%`; });
    document.querySelectorAll(".q-text").forEach((el) => { el.textContent = String(meta.q); });
  }

  // ---------- summary ----------
  function showSummary(meta) {
    $("summary").classList.remove("hidden");
    $("views").classList.remove("hidden");
    const labels = meta.labels;
    const regression = labels.length === 1;
    $("prediction").textContent = regression ? `${labels[0]} = ${meta.probabilities[0].toFixed(3)}` : labels[meta.prediction];
    const bars = $("probabilities");
    bars.replaceChildren();
    if (!regression) {
      labels.forEach((label, i) => {
        const bar = document.createElement("div");
        bar.className = "bar" + (i === meta.prediction ? " predicted" : "");
        const name = document.createElement("span"); name.className = "name"; name.textContent = label; name.title = label;
        const track = document.createElement("span"); track.className = "track";
        const fill = document.createElement("span"); fill.className = "fill"; fill.style.display = "block";
        fill.style.width = `${(meta.probabilities[i] * 100).toFixed(1)}%`; track.appendChild(fill);
        const num = document.createElement("span"); num.className = "num"; num.textContent = meta.probabilities[i].toFixed(3);
        bar.append(name, track, num);
        bars.appendChild(bar);
      });
    }
    $("target").textContent = meta.target === "logit"
      ? `logit of the pseudo label “${labels[meta.pseudo_label] ?? meta.pseudo_label}”` : "negative loss";
    $("token-count").textContent = `${meta.tokens.length}${meta.truncated ? ` (cut at the ${meta.max_tokens}-token limit)` : ""}`;
    const notices = $("notices");
    notices.replaceChildren();
    if (meta.truncated) addNotice(`The input is longer than ${meta.max_tokens} tokens; the model saw only the first ${meta.tokens.length}, shown below.`);
    if (!meta.head_trained) addNotice("This base encoder's classification head is untrained, so its prediction is arbitrary; the maps still show what AD-DROP does. Open a fine-tuned job's checkpoint for a real prediction.");
    const strip = $("token-strip");
    strip.replaceChildren();
    meta.tokens.forEach((token, i) => {
      const span = document.createElement("span");
      span.className = "tok" + (meta.special[i] ? " special" : "") + (meta.segments[i] ? " seg1" : "");
      const idx = document.createElement("span"); idx.className = "idx"; idx.textContent = String(i);
      span.append(idx, document.createTextNode(token));
      strip.appendChild(span);
    });
    fillSelect($("layer"), [...Array(meta.num_layers).keys()].map((i) => [String(i), `${i}`]), String(state.layer));
    fillSelect($("head"), [["mean", "mean"]].concat([...Array(meta.num_heads).keys()].map((i) => [String(i), `${i}`])), String(state.head));
  }

  function addNotice(text) {
    const div = document.createElement("div");
    div.className = "notice";
    div.textContent = text;
    $("notices").appendChild(div);
  }

  function fillSelect(select, options, value) {
    select.replaceChildren();
    for (const [v, label] of options) {
      const option = document.createElement("option");
      option.value = v; option.textContent = label;
      select.appendChild(option);
    }
    if (options.some(([v]) => v === value)) select.value = value;
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
      const payload = await explainRequest(Object.assign(baseRequest("a"), { layers: [Number(state.layer)] }));
      if (id !== sequence.layer) return;
      if (state.head !== "mean" && Number(state.head) >= payload.num_heads) state.head = "0";
      if (Number(state.layer) >= payload.num_layers) state.layer = 0;
      current = { meta: payload, layer: payload.layers[0], maps: decodeAll(payload) };
      showSummary(payload);
      drawLayerView();
      const reused = payload.cached ? " (attribution reused from an earlier request)" : "";
      setStatus(`Explained in ${Math.round(performance.now() - started)} ms${reused}.`);
      gridData = null;
      compareData = null;
      if (state.view === "model") loadGrid();
      if (state.view === "compare") loadCompare();
    } catch (error) {
      if (id === sequence.layer) setStatus(error.message, true);
    } finally {
      if (id === sequence.layer) $("explain-button").disabled = false;
    }
  }

  // p, q, mode or seed moved: only the masks change, the server reuses the attribution.
  async function reloadMasks() {
    if (!current) return;
    const id = ++sequence.masks;
    try {
      const started = performance.now();
      const payload = await explainRequest(Object.assign(baseRequest("a"), {
        layers: [current.layer], fields: ["candidate", "dropped"],
      }));
      if (id !== sequence.masks || !current) return;
      current.maps.candidate = decode(payload.candidate);
      current.maps.dropped = decode(payload.dropped);
      Object.assign(current.meta, { p: payload.p, q: payload.q, mode: payload.mode, seed: payload.seed });
      drawLayerView();
      setStatus(`Masks redrawn in ${Math.round(performance.now() - started)} ms (no new forward pass).`);
      if (state.view === "model" && gridData) loadGrid();
      if (state.view === "compare" && compareData) loadCompare();
    } catch (error) {
      if (id === sequence.masks) setStatus(error.message, true);
    }
  }

  // ---------- model view ----------
  function parseIndexList(text, count, what) {
    const trimmed = text.trim();
    if (!trimmed || trimmed.toLowerCase() === "all") return [...Array(count).keys()];
    const chosen = new Set();
    for (const part of trimmed.split(",")) {
      const match = part.trim().match(/^(\d+)(?:\s*-\s*(\d+))?$/);
      if (!match) throw new Error(`${what}: “${part.trim()}” is not a number or a range like 2-4`);
      const from = Number(match[1]), to = match[2] === undefined ? from : Number(match[2]);
      if (from > to || to >= count) throw new Error(`${what}: ${part.trim()} is outside 0-${count - 1}`);
      for (let i = from; i <= to; i++) chosen.add(i);
    }
    return [...chosen].sort((a, b) => a - b);
  }

  async function loadGrid() {
    if (!current) return;
    const id = ++sequence.grid;
    const quantity = state.grid === "mask" ? [] : [state.grid];
    setStatus("Computing every layer…");
    try {
      const started = performance.now();
      const payload = await explainRequest(Object.assign(baseRequest("a"), { fields: quantity.concat(["candidate", "dropped"]) }));
      if (id !== sequence.grid) return;
      gridData = { meta: payload, maps: decodeAll(payload), quantity: state.grid };
      drawGrid();
      setStatus(`All ${payload.num_layers} layers × ${payload.num_heads} heads in ${Math.round(performance.now() - started)} ms.`);
    } catch (error) {
      if (id === sequence.grid) setStatus(error.message, true);
    }
  }

  function drawGrid() {
    const grid = $("grid");
    if (!gridData) return;
    const { meta, maps } = gridData;
    let layers, heads;
    try {
      layers = parseIndexList(state.layers, meta.num_layers, "Layers");
      heads = parseIndexList(state.heads, meta.num_heads, "Heads");
      $("filter-error").textContent = "";
    } catch (error) {
      $("filter-error").textContent = error.message;
      return;
    }
    grid.replaceChildren();
    grid.style.gridTemplateColumns = `36px repeat(${heads.length}, minmax(40px, 1fr))`;
    grid.appendChild(labelCell("corner", ""));
    heads.forEach((h) => grid.appendChild(labelCell("col-label", `H${h}`)));
    const n = meta.tokens.length;
    for (const layer of layers) {
      grid.appendChild(labelCell("row-label", `L${layer}`));
      for (const head of heads) {
        const canvas = document.createElement("canvas");
        canvas.width = n; canvas.height = n;
        canvas.title = `layer ${layer}, head ${head}`;
        canvas.dataset.layer = layer; canvas.dataset.head = head;
        if (layer === Number(state.layer) && String(head) === String(state.head)) canvas.classList.add("selected");
        paintThumbnail(canvas, maps, gridData.quantity, layer, head, n);
        canvas.addEventListener("click", () => openLayer(layer, head));
        grid.appendChild(canvas);
      }
    }
  }

  function labelCell(kind, text) {
    const div = document.createElement("div");
    div.className = kind; div.textContent = text;
    return div;
  }

  function paintThumbnail(canvas, maps, quantity, layer, head, n) {
    const context = canvas.getContext("2d");
    const image = context.createImageData(n, n);
    const offset = ((layer * maps.candidate.shape[1] + head) * n) * n;
    const cand = maps.candidate.values, drop = maps.dropped.values;
    let scale = 0;
    const values = quantity === "mask" ? null : maps[quantity].values;
    if (values) for (let k = 0; k < n * n; k++) scale = Math.max(scale, Math.abs(values[offset + k]));
    scale = scale || 1;
    for (let k = 0; k < n * n; k++) {
      let rgb;
      if (quantity === "mask") rgb = drop[offset + k] ? [214, 39, 40] : cand[offset + k] ? [255, 207, 135] : [243, 245, 249];
      else if (quantity === "attention") rgb = ramp([[255, 255, 255], [11, 42, 102]], values[offset + k] / scale);
      else {
        const v = values[offset + k] / scale;
        rgb = v >= 0 ? ramp([[247, 247, 247], [178, 24, 43]], v) : ramp([[247, 247, 247], [33, 102, 172]], -v);
      }
      image.data.set([rgb[0], rgb[1], rgb[2], 255], k * 4);
    }
    context.putImageData(image, 0, 0);
  }

  function ramp([from, to], t) {
    const s = Math.sqrt(Math.max(0, Math.min(1, t)));  // sqrt: small weights stay visible in a thumbnail
    return from.map((c, i) => Math.round(c + (to[i] - c) * s));
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
      const payload = await explainRequest(Object.assign(baseRequest("b"), { layers: [current.layer] }));
      if (id !== sequence.compare || !current) return;
      compareData = { a: current, b: { meta: payload, layer: payload.layers[0], maps: decodeAll(payload) } };
      drawCompare();
      setStatus(`B explained with ${payload.model}.`);
    } catch (error) {
      if (id === sequence.compare) setStatus(`B: ${error.message}`, true);
    }
  }

  function drawCompare() {
    if (!compareData) return;
    const { a, b } = compareData;
    const quantity = state.cq;
    const head = state.head;
    const panelOf = (side, name) => {
      const values = matrix(side.maps[quantity], 0, head);
      const title = `${name}: ${escapeHtml(side.meta.model)}`;
      const panel = quantity === "attention" ? attentionPanel(values, title) : attributionPanel(values, title);
      if (head !== "mean") {
        panel.region = matrix(side.maps.candidate, 0, head);
        panel.dropped = matrix(side.maps.dropped, 0, head);
      }
      return panel;
    };
    const same = a.meta.tokens.length === b.meta.tokens.length && a.meta.tokens.every((t, i) => t === b.meta.tokens[i]);
    const where = head === "mean" ? "mean over heads" : `head ${head}`;
    const meta = Object.assign({}, a.meta, { layer: a.layer });
    $("compare-note").textContent = same ? "" : "A and B tokenise differently, so there is no difference map (it needs the same tokens).";
    if (same) {
      const panels = [panelOf(a, "A"), panelOf(b, "B")];
      const difference = panels[1].z.map((row, i) => row.map((v, j) => v - panels[0].z[i][j]));
      const range = symmetricRange(difference);
      panels.push({
        z: difference, label: `B − A ${quantity}`, title: `Difference B − A (${quantity}, layer ${a.layer}, ${where})`,
        trace: { colorscale: ATTRIBUTION_SCALE, zmin: -range, zmax: range }, colorbar: { exponentformat: "e" },
      });
      const figure = panelFigure(meta, panels, $("compare-figure").clientWidth);
      Plotly.react($("compare-figure"), figure.data, figure.layout, PLOT_CONFIG);
    } else {
      const half = $("compare-figure").clientWidth * 0.46;
      const left = panelFigure(meta, [panelOf(a, "A")], half);
      const right = panelFigure(Object.assign({}, b.meta, { layer: b.layer }), [panelOf(b, "B")], half);
      const figure = sideBySide(left, right);
      Plotly.react($("compare-figure"), figure.data, figure.layout, PLOT_CONFIG);
    }
  }

  // Two one-panel figures merged into one with two halves (different tokens on each).
  function sideBySide(left, right) {
    const data = left.data.slice();
    const layout = Object.assign({}, left.layout, { shapes: left.layout.shapes.slice(), annotations: left.layout.annotations.slice() });
    const squeeze = (domain, offset) => [offset + domain[0] * 0.46, offset + domain[1] * 0.46];
    layout.xaxis = Object.assign({}, left.layout.xaxis, { domain: squeeze(left.layout.xaxis.domain, 0) });
    layout.xaxis2 = Object.assign({}, right.layout.xaxis, { domain: squeeze(right.layout.xaxis.domain, 0.54), anchor: "y2" });
    layout.yaxis2 = Object.assign({}, right.layout.yaxis, { anchor: "x2", scaleanchor: "x2" });
    data[0].colorbar = Object.assign({}, data[0].colorbar, { x: 0.455 });
    for (const trace of right.data) {
      data.push(Object.assign({}, trace, { xaxis: "x2", yaxis: "y2" }, trace.colorbar ? { colorbar: Object.assign({}, trace.colorbar, { x: 1.0 }) } : {}));
    }
    for (const shape of right.layout.shapes) layout.shapes.push(Object.assign({}, shape, { xref: "x2", yref: "y2" }));
    layout.annotations[0] = Object.assign({}, layout.annotations[0], { x: 0.23 });
    layout.annotations.push(Object.assign({}, right.layout.annotations[0], { x: 0.77 }));
    return { data, layout };
  }

  // ---------- export ----------
  function activeFigure() {
    return state.view === "compare" ? $("compare-figure") : $("layer-figure");
  }

  function exportName() {
    const head = state.head === "mean" ? "mean" : `h${state.head}`;
    return `addrop-${state.method}-L${state.layer}-${head}-p${state.p}-q${state.q}`;
  }

  function download(content, type, filename) {
    const url = URL.createObjectURL(new Blob([content], { type }));
    const link = document.createElement("a");
    link.href = url; link.download = filename;
    document.body.appendChild(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function viewMatrices() {
    const head = state.head;
    const out = { tokens: current.meta.tokens, special: current.meta.special, segments: current.meta.segments,
      model: current.meta.model, method: current.meta.method, mode: current.meta.mode, p: current.meta.p,
      q: current.meta.q, seed: current.meta.seed, layer: current.layer, head };
    for (const key of QUANTITIES) out[key] = matrix(current.maps[key], 0, head);
    return out;
  }

  function toCsv(view) {
    const quote = (s) => `"${String(s).replace(/"/g, '""')}"`;
    const lines = ["query_index,query_token,key_index,key_token,attention,attribution,candidate,dropped"];
    view.tokens.forEach((qt, i) => view.tokens.forEach((kt, j) => {
      lines.push([i, quote(qt), j, quote(kt), view.attention[i][j], view.attribution[i][j], view.candidate[i][j], view.dropped[i][j]].join(","));
    }));
    return lines.join("\n") + "\n";
  }

  // The visible model-view grid as one PNG: each map at 3 px per cell, with layer and head labels.
  function gridPng() {
    const canvases = [...document.querySelectorAll("#grid canvas")];
    if (!canvases.length) return;
    const layers = [...new Set(canvases.map((c) => Number(c.dataset.layer)))];
    const heads = [...new Set(canvases.map((c) => Number(c.dataset.head)))];
    const n = canvases[0].width, cell = Math.max(96, n * 3), gap = 8, label = 40;
    const out = document.createElement("canvas");
    out.width = label + heads.length * (cell + gap);
    out.height = label + layers.length * (cell + gap);
    const context = out.getContext("2d");
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, out.width, out.height);
    context.imageSmoothingEnabled = false;
    context.fillStyle = "#677086";
    context.font = "600 14px sans-serif";
    context.textAlign = "center";
    heads.forEach((h, j) => context.fillText(`H${h}`, label + j * (cell + gap) + cell / 2, 24));
    context.textAlign = "right";
    layers.forEach((l, i) => context.fillText(`L${l}`, label - 8, label + i * (cell + gap) + cell / 2 + 5));
    for (const canvas of canvases) {
      const i = layers.indexOf(Number(canvas.dataset.layer)), j = heads.indexOf(Number(canvas.dataset.head));
      context.drawImage(canvas, label + j * (cell + gap), label + i * (cell + gap), cell, cell);
    }
    out.toBlob((blob) => {
      download(blob, "image/png", `addrop-${state.method}-model-view-${state.grid}.png`);
      setStatus("Saved the model view as PNG.");
    }, "image/png");
  }

  async function standaloneHtml(element) {
    const library = await (await fetch("/vendor/plotly.min.js")).text();
    // "<" escaped so no token can close the script element.
    const figure = JSON.stringify({ data: element.data, layout: element.layout }).replace(/</g, "\\u003c");
    const title = escapeHtml(`AD-DROP view: ${state.text.slice(0, 80)}`);
    return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>` +
      `<script>${library.replace(/<\/script/gi, "<\\/script")}</script></head><body style="margin:0;font-family:sans-serif">` +
      `<div id="figure" style="width:100%;height:100vh"></div><script>const f=${figure};` +
      `Plotly.newPlot("figure",f.data,Object.assign(f.layout,{autosize:true}),{responsive:true,displaylogo:false});</script></body></html>`;
  }

  async function exportAs(format) {
    if (!current) return;
    if (state.view === "model") {
      if (format === "png") gridPng();
      return;
    }
    const element = activeFigure();
    const name = exportName();
    try {
      if (format === "png" || format === "svg") {
        const height = element.layout.height;
        await Plotly.downloadImage(element, { format, filename: name, width: element.clientWidth, height, scale: format === "png" ? 2 : 1 });
      } else if (format === "json") {
        download(JSON.stringify(viewMatrices()), "application/json", `${name}.json`);
      } else if (format === "csv") {
        download(toCsv(viewMatrices()), "text/csv", `${name}.csv`);
      } else if (format === "html") {
        download(await standaloneHtml(element), "text/html", `${name}.html`);
      }
      setStatus(`Saved ${name}.${format}.`);
    } catch (error) {
      setStatus(`Export failed: ${error.message}`, true);
    }
  }

  // ---------- controls ----------
  function setSegmented(id, value) {
    document.querySelectorAll(`#${id} button`).forEach((b) => b.classList.toggle("active", b.dataset.value === String(value)));
  }

  function syncControls() {
    $("text").value = state.text;
    $("text-pair").value = state.pair;
    $("p").value = state.p; $("p-value").textContent = Number(state.p).toFixed(2);
    $("q").value = state.q; $("q-value").textContent = Number(state.q).toFixed(2);
    $("seed").value = state.seed;
    $("steps").value = state.steps;
    $("steps-field").classList.toggle("hidden", state.method !== "IGA");
    $("text-b").value = state.text_b;
    $("text-pair-b").value = state.pair_b;
    $("layer-filter").value = state.layers;
    $("head-filter").value = state.heads;
    if ($("model").querySelector(`option[value="${CSS.escape(state.model)}"]`)) $("model").value = state.model;
    if ($("model-b").querySelector(`option[value="${CSS.escape(state.model_b || state.model)}"]`)) $("model-b").value = state.model_b || state.model;
    if ($("layer").options.length) $("layer").value = String(state.layer);
    if ($("head").options.length) $("head").value = String(state.head);
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
    // the model view is a grid of canvases: it exports as one PNG
    document.querySelectorAll("[data-export]").forEach((button) => {
      button.classList.toggle("hidden", view === "model" && button.dataset.export !== "png");
    });
    setSegmented("view", view);
    if (view === "layer") drawLayerView();
    if (view === "model") { if (gridData && gridData.quantity === state.grid) drawGrid(); else loadGrid(); }
    if (view === "compare") { if (compareData) drawCompare(); else loadCompare(); }
    window.dispatchEvent(new Event("resize"));
  }

  function debounce(fn, wait) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), wait); };
  }

  async function loadModels() {
    try {
      const response = await fetch("/api/models");
      const models = await response.json();
      const options = models.map((m) => [m.name, m.kind === "checkpoint" ? `${m.name} — ${m.description}` : m.name]);
      if (!models.some((m) => m.name === state.model)) {
        options.push([state.model, `${state.model} (not available)`]);
      }
      fillSelect($("model"), options, state.model);
      fillSelect($("model-b"), options, state.model_b || state.model);
      models.forEach((m, i) => { $("model").options[i].title = m.description; });
    } catch (error) {
      setStatus(`Could not list models: ${error.message}`, true);
    }
  }

  function bind() {
    $("explain-button").addEventListener("click", () => {
      state.text = $("text").value; state.pair = $("text-pair").value;
      writeUrl(); loadLayer();
    });
    $("text").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("explain-button").click();
    });
    $("text-pair").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("explain-button").click();
    });
    $("model").addEventListener("change", () => { state.model = $("model").value; writeUrl(); if (current) loadLayer(); });
    for (const id of ["method", "mode"]) {
      document.querySelectorAll(`#${id} button`).forEach((button) => button.addEventListener("click", () => {
        state[id] = button.dataset.value;
        syncControls(); writeUrl();
        if (!current) return;
        if (id === "method") loadLayer(); else reloadMasks();
      }));
    }
    const masksSoon = debounce(reloadMasks, 60);
    for (const id of ["p", "q"]) {
      $(id).addEventListener("input", () => {
        state[id] = Number($(id).value);
        $(`${id}-value`).textContent = state[id].toFixed(2);
        writeUrl(); masksSoon();
      });
    }
    $("seed").addEventListener("change", () => {
      state.seed = clampNumber(parseInt($("seed").value, 10), 0, 4294967295, 0);
      syncControls(); writeUrl();
      if (state.method === "RD") loadLayer(); else reloadMasks();
    });
    $("steps").addEventListener("change", () => {
      state.steps = clampNumber(parseInt($("steps").value, 10), 1, 100, 20);
      syncControls(); writeUrl(); if (current) loadLayer();
    });
    $("layer").addEventListener("change", () => { state.layer = Number($("layer").value); writeUrl(); loadLayer(); });
    $("head").addEventListener("change", () => {
      state.head = $("head").value; writeUrl();
      drawLayerView();
      if (state.view === "model") drawGrid();
      if (state.view === "compare") drawCompare();
    });
    document.querySelectorAll("#view button").forEach((button) => button.addEventListener("click", () => {
      setView(button.dataset.value); writeUrl();
    }));
    document.querySelectorAll("#grid-quantity button").forEach((button) => button.addEventListener("click", () => {
      state.grid = button.dataset.value; setSegmented("grid-quantity", state.grid); writeUrl();
      if (gridData && (state.grid === "mask" || gridData.maps[state.grid])) { gridData.quantity = state.grid; drawGrid(); } else loadGrid();
    }));
    document.querySelectorAll("#compare-quantity button").forEach((button) => button.addEventListener("click", () => {
      state.cq = button.dataset.value; setSegmented("compare-quantity", state.cq); writeUrl(); drawCompare();
    }));
    const filter = debounce(() => { state.layers = $("layer-filter").value; state.heads = $("head-filter").value; writeUrl(); drawGrid(); }, 200);
    $("layer-filter").addEventListener("input", filter);
    $("head-filter").addEventListener("input", filter);
    $("compare-button").addEventListener("click", () => {
      state.model_b = $("model-b").value === state.model ? "" : $("model-b").value;
      state.text_b = $("text-b").value; state.pair_b = $("text-pair-b").value;
      writeUrl(); loadCompare();
    });
    document.querySelectorAll("[data-export]").forEach((button) => button.addEventListener("click", () => exportAs(button.dataset.export)));
    $("copy-link").addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(location.href); setStatus("Link to this view copied."); } catch (error) { setStatus(location.href); }
    });
  }

  async function start() {
    readUrl();
    bind();
    await loadModels();
    syncControls();
    setView(state.view);
    if (state.text.trim()) loadLayer();
    else setStatus("Type a sentence (and optionally a second one), then Explain. Ctrl+Enter works too.");
  }

  start();
})();
