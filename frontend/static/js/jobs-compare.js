/* Several jobs' curves overlaid; running jobs are re-read every few seconds (zoom is kept). */
"use strict";

(() => {
  const picker = document.getElementById("job-picker");
  const cache = new Map();  // id -> {job, points}
  let ids = (new URLSearchParams(location.search).get("ids") || "").split(",").map(Number).filter(Boolean);

  async function load(id) {
    const known = cache.get(id);
    if (known && Jobs.FINISHED.includes(known.job.state)) return known;
    const [job, points] = await Promise.all([Jobs.api(`/api/jobs/${id}`), Jobs.api(`/api/jobs/${id}/metrics`)]);
    cache.set(id, { job, points });
    return cache.get(id);
  }

  function render(runs) {
    const weight = Number(document.getElementById("smoothing").value);
    const byEpoch = document.getElementById("by-epoch").checked;
    const loss = [], metric = [], devLoss = [];
    const body = document.querySelector("#compare-table tbody");
    body.replaceChildren();
    runs.forEach(({ job, points }, i) => {
      const color = Jobs.COLORS[i % Jobs.COLORS.length];
      const label = `#${job.id} ${job.name}`;
      const steps = points.filter((p) => p.kind === "step" && p.values.loss !== undefined);
      const y = steps.map((p) => p.values.loss);
      loss.push({ x: steps.map((p) => (byEpoch ? p.epoch : p.step)), y: Jobs.smooth(y, weight), name: label, mode: "lines",
                  line: { color, width: 2 }, legendgroup: String(job.id) });
      const evals = points.filter((p) => p.kind === "eval");
      metric.push({ x: evals.map((p) => p.epoch), y: evals.map((p) => p.values[job.metric]), name: label,
                    mode: "lines+markers", line: { color, width: 2 }, legendgroup: String(job.id), showlegend: false });
      devLoss.push({ x: evals.map((p) => p.epoch), y: evals.map((p) => p.values.loss), name: label,
                     mode: "lines+markers", line: { color, width: 2, dash: "dot" }, legendgroup: String(job.id), showlegend: false });
      const last = evals.length ? evals[evals.length - 1].values[job.metric] : null;
      body.append(Jobs.el("tr", {},
        Jobs.el("td", {}, Jobs.el("span", { class: "swatch", style: `background:${color}` })),
        Jobs.el("td", {}, Jobs.el("a", { href: `/jobs/${job.id}`, text: label })),
        Jobs.el("td", {}, Jobs.badge(job.state)),
        Jobs.el("td", { class: "small", text: Jobs.setting(job) }),
        Jobs.el("td", { class: "small", text: Jobs.training(job) }),
        Jobs.el("td", { class: "mono", text: job.best_metric === null ? "–" : `${job.metric} ${Jobs.number(job.best_metric)}` }),
        Jobs.el("td", { text: job.best_epoch ?? "–" }),
        Jobs.el("td", { class: "mono", text: Jobs.number(last) })));
    });
    const metricName = runs.length ? [...new Set(runs.map((r) => r.job.metric))].join(" / ") : "metric";
    Plotly.react("compare-loss", loss, Jobs.layout("Training loss (smoothed)", byEpoch ? "epoch" : "step", "loss"), Jobs.plotConfig);
    Plotly.react("compare-metric", metric, Jobs.layout(`Dev ${metricName} per epoch`, "epoch", metricName, { showlegend: false }), Jobs.plotConfig);
    Plotly.react("compare-dev-loss", devLoss, Jobs.layout("Dev loss per epoch", "epoch", "loss", { showlegend: false }), Jobs.plotConfig);
  }

  async function refresh() {
    try {
      const runs = await Promise.all(ids.map(load));
      render(runs);
      document.getElementById("compare-status").textContent = ids.length ? "" : "Choose jobs above.";
    } catch (error) {
      document.getElementById("compare-status").textContent = error.message;
    }
  }

  async function fillPicker() {
    const page = await Jobs.api("/api/jobs?limit=200");
    picker.replaceChildren(...page.items.map((job) => {
      const option = new Option(`#${job.id} ${job.name} — ${job.state}${job.best_metric !== null ? `, best ${job.metric} ${Jobs.number(job.best_metric)}` : ""}`, job.id);
      option.selected = ids.includes(job.id);
      return option;
    }));
  }

  picker.addEventListener("change", () => {
    ids = [...picker.selectedOptions].map((o) => Number(o.value)).sort((a, b) => a - b);
    history.replaceState(null, "", `?ids=${ids.join(",")}`);
    refresh();
  });
  document.getElementById("smoothing").addEventListener("input", (e) => {
    document.getElementById("smoothing-value").textContent = Number(e.target.value).toFixed(2);
    render(ids.map((id) => cache.get(id)).filter(Boolean));
  });
  document.getElementById("by-epoch").addEventListener("change", () => render(ids.map((id) => cache.get(id)).filter(Boolean)));
  fillPicker().then(refresh);
  setInterval(refresh, 3000);
})();
