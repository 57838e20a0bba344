/* The sweeps list: each sweep's progress, baseline and best setting, refreshed every few seconds. */

import { el, setStatus } from "./common/dom.js";
import { api } from "./common/http.js";
import { modelName, when } from "./jobs-common.js";
import { prunedTrials, signed, summaryText } from "./sweep-view.js";

async function refresh() {
  try {
    const list = await api("/api/sweeps?limit=100");
    const rows = list.items.map((s) => {
      const pruned = prunedTrials(s);
      const best = s.best;
      return el("tr", {},
        el("td", {}, el("a", { href: `/sweeps/${s.id}`, text: `#${s.id}` })),
        el("td", {}, el("a", { href: `/sweeps/${s.id}`, text: s.name })),
        el("td", {}, el("span", { class: `badge ${s.state}`, text: s.state })),
        el("td", { text: `${s.task} · ${modelName(s.model)}` }),
        el("td", { text: `${s.finished} / ${s.budget} (${s.strategy}${pruned ? `, ${pruned} pruned` : ""})` }),
        el("td", { text: s.baseline ? summaryText(s.baseline) : "–" }),
        el("td", { text: best ? `p=${best.params.p} q=${best.params.q} ${best.params.method}: ${summaryText(best.value)}` : "–" }),
        el("td", { class: `delta ${best && best.delta > 0 ? "up" : best && best.delta < 0 ? "down" : ""}`, text: best ? signed(best.delta) : "–" }),
        el("td", { text: when(s.created_at) }));
    });
    document.querySelector("#sweeps-table tbody").replaceChildren(...rows);
    document.getElementById("empty").classList.toggle("hidden", rows.length > 0);
    setStatus("", false, "list-status");
  } catch (error) {
    setStatus(`Could not load the sweeps: ${error.message}`, true, "list-status");
  }
  setTimeout(refresh, 4000);
}
refresh();
