"""The authors' protocol (constant lr 1e-5, patience 5, their masked layers): the chosen setting's paired
differences over fresh seeds with their t interval, the epochs the runs trained, and how the dev predictions move
between plain and AD-DROP epochs."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from addrop.paired import detectable_effect, paired_difference, seeds_needed, t_interval
from report.runs import METRIC_NAMES, TASK_TITLES, Spread, best_run, in_task_order, is_addrop_epoch
from report.short_protocol import verdict

AUTHORS_SEARCH, AUTHORS_CONFIRM = "authors-search", "authors-confirm"
# the settings each task's seed-42 search tries: the driver's search budget, the template's setting section, and
# the count after which a search has chosen, even before its confirmation runs (issue 21: at least 10 on CoLA and
# 6 on RTE; the short protocol's 10 for any other task)
SEARCH_SETTINGS = {"cola": 10, "rte": 6}
DEFAULT_SEARCH_SETTINGS = 10


def search_settings(task: str) -> int:
    """How many settings the authors'-protocol search of ``task`` tries."""
    return SEARCH_SETTINGS.get(task, DEFAULT_SEARCH_SETTINGS)


def search_sizes_text() -> str:
    """The search sizes in words, for the setting section ("10 settings on CoLA, 6 on RTE")."""
    return ", ".join(f"{size} settings on {TASK_TITLES[task]}" for task, size in SEARCH_SETTINGS.items())


@dataclass
class Paired:
    """The confirmation of a chosen setting: per seed, the baseline's and AD-DROP's best dev metric."""

    task: str
    metric: str
    setting: dict | None
    baseline: dict[int, float]
    addrop: dict[int, float]
    search_gain: float | None  # the chosen setting's best minus the search baseline's, seed 42

    @property
    def diffs(self) -> dict[int, float]:
        paired = paired_difference(self.addrop, self.baseline)
        return dict(zip(paired.seeds, paired.differences)) if paired else {}


def paired_result(task: str, phases: dict[str, list[dict]]) -> Paired | None:
    search = phases.get(AUTHORS_SEARCH, [])
    confirm = phases.get(AUTHORS_CONFIRM, [])
    if not search and not confirm:
        return None
    best = best_run([r for r in search if r["role"] == "addrop" and r["state"] == "succeeded"])
    setting = best["setting"] if best else None
    search_base = next((r["best_metric"] for r in search if r["role"] == "baseline"), None)
    gain = best["best_metric"] - search_base if best and search_base is not None else None
    metric = next((r["metric"] for r in search + confirm), "")
    return Paired(task, metric, setting,
                  {r["seed"]: r["best_metric"] for r in confirm if r["role"] == "baseline"},
                  {r["seed"]: r["best_metric"] for r in confirm if r["role"] == "addrop" and r["setting"] == setting},
                  gain)


def power_line(diffs: list[float]) -> str:
    """What the seeds run could have found, from the spread of their paired differences, and what finding a
    1-point gain would take: the answer to "is 'no effect shown' a no?"."""
    if len(diffs) < 2 or statistics.stdev(diffs) == 0:
        return ""
    sd = statistics.stdev(diffs)
    needed = seeds_needed(sd, 0.01)
    return (f" The paired differences spread with a std of {sd * 100:.2f} points: {len(diffs)} seeds find (two-sided, "
            f"95%) with 80% power only a true effect of {detectable_effect(sd, len(diffs)) * 100:.1f} points or more; "
            + (f"a true +1 point would take {needed} seeds." if needed else "a true +1 point would take over 1000 seeds."))


def epochs_summary(runs: list[dict]) -> str:
    """How long the runs trained: epochs run (range), and how many reached the cap or were pruned; the rest
    stopped on patience."""
    if not runs:
        return "–"
    counts = [len(r["epochs"]) for r in runs]
    capped = sum(len(r["epochs"]) >= r["spec"]["training"]["epochs"] for r in runs)
    pruned = sum(r["state"] == "pruned" for r in runs)
    text = f"{min(counts)}–{max(counts)}" if min(counts) != max(counts) else f"{counts[0]}"
    ends = [f"{capped} reached the cap" if capped else "", f"{pruned} pruned" if pruned else ""]
    ends = [end for end in ends if end]
    return text + (f" ({', '.join(ends)}; {len(runs)} runs)" if ends else " (all stopped on patience)")


def interval_verdict(interval: tuple[float, float, float] | None) -> str:
    """What a 95% interval of the paired difference says: an effect only when it excludes 0."""
    if interval is None:
        return "too few seeds for an interval"
    _, low, high = interval
    if low > 0:
        return "AD-DROP helped (the 95% interval is above 0)"
    if high < 0:
        return "AD-DROP hurt (the 95% interval is below 0)"
    return "no effect shown (the 95% interval includes 0)"


def search_done(task: str, search: list[dict]) -> bool:
    """Whether the task's seed-42 search (its runs, ``search``) has recorded all the settings it tries."""
    settings = {(r["setting"]["p"], r["setting"]["q"]) for r in search if r["role"] == "addrop"}
    return len(settings) >= search_settings(task)


