/* One job's page: live curves from the job's event stream (Plotly.react with a fixed uirevision, so zoom
   and legend choices survive updates), attribution dynamics when the job records them (curves, and the epoch
   scrubber of its probe maps), a translation job's dev translations per epoch, progress, best vs last metrics,
   settings, log, cancel, keep and delete. */

import { $, el, setStatus } from "./common/dom.js";
import { api } from "./common/http.js";
import * as Jobs from "./jobs-common.js";
import { confirmStep, deletePrompt, jobNotDeletable } from "./deletion.js";
import { Scrubber } from "./probe-scrubber.js";

(() => {
  const root = document.getElementById("job-page");
  const jobId = Number(root.dataset.jobId);
  let job = JSON.parse(document.getElementById("job-data").textContent);
  const points = [];
  const logLines = [];
  let scheduled = false;

  function byKind(kind) { return points.filter((p) => p.kind === kind); }

  function epochStarts() {
    const starts = new Map();
    for (const p of byKind("epoch")) starts.set(Math.round(p.epoch), p.step);
    return starts;
  }

  function stepOfEpoch(e) {
    const starts = epochStarts();
    if (starts.has(e)) return starts.get(e);
    const perEpoch = job.progress.max_steps / Math.max(job.progress.epochs, 1);
    return perEpoch ? e * perEpoch : e;
  }

  function renderLoss() {
    const steps = byKind("step").filter((p) => p.values.loss !== undefined);
    const x = steps.map((p) => p.step), y = steps.map((p) => p.values.loss);
    const weight = Number($("smoothing").value);
    const shading = Jobs.addropShapes(Jobs.addropEpochs(points), stepOfEpoch);
    Plotly.react("loss-chart", [
      { x, y, name: "loss (raw)", mode: "lines", line: { color: "rgba(44,95,191,0.25)", width: 1 }, hoverinfo: "skip" },
      { x, y: Jobs.smooth(y, weight), name: "training loss", mode: "lines", line: { color: "#2c5fbf", width: 2 } },
    ], Jobs.untilDrawn(Jobs.layout("Training loss per step", "step", "loss", { shapes: shading }), steps.length > 0,
                       "no training step logged yet"), Jobs.plotConfig);
  }

  function epochTraces(key, name, color) {
    const evals = byKind("eval").filter((p) => p.values[key] !== undefined);
    return { x: evals.map((p) => p.epoch), y: evals.map((p) => p.values[key]), name, mode: "lines+markers",
             line: { color, width: 2 }, marker: { size: 7 } };
  }

  function trainLossPerEpoch() {
    // An evaluation closes its epoch even before the next status event moves the progress on.
    const reached = Math.max(job.progress.epoch, ...byKind("eval").map((p) => p.epoch));
    const means = Jobs.epochLossMeans(byKind("step"), reached);
    return { x: means.map((m) => m.x), y: means.map((m) => m.y), name: "training loss (epoch mean)", mode: "lines+markers",
             text: means.map((m) => `epoch ${m.epoch}${m.partial ? " so far" : ""}: mean of ${m.steps} logged steps`),
             hovertemplate: "%{text}: %{y:.4f}<extra></extra>",
             line: { color: "#9aa3b5", width: 2, dash: "dot" },
             marker: { size: 6, symbol: means.map((m) => (m.partial ? "circle-open" : "circle")) } };
  }

  function renderEpochCharts() {
    const shading = Jobs.addropShapes(Jobs.addropEpochs(points), (e) => e);
    const metric = epochTraces(job.metric, `dev ${job.metric}`, "#1f8a4c");
    const best = metric.y.length ? metric.y.indexOf(Math.max(...metric.y)) : -1;
    const traces = [metric];
    if (best >= 0) traces.push({ x: [metric.x[best]], y: [metric.y[best]], name: "best", mode: "markers",
                                 marker: { symbol: "star", size: 14, color: "#ff9f1c", line: { color: "#7a4b00", width: 1 } } });
    const epochAxis = { xaxis: { title: { text: "epoch", font: { size: 11 } }, gridcolor: "#eef0f4", dtick: 1, rangemode: "tozero" } };
    // a translation's chrF beside its BLEU (the tiny or early model's BLEU sits near 0 while chrF moves)
    const second = job.task_kind === "translation" && job.metric !== "chrf" ? { ...epochTraces("chrf", "dev chrF", "#16a0a0"), yaxis: "y2" } : null;
    if (second) traces.push(second);
    const extra = second ? { margin: { l: 56, r: 56, t: 34, b: 42 },
                             yaxis2: { overlaying: "y", side: "right", title: { text: "chrF", font: { size: 11 } }, showgrid: false } } : {};
    const title = second ? `Dev ${job.metric} and chrF per epoch` : `Dev ${job.metric} per epoch`;
    Plotly.react("dev-metric-chart", traces, Jobs.untilDrawn(
      Jobs.fitted(Jobs.layout(title, "epoch", job.metric, { shapes: shading, ...epochAxis, ...extra }), traces),
      metric.y.length > 0, "no dev evaluation yet: one follows each epoch"), Jobs.plotConfig);
    const losses = [epochTraces("loss", "dev loss", "#c0392b"), trainLossPerEpoch()];
    Plotly.react("dev-loss-chart", losses, Jobs.untilDrawn(
      Jobs.fitted(Jobs.layout("Dev loss vs training loss", "epoch", "loss", { shapes: shading, ...epochAxis }), losses),
      losses.some((t) => t.y.length > 0), "no loss logged yet"), Jobs.plotConfig);
    const steps = byKind("step").filter((p) => p.values.learning_rate !== undefined);
    const lrTraces = [
      { x: steps.map((p) => p.step), y: steps.map((p) => p.values.learning_rate), name: "learning rate", mode: "lines",
        line: { color: "#8e44ad", width: 2 } },
      { x: steps.map((p) => p.step), y: steps.map((p) => p.values.grad_norm), name: "grad norm", mode: "lines",
        yaxis: "y2", line: { color: "#16a0a0", width: 1 } },
    ];
    const lrLayout = Jobs.fitted(Jobs.layout("Learning rate and gradient norm", "step", "learning rate", {
      margin: { l: 56, r: 56, t: 34, b: 42 },
      yaxis2: { overlaying: "y", side: "right", title: { text: "grad norm", font: { size: 11 } }, showgrid: false,
                visible: steps.length > 0 },
      shapes: Jobs.addropShapes(Jobs.addropEpochs(points), stepOfEpoch),
    }), lrTraces);
    // the rate from 0, so that a constant schedule (the authors' protocol) reads as one, not as a line at -1..1
    const top = lrTraces[0].y.reduce((most, v) => (Number.isFinite(v) ? Math.max(most, v) : most), 0);
    if (top > 0) lrLayout.yaxis = { ...lrLayout.yaxis, range: [0, top * 1.05], autorange: false };
    Plotly.react("lr-chart", lrTraces, Jobs.untilDrawn(lrLayout, steps.length > 0, "no training step logged yet"), Jobs.plotConfig);
  }

  /** One line per key of the points (``{x: epoch, y: value}``), in the order of ``keys``. */
  function lines(pts, keys, name, style = () => ({})) {
    return keys.map((key, i) => {
      const having = pts.filter((p) => p.values[key] !== undefined);
      return { x: having.map((p) => p.epoch), y: having.map((p) => p.values[key]), name: name(key), mode: "lines+markers",
               line: { color: Jobs.COLORS[i % Jobs.COLORS.length], width: 2 }, marker: { size: 6 }, ...style(key) };
    });
  }

  function renderDynamics() {
    if (!$("dynamics-panel")) return;
    const dynamics = byKind("dynamics");
    const epochAxis = { shapes: Jobs.addropShapes(Jobs.addropEpochs(points), (e) => e),
                        xaxis: { title: { text: "epoch", font: { size: 11 } }, gridcolor: "#eef0f4", dtick: 1, rangemode: "tozero" } };
    const waiting = "recorded at the end of each epoch";
    const layers = [...new Set(dynamics.flatMap((p) => Object.keys(p.values)).filter((k) => k.startsWith("concentration_L"))
      .map((k) => Number(k.slice("concentration_L".length))))].sort((a, b) => a - b);
    const layerName = (prefix) => (key) => `layer ${key.slice(prefix.length)}`;
    // each chart's y axis fitted to its lines: a share of 1.0 in every epoch is not drawn from -0.5 to 1.5
    const chart = (id, traces, title, yTitle, drawn, sentence = waiting) => Plotly.react(id, traces,
      Jobs.untilDrawn(Jobs.fitted(Jobs.layout(title, "epoch", yTitle, epochAxis), traces), drawn, sentence), Jobs.plotConfig);
    chart("dynamics-concentration-chart", lines(dynamics, layers.map((l) => `concentration_L${l}`), layerName("concentration_L")),
          "Concentration: share of a row's attribution in its top-p keys", "share", dynamics.length > 0);
    chart("dynamics-entropy-chart", lines(dynamics, layers.map((l) => `entropy_L${l}`), layerName("entropy_L")),
          "Entropy of a row's attribution (1: spread evenly)", "normalised entropy", dynamics.length > 0);
    // reliance: the share of predictions that change when the top-p keys are dropped (random: as many random keys);
    // stability: the maps' rank correlation with the previous epoch's
    const names = { reliance: "reliance (top-p dropped)", reliance_random: "random keys dropped", stability: "stability" };
    chart("dynamics-reliance-chart", lines(dynamics, Object.keys(names), (k) => names[k],
      (k) => (k === "reliance_random" ? { line: { color: Jobs.COLORS[0], width: 2, dash: "dot" } } : {})),
          "Reliance and stability", "share / Spearman ρ", dynamics.length > 0);
    const evals = byKind("eval");
    const shares = [...new Set(evals.flatMap((p) => Object.keys(p.values)).filter((k) => k.startsWith("pred_share_")))]
      .sort((a, b) => Number(a.slice("pred_share_".length)) - Number(b.slice("pred_share_".length)));
    chart("dynamics-shares-chart", lines(evals, shares, (k) => `class ${k.slice("pred_share_".length)}`),
          "Dev predictions: share of each class", "share", shares.length > 0, "no dev evaluation with class shares yet");
    $("dynamics-link").classList.toggle("hidden", !dynamics.length);
  }

  const scrubber = $("dynamics-scrubber") ? new Scrubber($("dynamics-scrubber")) : null;
  let probe = null;
  let probeFetched = -1;  // the number of dynamics points the probe (its recorded epochs) was read after
  let scrubbedCheckpoint = "";  // the best epoch and checkpoint the scrubber's explorer links were drawn with

  /** The scrubber's probe set, read again whenever an epoch's dynamics have arrived since. */
  async function refreshScrubber() {
    if (!scrubber) return;
    const recorded = byKind("dynamics").length;
    if (recorded === probeFetched) return;
    probeFetched = recorded;
    if (!recorded) { scrubber.setRuns([]); return; }
    try {
      probe = await api(`/api/jobs/${jobId}/dynamics/probe`);
    } catch (error) {
      setStatus(`attribution maps: ${error.message}`, true, "action-status");
      return;
    }
    scrubbedCheckpoint = `${job.best_epoch}/${job.explorer_model}`;
    scrubber.setRuns([{ job, probe }]);
  }

  /** A finished job's best epoch and checkpoint decide which epoch opens in the explorer. */
  function rescrubOnCheckpoint() {
    if (!scrubber || !probe || `${job.best_epoch}/${job.explorer_model}` === scrubbedCheckpoint) return;
    scrubbedCheckpoint = `${job.best_epoch}/${job.explorer_model}`;
    scrubber.setRuns([{ job, probe }]);
  }

  function renderMetricsTable() {
    const evals = byKind("eval");
    const body = document.querySelector("#metrics-table tbody");
    body.replaceChildren();
    if (!evals.length) { body.append(el("tr", {}, el("td", { colspan: 3, class: "muted", text: "no dev evaluation yet" }))); return; }
    const best = evals.reduce((a, b) => ((b.values[job.metric] ?? -Infinity) > (a.values[job.metric] ?? -Infinity) ? b : a));
    const last = evals[evals.length - 1];
    const keys = Object.keys(last.values).filter((k) => !["runtime", "samples_per_second", "steps_per_second"].includes(k));
    body.append(el("tr", {}, el("td", { text: "epoch" }), el("td", { text: Jobs.epochNumber(best.epoch) }), el("td", { text: Jobs.epochNumber(last.epoch) })));
    for (const key of keys) {
      const row = el("tr", { class: key === job.metric ? "highlight" : null }, el("td", { text: key }),
        el("td", { class: "mono", text: Jobs.number(best.values[key]) }), el("td", { class: "mono", text: Jobs.number(last.values[key]) }));
      body.append(row);
    }
    $("last-metric").textContent = Jobs.number(last.values[job.metric]);
    $("last-epoch").textContent = `epoch ${Jobs.epochNumber(last.epoch)}`;
  }

  let predictions = [];
  let predictionsFetched = -1;  // the number of dev evaluations the shown predictions were fetched after

  /** A translation job's kept dev translations: fetched again whenever a dev evaluation has arrived since. */
  async function refreshPredictions() {
    if (!$("predictions-panel")) return;
    const evaluations = byKind("eval").length;
    if (evaluations === predictionsFetched) return;
    predictionsFetched = evaluations;
    try {
      predictions = await api(`/api/jobs/${jobId}/predictions`);
    } catch (error) {
      setStatus(`dev translations: ${error.message}`, true, "action-status");
      return;
    }
    const select = $("predictions-epoch");
    const chosen = select.value;
    const following = !chosen || chosen === select.options[select.options.length - 1]?.value;  // on the latest: stay on it
    select.replaceChildren(...predictions.map((r) => new Option(`${r.epoch}`, String(r.epoch))));
    if (predictions.length) select.value = following ? String(predictions[predictions.length - 1].epoch) : chosen;
    renderPredictions();
  }

  function renderPredictions() {
    const record = predictions.find((r) => String(r.epoch) === $("predictions-epoch").value);
    const body = document.querySelector("#predictions-table tbody");
    if (!record) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "muted", text: "no dev evaluation yet: one follows each epoch" })));
      return;
    }
    body.replaceChildren(...record.examples.map((example, i) => el("tr", {},
      el("td", { class: "mono", text: String(i) }), el("td", { text: example.source }), el("td", { text: example.reference }),
      el("td", { class: example.prediction === null ? "muted" : null, text: example.prediction ?? "(not generated)" }))));
  }

  function render() {
    scheduled = false;
    renderLoss();
    renderEpochCharts();
    renderDynamics();
    refreshScrubber();
    renderMetricsTable();
    refreshPredictions();
  }

  function schedule() {
    if (!scheduled) { scheduled = true; requestAnimationFrame(render); }
  }

  function renderStatus() {
    const state = $("job-state");
    state.className = `badge ${job.state}`;
    state.textContent = job.cancel_requested && job.state === "running" ? "stopping" : job.state;
    const p = job.progress;
    $("progress-bar").style.width = `${p.percent}%`;
    $("progress-text").textContent = `epoch ${p.epoch.toFixed(2)} / ${p.epochs} · step ${p.step} / ${p.max_steps || "?"} · ${p.percent.toFixed(1)}%`;
    $("eta").textContent = job.state === "running" ? Jobs.duration(p.eta_seconds) : "–";
    $("best-metric").textContent = Jobs.number(job.best_metric);
    $("best-epoch").textContent = job.best_epoch !== null ? `epoch ${Jobs.epochNumber(job.best_epoch)}` : "";
    $("worker").textContent = job.worker || "–";
    const took = job.started_at && job.finished_at ? ` · ran ${Jobs.duration((new Date(job.finished_at) - new Date(job.started_at)) / 1000)}` : "";
    $("times").textContent = `queued ${Jobs.when(job.created_at)}${took}`;
    const finished = Jobs.FINISHED.includes(job.state);
    $("cancel-button").disabled = finished || job.cancel_requested;
    $("cancel-button").classList.toggle("hidden", finished);
    $("explore-link").classList.toggle("hidden", !job.explorer_model);
    $("checkpoint-link").classList.toggle("hidden", !job.checkpoint_available);
    $("pruned-note").classList.toggle("hidden", !job.checkpoint_pruned_at);
    if (job.checkpoint_pruned_at) {
      $("pruned-note").textContent = `The best checkpoint was removed by retention ${Jobs.when(job.checkpoint_pruned_at)} (the server keeps those of its most recent jobs and of jobs marked keep); metrics and log stay.`;
    }
    /** @type {HTMLInputElement} */ ($("keep-box")).checked = job.keep;
    const refusal = jobNotDeletable(job);
    $("delete-button").classList.toggle("hidden", !finished || job.sweep_id !== null);
    $("delete-button").title = refusal || "Delete this job and its files";
    $("job-error").classList.toggle("hidden", !job.error);
    $("job-error").textContent = job.error ? `Failed: ${job.error}` : "";
    $("job-waiting").classList.toggle("hidden", !job.waiting_reason);
    $("job-waiting").textContent = job.waiting_reason ? `Waiting: ${job.waiting_reason}` : "";
    $("job-warnings").classList.toggle("hidden", !job.warnings.length);
    $("job-warnings").textContent = job.warnings.map((w) => `Note: ${w}`).join(" ");
    $("live-dot").classList.toggle("on", !finished);
    rescrubOnCheckpoint();
  }

  function renderSettings() {
    const body = document.querySelector("#settings-table tbody");
    const rows = [["model", Jobs.modelName(job.model)], ["task", `${job.task} (${job.spec.data.source}${job.spec.data.data_dir ? ": " + job.spec.data.data_dir : ""})`]];
    for (const section of ["training", "addrop", "dynamics"]) {
      for (const [key, value] of Jobs.usedSettings(job.spec, section)) rows.push([`${section}.${key}`, JSON.stringify(value)]);
    }
    for (const key of ["max_train_samples", "max_eval_samples", "task_kind", "text_fields", "label_field", "label_names"]) {
      const value = job.spec.data[key];
      if (value !== null && value !== undefined && !(Array.isArray(value) && !value.length)) rows.push([`data.${key}`, JSON.stringify(value)]);
    }
    body.replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { class: "mono", text: v }))));
  }

  function appendLog(lines) {
    logLines.push(...lines);
    logLines.splice(0, Math.max(0, logLines.length - 500));
    const box = $("log");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 30;
    box.textContent = logLines.map((l) => `${l.time.slice(11, 19)} ${l.level.padEnd(7)} ${l.message}`).join(" ");
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  function connect() {
    const source = new EventSource(`/api/jobs/${jobId}/events`);
    source.addEventListener("metrics", (e) => { points.push(...JSON.parse(e.data)); schedule(); });
    source.addEventListener("status", (e) => { job = JSON.parse(e.data); renderStatus(); });
    source.addEventListener("log", (e) => appendLog(JSON.parse(e.data)));
    source.addEventListener("end", () => { source.close(); $("stream-status").textContent = "finished"; renderStatus(); schedule(); });
    source.onopen = () => { $("stream-status").textContent = Jobs.FINISHED.includes(job.state) ? "" : "live"; };
    // EventSource reconnects by itself and sends Last-Event-ID, so nothing is missed or repeated.
    source.onerror = () => { if (source.readyState !== EventSource.CLOSED) $("stream-status").textContent = "reconnecting…"; };
  }

  if ($("predictions-epoch")) $("predictions-epoch").addEventListener("change", renderPredictions);
  $("smoothing").addEventListener("input", () => {
    $("smoothing-value").textContent = Number($("smoothing").value).toFixed(2);
    renderLoss();
  });

  $("cancel-button").addEventListener("click", async () => {
    if (!confirm(`Cancel job ${jobId}? A running job stops after its current step.`)) return;
    try {
      job = await api(`/api/jobs/${jobId}/cancel`, { method: "POST" });
      setStatus(job.state === "cancelled" ? "Cancelled." : "Cancel requested; the worker stops after its current step.", false, "action-status");
      renderStatus();
    } catch (error) {
      setStatus(error.message, true, "action-status");
    }
  });

  $("keep-box").addEventListener("change", async (event) => {
    try {
      job = await api(`/api/jobs/${jobId}`, { method: "PATCH", json: { keep: event.target.checked } });
      setStatus(job.keep ? "Kept: retention will not remove this job's checkpoint." : "No longer kept: retention may remove its checkpoint in turn.", false, "action-status");
    } catch (error) {
      setStatus(error.message, true, "action-status");
    }
    renderStatus();
  });

  confirmStep($("delete-button"), $("delete-confirm"), () => jobNotDeletable(job) || deletePrompt("job", job), async () => {
    const refusal = jobNotDeletable(job);
    if (refusal) throw new Error(`Job ${jobId} cannot be deleted: ${refusal}.`);
    await api(`/api/jobs/${jobId}`, { method: "DELETE" });
    location.href = "/jobs";
  });

  renderStatus();
  renderSettings();
  render();
  // Opened after "load": a stream that is open earlier keeps the page loading for as long as the job runs.
  if (document.readyState === "complete") connect(); else window.addEventListener("load", connect);
})();
