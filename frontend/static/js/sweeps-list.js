/* The sweeps list: each sweep's progress, baseline and best setting, refreshed every few seconds. */

import { signed, summaryText } from "./sweep-view.js";

/* global Jobs */  // jobs-common.js, a classic script loaded before this module

async function refresh() {
  try {
    const list = await Jobs.api("/api/sweeps?limit=100");
    const rows = list.items.map((s) => {
      const done = ["complete", "pruned", "failed", "cancelled"].reduce((n, k) => n + (s.counts[k] || 0), 0);
      const best = s.best;
      return Jobs.el("tr", {},
        Jobs.el("td", {}, Jobs.el("a", { href: `/sweeps/${s.id}`, text: `#${s.id}` })),
        Jobs.el("td", {}, Jobs.el("a", { href: `/sweeps/${s.id}`, text: s.name })),
        Jobs.el("td", {}, Jobs.el("span", { class: `badge ${s.state}`, text: s.state })),
        Jobs.el("td", { text: `${s.task} · ${s.model}` }),
        Jobs.el("td", { text: `${done} / ${s.budget} (${s.strategy}${s.counts.pruned ? `, ${s.counts.pruned} pruned` : ""})` }),
        Jobs.el("td", { text: s.baseline ? summaryText(s.baseline) : "–" }),
        Jobs.el("td", { text: best ? `p=${best.params.p} q=${best.params.q} ${best.params.method}: ${summaryText(best.value)}` : "–" }),
        Jobs.el("td", { class: `delta ${best && best.delta > 0 ? "up" : best && best.delta < 0 ? "down" : ""}`, text: best ? signed(best.delta) : "–" }),
        Jobs.el("td", { text: Jobs.when(s.created_at) }));
    });
    document.querySelector("#sweeps-table tbody").replaceChildren(...rows);
    document.getElementById("empty").classList.toggle("hidden", rows.length > 0);
    document.getElementById("list-status").textContent = "";
  } catch (error) {
    document.getElementById("list-status").textContent = `Could not load the sweeps: ${error.message}`;
  }
  setTimeout(refresh, 4000);
}
refresh();