def authors_table(data: dict[str, dict[str, list[dict]]]) -> str:
    """Per task: baseline and AD-DROP over the fresh seeds, the paired difference with its 95% t interval, the
    seed-42 search gain beside it, epochs run and wall time."""
    lines = ["| task (dev metric) | baseline | AD-DROP | paired difference (95% t interval) | seeds | search gain at "
             "seed 42 | search − fresh | chosen p, q | search: settings (pruned) | epochs run | median wall time |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for task in in_task_order(data):
        result = paired_result(task, data[task])
        if result is None:
            continue
        phases = data[task]
        searched = [r for r in phases.get(AUTHORS_SEARCH, []) if r["role"] == "addrop"]
        runs = phases.get(AUTHORS_SEARCH, []) + phases.get(AUTHORS_CONFIRM, [])
        diffs = list(result.diffs.values())
        interval = t_interval(diffs)
        diff = (f"{interval[0] * 100:+.2f} ({interval[1] * 100:+.2f} to {interval[2] * 100:+.2f})" if interval
                else (f"{diffs[0] * 100:+.2f} (one seed)" if diffs else "–"))
        base = Spread.by_seed(result.baseline).text()
        ours = Spread.by_seed(result.addrop).text()
        gain = f"{result.search_gain * 100:+.2f}" if result.search_gain is not None else "–"
        gap = (f"{(result.search_gain - interval[0]) * 100:+.2f}" if interval and result.search_gain is not None else "–")
        chosen = f"{result.setting['p']:g}, {result.setting['q']:g}" if result.setting else "–"
        if result.setting and not result.addrop:  # nothing confirmed yet
            chosen += " (not confirmed yet)" if search_done(task, searched) else " (best so far)"
        walls = [r["wall_seconds"] for r in runs if r.get("wall_seconds") and math.isfinite(r["wall_seconds"])]
        wall = f"{statistics.median(walls) / 60:.0f} min" if walls else "–"
        lines.append(f"| {task} ({METRIC_NAMES.get(result.metric, result.metric)}) | {base} | {ours} | {diff} | "
                     f"{len(result.baseline)} + {len(result.addrop)} | {gain} | {gap} | {chosen} | {len(searched)} "
                     f"({sum(r['state'] == 'pruned' for r in searched)}) | {epochs_summary(runs)} | {wall} |")
    return "\n".join(lines) if len(lines) > 2 else "No run of the authors' protocol is recorded yet."


def prediction_shift(runs: list[dict]) -> str | None:
    """The dev predictions after plain and after AD-DROP epochs: the share predicted as class 1 (or, for a
    regression, the spread of the predicted scores), mean over runs and epochs, for AD-DROP runs and for their
    baselines at the same epochs."""
    key = next((k for r in runs for e in r["epochs"] for k in ("pred_share_1", "pred_std") if k in e["dev"]), None)
    if key is None:
        return None
    cells = {}
    for role in ("addrop", "baseline"):
        for addrop_epoch in (False, True):
            values = [e["dev"][key] for r in runs if r["role"] == role for e in r["epochs"]
                      if key in e["dev"] and is_addrop_epoch(e["epoch"]) == addrop_epoch]
            cells[role, addrop_epoch] = f"{statistics.fmean(values):.3f} ({len(values)})" if values else "–"
    what = "share predicted as class 1" if key == "pred_share_1" else "spread (std) of the predicted scores"
    return (f"| {what} | after plain epochs (1, 3, ...) | after AD-DROP epochs (2, 4, ...) |\n|---|---|---|\n"
            f"| AD-DROP runs | {cells['addrop', False]} | {cells['addrop', True]} |\n"
            f"| baselines, same epochs | {cells['baseline', False]} | {cells['baseline', True]} |")


def authors_findings(data: dict[str, dict[str, list[dict]]]) -> str:
    """Per task, in words: each seed's paired difference and what the search had promised; then how the dev
    predictions move between plain and AD-DROP epochs."""
    lines = []
    for task in in_task_order(data):
        result = paired_result(task, data[task])
        if result is None:
            continue
        diffs = result.diffs
        if diffs:
            per_seed = ", ".join(f"{d * 100:+.2f} (seed {s})" for s, d in diffs.items())
            line = (f"- **{task}**: {interval_verdict(t_interval(list(diffs.values())))}; "
                    f"{verdict(list(diffs.values()))}; per seed {per_seed}.{power_line(list(diffs.values()))}")
        else:
            recorded = len(data[task].get(AUTHORS_SEARCH, []))
            line = f"- **{task}**: not confirmed yet ({recorded} search runs recorded)."
        if result.search_gain is not None:
            done = result.addrop or search_done(task, data[task].get(AUTHORS_SEARCH, []))
            which = "chosen setting" if done else "best setting so far"
            line += f" At seed 42 the {which} scored {result.search_gain * 100:+.2f} against its baseline twin."
        lines.append(line)
        shift = prediction_shift(data[task].get(AUTHORS_SEARCH, []) + data[task].get(AUTHORS_CONFIRM, []))
        if shift:
            lines.append(f"\n  Dev predictions of the {task} runs (mean over runs and epochs; the count of epochs in "
                         f"brackets):\n\n" + "\n".join("  " + row for row in shift.splitlines()) + "\n")
    return "\n".join(lines) or "Nothing recorded yet."
