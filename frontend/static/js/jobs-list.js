/* The jobs list: polls the API and updates rows in place (selection and scroll are kept). */

import { el, setStatus } from "./common/dom.js";
import { api } from "./common/http.js";
import * as Jobs from "./jobs-common.js";

(() => {
  const PAGE = 25;
  const selected = new Set();
  let state = new URLSearchParams(location.search).get("state") || "";
  let offset = 0;
  const body = document.querySelector("#jobs-table tbody");

  function progressCell(job) {
    const p = job.progress;
    const bar = el("div", { class: "progress" }, el("div", { style: `width:${job.state === "queued" ? 0 : p.percent}%` }));
    const text = job.state === "running"
      ? `ep ${p.epoch.toFixed(1)}/${p.epochs} · ${p.percent.toFixed(0)}% · ETA ${Jobs.duration(p.eta_seconds)}`
      : job.state === "queued" ? "waiting for a worker" : `${p.epochs} epochs max · stopped at ${p.epoch.toFixed(1)}`;
    return el("td", { class: "progress-cell" }, bar, el("span", { class: "small muted", text }));
  }

  function row(job) {
    const box = el("input", { type: "checkbox", "aria-label": `select job ${job.id}`, checked: selected.has(job.id) });
    box.addEventListener("change", () => { box.checked ? selected.add(job.id) : selected.delete(job.id); update(); });
    const state = job.cancel_requested && job.state === "running" ? "stopping" : job.state;
    return el("tr", { "data-id": job.id },
      el("td", {}, box),
      el("td", { class: "mono" }, el("a", { href: `/jobs/${job.id}`, text: job.id })),
      el("td", {}, el("a", { href: `/jobs/${job.id}`, text: job.name }),
        job.error ? el("div", { class: "small error-text", title: job.error, text: job.error.slice(0, 90) }) : ""),
      el("td", {}, el("span", { class: `badge ${job.state}`, text: state })),
      el("td", { text: `${job.task} · ${Jobs.modelName(job.model).split("/").pop()}` }),
      progressCell(job),
      el("td", { class: "mono" }, job.best_metric === null ? "–" : `${job.metric} ${Jobs.number(job.best_metric)}`),
      el("td", { class: "small", text: Jobs.setting(job) }),
      el("td", { class: "small", text: Jobs.training(job) }),
      el("td", { class: "small muted", text: Jobs.when(job.created_at) }));
  }

  function update() {
    const button = document.getElementById("compare-button");
    button.disabled = selected.size < 1;
    button.textContent = selected.size ? `Compare selected (${selected.size})` : "Compare selected";
  }

  async function refresh() {
    const params = new URLSearchParams({ limit: PAGE, offset });
    if (state) params.append("state", state);
    try {
      const page = await api(`/api/jobs?${params}`);
      body.replaceChildren(...page.items.map(row));
      document.getElementById("empty").classList.toggle("hidden", page.items.length > 0);
      setStatus(page.total ? `${offset + 1}–${offset + page.items.length} of ${page.total}` : "", false, "list-status");
      document.getElementById("prev-page").disabled = offset === 0;
      document.getElementById("next-page").disabled = offset + PAGE >= page.total;
    } catch (error) {
      setStatus(`could not refresh: ${error.message}`, true, "list-status");
    }
  }

  document.querySelectorAll("#state-filter button").forEach((button) => {
    button.classList.toggle("active", button.dataset.state === state);
    button.addEventListener("click", () => {
      state = button.dataset.state;
      offset = 0;
      document.querySelectorAll("#state-filter button").forEach((b) => b.classList.toggle("active", b === button));
      history.replaceState(null, "", state ? `?state=${state}` : location.pathname);
      refresh();
    });
  });
  document.getElementById("prev-page").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); refresh(); });
  document.getElementById("next-page").addEventListener("click", () => { offset += PAGE; refresh(); });
  document.getElementById("compare-button").addEventListener("click", () => {
    location.href = `/jobs/compare?ids=${[...selected].sort((a, b) => a - b).join(",")}`;
  });
  refresh();
  setInterval(refresh, 2000);
})();
