"""docs/RESULTS.md from the template and every section's tables, findings and plots."""

from __future__ import annotations

from pathlib import Path

from report.adaptive import adaptive_table
from report.authors_protocol import (AUTHORS_CONFIRM, AUTHORS_SEARCH, authors_findings, authors_table, paired_result,
                                     search_sizes_text)
from report.dynamics import dynamics_figure, dynamics_pair, dynamics_table
from report.paired_figure import paired_figure
from report.prior import figure2, prior_table
from report.runs import RESULTS, in_task_order, load
from report.search_maps import search_map
from report.short_protocol import findings, results_table, searched_runs, task_result
from report.status import machine_lines, status_table
from report.summary import summary


def build(runs: Path, out: Path) -> str:
    """Write the plots under ``out/results`` and ``out/RESULTS.md``; returns the markdown."""
    data = load(runs)
    figures = out / "results"
    figures.mkdir(parents=True, exist_ok=True)
    ordered = in_task_order(data)
    short = {task: {phase: runs for phase, runs in data[task].items() if phase not in (AUTHORS_SEARCH, AUTHORS_CONFIRM)}
             for task in ordered}
    results = [task_result(task, short[task]) for task in ordered if short[task]]
    maps = [path for task in ordered if (path := search_map(task, searched_runs(data[task]), figures))]
    priors = [path for task in ordered if (path := figure2(task, data[task].get("prior", []), figures))]
    machines = machine_lines(data)
    text = (RESULTS / "RESULTS.template.md").read_text()
    text = text.replace("{{table}}", results_table(results) if results else "No runs recorded yet.")
    text = text.replace("{{findings}}", findings(data, results))
    text = text.replace("{{summary}}", summary(data, results))
    text = text.replace("{{authors_table}}", authors_table(data))
    text = text.replace("{{authors_findings}}", authors_findings(data))
    text = text.replace("{{authors_search_sizes}}", search_sizes_text())
    paired = paired_figure([r for task in ordered if (r := paired_result(task, data[task]))], figures)
    text = text.replace("{{authors_figure}}", f"![authors-paired](results/{paired.name})" if paired else "")
    text = text.replace("{{status}}", status_table(data) if data else "No runs recorded yet.")
    text = text.replace("{{machines}}", "; ".join(machines) or "–")
    text = text.replace("{{adaptive}}", adaptive_table(data))
    text = text.replace("{{maps}}", "\n".join(f"![{p.stem}](results/{p.name})" for p in maps) or "No search recorded yet.")
    prior_text = "\n\n".join(f"![{p.stem}](results/{p.name})\n\n{prior_table(task, data[task]['prior'])}"
                             for task in ordered for p in priors if p.stem == f"prior-{task}")
    text = text.replace("{{prior}}", prior_text or "Not run yet.")
    pairs = {task: pair for task in ordered if (pair := dynamics_pair(data[task].get("dynamics", [])))}
    dynamics_text = "\n\n".join(f"![dynamics-{task}](results/{dynamics_figure(task, pair, figures).name})\n\n"
                                 f"{dynamics_table(task, pair)}" for task, pair in pairs.items())
    text = text.replace("{{dynamics}}", dynamics_text or "Not recorded yet: `python results/run_experiments.py "
                                                          "--task mrpc --phase dynamics` records the pair.")
    (out / "RESULTS.md").write_text(text)
    return text
