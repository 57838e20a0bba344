"""The short protocol (4 epochs, linear decay, layer 0, 3 fresh seeds): per task the setting its search chose, the
confirmation's table, and each seed's paired difference in words."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from report.runs import METRIC_NAMES, Spread, best_run


@dataclass
class TaskResult:
    task: str
    metric: str
    setting: dict | None
    search_runs: int
    search_pruned: int
    search_baseline: float | None
    search_best: float | None
    baseline: Spread
    addrop: Spread
    wall_seconds: float | None
    learning_rate: float | None

    @property
    def complete(self) -> bool:
        return len(self.baseline.seeds) >= 3 and len(self.addrop.seeds) >= 3

    @property
    def gain(self) -> float | None:
        if self.baseline.mean is None or self.addrop.mean is None:
            return None
        return self.addrop.mean - self.baseline.mean


def searched_runs(phases: dict[str, list[dict]]) -> list[dict]:
    """The runs that chose the task's setting: its adaptive search and its grid, if any (seed 42)."""
    return phases.get("search", []) + phases.get("grid", [])


def task_result(task: str, phases: dict[str, list[dict]]) -> TaskResult:
    search = searched_runs(phases)
    searched = [run for run in search if run["role"] == "addrop"]
    finished = [run for run in searched if run["state"] == "succeeded"]
    best = best_run(finished)
    setting = best["setting"] if best else None
    confirm = phases.get("confirm", [])
    baseline = [run for run in confirm if run["role"] == "baseline"]
    addrop = [run for run in confirm if run["role"] == "addrop" and run["setting"] == setting]
    search_baseline = next((run["best_metric"] for run in search if run["role"] == "baseline"), None)
    # a run copied from another phase (copied_from) is the same job recorded again: its wall time counts once
    walls = [run["wall_seconds"] for phase in phases.values() for run in phase if not run.get("copied_from")
             and run.get("wall_seconds") is not None and math.isfinite(run["wall_seconds"])]
    metric = next((run["metric"] for phase in phases.values() for run in phase), "")
    # the learning rate the search and confirmation trained at (an lr phase, where run, chose it)
    rates = {run.get("spec", {}).get("training", {}).get("learning_rate") for run in search + confirm}
    return TaskResult(task, metric, setting, len(searched), sum(run["state"] == "pruned" for run in searched),
                      search_baseline, best["best_metric"] if best else None, Spread.of(baseline), Spread.of(addrop),
                      statistics.median(walls) if walls else None, rates.pop() if len(rates) == 1 else None)


def results_table(results: list[TaskResult]) -> str:
    """The markdown table, metrics in points (x 100); the average row over the tasks with full confirmations."""
    lines = ["| task (dev metric) | baseline | AD-DROP | gain | seeds | chosen p, q | learning rate | search: runs (pruned) | "
             "search best vs its baseline (seed 42) | median wall time per run |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        gain = f"{r.gain * 100:+.2f}" if r.gain is not None else "–"
        chosen = f"{r.setting['p']:g}, {r.setting['q']:g}" if r.setting else "–"
        seeds = f"{len(r.baseline.seeds)} + {len(r.addrop.seeds)}"
        search = (f"{r.search_best * 100:.2f} vs {r.search_baseline * 100:.2f}"
                  if r.search_best is not None and r.search_baseline is not None else "–")
        wall = f"{r.wall_seconds / 60:.1f} min" if r.wall_seconds is not None else "–"
        rate = f"{r.learning_rate:g}" if r.learning_rate is not None else "–"
        lines.append(f"| {r.task} ({METRIC_NAMES.get(r.metric, r.metric)}) | {r.baseline.text()} | {r.addrop.text()} | "
                     f"{gain} | {seeds} | {chosen} | {rate} | {r.search_runs} ({r.search_pruned}) | {search} | {wall} |")
    complete = [r for r in results if r.complete]
    if complete:
        base = statistics.fmean(r.baseline.mean for r in complete)
        ours = statistics.fmean(r.addrop.mean for r in complete)
        lines.append(f"| **average** ({len(complete)} tasks) | {base * 100:.2f} | {ours * 100:.2f} | "
                     f"{(ours - base) * 100:+.2f} | | | | | | |")
    return "\n".join(lines)


def verdict(diffs: list[float]) -> str:
    """What paired seeds say: an effect only when every seed agrees on its sign. With three seeds whose spread is
    as large as the mean gain, a positive mean alone is noise, not help."""
    better = sum(d > 0 for d in diffs)
    if better == len(diffs):
        return "AD-DROP helped on every seed"
    if not any(d >= 0 for d in diffs):
        return "AD-DROP hurt on every seed"
    return f"no consistent effect (AD-DROP better on {better} of {len(diffs)} seeds)"


def findings(data: dict[str, dict[str, list[dict]]], results: list[TaskResult]) -> str:
    """Per confirmed task, in words: the gain, each seed's own difference (AD-DROP minus the baseline of the same
    seed), and what the search had promised at seed 42, so a gain that did not hold up is said so."""
    lines = []
    for r in results:
        if not r.complete:
            continue
        diffs = {seed: diff * 100 for seed, diff in seed_diffs(data, r).items()}
        per_seed = ", ".join(f"{diff:+.2f} (seed {seed})" for seed, diff in diffs.items())
        line = (f"- **{r.task}**: {verdict(list(diffs.values()))}, {r.gain * 100:+.2f} points on average; "
                f"per seed {per_seed}.")
        if r.search_best is not None and r.search_baseline is not None:
            promised = (r.search_best - r.search_baseline) * 100
            line += f" The chosen setting had scored {promised:+.2f} against its baseline at seed 42"
            line += (": the best of several settings on one seed overstates what the setting gives on fresh seeds."
                     if promised > r.gain * 100 + 0.5 else ".")
        lines.append(line)
    return "\n".join(lines) or "No task is confirmed at 3 seeds yet."


def seed_diffs(data: dict[str, dict[str, list[dict]]], result: TaskResult) -> dict[int, float]:
    """Per confirmation seed of the 4-epoch protocol: AD-DROP minus the baseline of the same seed."""
    confirm = data[result.task]["confirm"]
    base = {run["seed"]: run["best_metric"] for run in confirm if run["role"] == "baseline"}
    ours = {run["seed"]: run["best_metric"] for run in confirm
            if run["role"] == "addrop" and run["setting"] == result.setting}
    return {seed: ours[seed] - base[seed] for seed in sorted(ours) if seed in base}
