"""Rebuilds the results of AD-DROP on GLUE from the run files in ``results/runs``: the table (per task the
baseline and AD-DROP mean +/- std over seeds, the gain, the chosen p and q; the average over tasks), the
searches' p x q maps, the paper's Figure 2 (train and dev loss of the prior experiment), and docs/RESULTS.md.

    python results/build_results.py [--runs results/runs] [--out docs]
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import statistics
from dataclasses import dataclass
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent
sys.path.insert(0, str(RESULTS.parent))  # jobstore, for the replay of the adaptive search
TASK_ORDER = ["rte", "mrpc", "cola", "stsb", "sst2"]
METRIC_NAMES = {"accuracy": "accuracy", "f1": "F1", "matthews_correlation": "Matthews corr.", "pearson": "Pearson"}


def load(runs: Path) -> dict[str, dict[str, list[dict]]]:
    """Run files by task and phase."""
    out: dict[str, dict[str, list[dict]]] = {}
    for path in sorted(runs.glob("*/*/*.json")):
        run = json.loads(path.read_text())
        out.setdefault(run["task"], {}).setdefault(run["phase"], []).append(run)
    return out


@dataclass
class Spread:
    """Mean, sample standard deviation (n - 1) and the seeds of a set of runs."""

    mean: float | None
    std: float | None
    seeds: list[int]

    @classmethod
    def of(cls, runs: list[dict]) -> Spread:
        values = [run["best_metric"] for run in runs]
        return cls(statistics.fmean(values) if values else None, statistics.stdev(values) if len(values) > 1 else None,
                   sorted(run["seed"] for run in runs))

    def text(self, scale: float = 100.0) -> str:
        if self.mean is None:
            return "–"
        spread = f" ± {self.std * scale:.2f}" if self.std is not None else ""
        return f"{self.mean * scale:.2f}{spread}"


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


def best_run(runs: list[dict]) -> dict | None:
    """The run with the best dev metric; a tie goes to the lower p, then the lower q. The driver confirms the
    setting of this run, and the table reports it."""
    return max(runs, key=lambda run: (run["best_metric"], -run["setting"]["p"], -run["setting"]["q"]), default=None)


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
    walls = [run["wall_seconds"] for phase in phases.values() for run in phase
             if run.get("wall_seconds") is not None and math.isfinite(run["wall_seconds"])]
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


# --- the authors' protocol ---------------------------------------------------------------------------------

AUTHORS_SEARCH, AUTHORS_CONFIRM = "authors-search", "authors-confirm"
# The commit from which twins see the same batches in every epoch and pass 1 draws from streams of its own
PAIRED_STREAMS_COMMIT = "38a2430"


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
        return {seed: self.addrop[seed] - self.baseline[seed] for seed in sorted(self.addrop) if seed in self.baseline}


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


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float] | None:
    """The mean of ``values`` and its two-sided t interval (None with fewer than two values)."""
    if len(values) < 2:
        return None
    from scipy.stats import t

    mean = statistics.fmean(values)
    half = t.ppf(0.5 + level / 2, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


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


def authors_table(data: dict[str, dict[str, list[dict]]]) -> str:
    """Per task: baseline and AD-DROP over the fresh seeds, the paired difference with its 95% t interval, the
    seed-42 search gain beside it, epochs run and wall time."""
    lines = ["| task (dev metric) | baseline | AD-DROP | paired difference (95% t interval) | seeds | search gain at "
             "seed 42 | search − fresh | chosen p, q | search: settings (pruned) | epochs run | median wall time |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for task in sorted(data, key=lambda t: TASK_ORDER.index(t) if t in TASK_ORDER else 99):
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
        base = Spread(*_mean_std(list(result.baseline.values())), sorted(result.baseline)).text()
        ours = Spread(*_mean_std(list(result.addrop.values())), sorted(result.addrop)).text()
        gain = f"{result.search_gain * 100:+.2f}" if result.search_gain is not None else "–"
        gap = (f"{(result.search_gain - interval[0]) * 100:+.2f}" if interval and result.search_gain is not None else "–")
        chosen = f"{result.setting['p']:g}, {result.setting['q']:g}" if result.setting else "–"
        walls = [r["wall_seconds"] for r in runs if r.get("wall_seconds") and math.isfinite(r["wall_seconds"])]
        wall = f"{statistics.median(walls) / 60:.0f} min" if walls else "–"
        lines.append(f"| {task} ({METRIC_NAMES.get(result.metric, result.metric)}) | {base} | {ours} | {diff} | "
                     f"{len(result.baseline)} + {len(result.addrop)} | {gain} | {gap} | {chosen} | {len(searched)} "
                     f"({sum(r['state'] == 'pruned' for r in searched)}) | {epochs_summary(runs)} | {wall} |")
    return "\n".join(lines) if len(lines) > 2 else "No run of the authors' protocol is recorded yet."


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    return (statistics.fmean(values) if values else None, statistics.stdev(values) if len(values) > 1 else None)


def is_addrop_epoch(epoch: int) -> bool:
    """Cross-tuning's AD-DROP epochs, counted from 1 as run files count them: 2, 4, 6, ..."""
    return epoch % 2 == 0


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
    for task in sorted(data, key=lambda t: TASK_ORDER.index(t) if t in TASK_ORDER else 99):
        result = paired_result(task, data[task])
        if result is None:
            continue
        diffs = result.diffs
        if diffs:
            per_seed = ", ".join(f"{d * 100:+.2f} (seed {s})" for s, d in diffs.items())
            line = (f"- **{task}**: {interval_verdict(t_interval(list(diffs.values())))}; "
                    f"{verdict(list(diffs.values()))}; per seed {per_seed}.")
        else:
            recorded = len(data[task].get(AUTHORS_SEARCH, []))
            line = f"- **{task}**: not confirmed yet ({recorded} search runs recorded)."
        if result.search_gain is not None:
            line += f" At seed 42 the chosen setting scored {result.search_gain * 100:+.2f} against its baseline twin."
        lines.append(line)
        shift = prediction_shift(data[task].get(AUTHORS_SEARCH, []) + data[task].get(AUTHORS_CONFIRM, []))
        if shift:
            lines.append(f"\n  Dev predictions of the {task} runs (mean over runs and epochs; the count of epochs in "
                         f"brackets):\n\n" + "\n".join("  " + row for row in shift.splitlines()) + "\n")
    return "\n".join(lines) or "Nothing recorded yet."


@functools.lru_cache(maxsize=None)  # one git call per commit, not per run file
def has_paired_streams(commit: str | None) -> bool | None:
    """Whether a run's code had the paired streams (its commit descends from PAIRED_STREAMS_COMMIT); None when git
    cannot tell."""
    import subprocess

    if not commit:
        return None
    answer = subprocess.run(["git", "merge-base", "--is-ancestor", PAIRED_STREAMS_COMMIT, commit], cwd=RESULTS,
                            capture_output=True)
    return {0: True, 1: False}.get(answer.returncode)


AUTHORS_TEXT = ("the authors' own protocol (constant lr 1e-5, patience 5, the masked layers of their scripts: every "
                "layer for CoLA, MRPC and RTE, layer 0 for STS-B; exactly paired twins)")


def summary(data: dict[str, dict[str, list[dict]]], results: list[TaskResult]) -> str:
    """What the product found, in three sentences."""
    complete = [r for r in results if r.complete]
    first = "No 4-epoch measurement is complete yet."
    if complete:
        gain = statistics.fmean(r.gain for r in complete) * 100
        verdicts = {r.task: verdict(list(seed_diffs(data, r).values())) for r in complete}
        helped = [t for t, v in verdicts.items() if v == "AD-DROP helped on every seed"]
        hurt = [t for t, v in verdicts.items() if v == "AD-DROP hurt on every seed"]
        parts = ([f"a gain on every seed on {', '.join(helped)}"] if helped else []) + (
            [f"a loss on every seed on {', '.join(hurt)}"] if hurt else [])
        rest = len(complete) - len(helped) - len(hurt)
        if rest:
            parts.append(f"no consistent effect on {'the other ' if parts else ''}{rest}")
        first = (f"In a short protocol (4 epochs, linear decay, layer 0, 3 fresh seeds), over {len(complete)} GLUE "
                 f"tasks AD-DROP gave MiniLM {gain:+.2f} points on average: " + "; ".join(parts) + ".")
    confirmed = [p for task in data if (p := paired_result(task, data[task])) and len(p.diffs) >= 2]
    if confirmed:
        parts = []
        for p in confirmed:
            mean, lo, hi = t_interval(list(p.diffs.values()))
            parts.append(f"{p.task} {mean * 100:+.2f} points (95% interval {lo * 100:+.2f} to {hi * 100:+.2f}, "
                         f"{len(p.diffs)} seeds)")
        second = f"Under {AUTHORS_TEXT}, the paired difference on fresh seeds is " + "; ".join(parts) + "."
    else:
        running = sorted(t for t in data if AUTHORS_SEARCH in data[t] or AUTHORS_CONFIRM in data[t])
        second = (f"{AUTHORS_TEXT[0].upper()}{AUTHORS_TEXT[1:]} "
                  + (f"is being measured ({', '.join(running)}; see its section)" if running else "is not measured yet")
                  + ": no fresh-seed verdict under it yet.")
    third = ("The model is all-MiniLM-L6-v2, a 6-layer MiniLM trained further as a sentence-embedding model, not the "
             "masked-LM BERT-base or RoBERTa-base the paper fine-tunes: the paper's +1.98 / +1.29 points are about "
             "those models.")
    return f"{first} {second} {third}"


def seed_diffs(data: dict[str, dict[str, list[dict]]], result: TaskResult) -> dict[int, float]:
    """Per confirmation seed of the 4-epoch protocol: AD-DROP minus the baseline of the same seed."""
    confirm = data[result.task]["confirm"]
    base = {run["seed"]: run["best_metric"] for run in confirm if run["role"] == "baseline"}
    ours = {run["seed"]: run["best_metric"] for run in confirm
            if run["role"] == "addrop" and run["setting"] == result.setting}
    return {seed: ours[seed] - base[seed] for seed in sorted(ours) if seed in base}


def search_map(task: str, runs: list[dict], out: Path) -> Path | None:
    """The searched settings on the p x q grid, coloured by the difference to the search's baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    searched = [run for run in runs if run["role"] == "addrop" and run["best_metric"] is not None]
    baseline = next((run["best_metric"] for run in runs if run["role"] == "baseline"), None)
    if not searched or baseline is None:
        return None
    deltas = [(run["best_metric"] - baseline) * 100 for run in searched]
    limit = max(max(abs(d) for d in deltas), 0.1)
    fig, ax = plt.subplots(figsize=(4.6, 4.0), dpi=120)
    points = ax.scatter([run["setting"]["q"] for run in searched], [run["setting"]["p"] for run in searched], c=deltas,
                        cmap="RdBu", vmin=-limit, vmax=limit, s=260, edgecolors="#333",
                        marker="s", linewidths=[2.5 if run["state"] == "pruned" else 0.5 for run in searched])
    for run, delta in zip(searched, deltas):
        # white on the darkest squares, where black would not read
        ax.annotate(f"{delta:+.1f}{'×' if run['state'] == 'pruned' else ''}", (run["setting"]["q"], run["setting"]["p"]),
                    ha="center", va="center", fontsize=7, color="white" if abs(delta) > 0.6 * limit else "black")
    ax.set(xlim=(0.05, 0.95), ylim=(0.05, 0.95), xlabel="q (drop probability)", ylabel="p (candidate fraction)",
           title=f"{task}: best dev − baseline (points), seed 42", xticks=[i / 10 for i in range(1, 10)],
           yticks=[i / 10 for i in range(1, 10)])
    ax.grid(alpha=0.3)
    fig.colorbar(points, ax=ax, shrink=0.8)
    fig.tight_layout()
    path = out / f"search-{task}.png"
    fig.savefig(path)
    plt.close(fig)
    return path


# The prior experiment's variants in the paper's order: the label and the line style of each.
PRIOR_STYLES = {"baseline": ("no dropping", "#333333", "-"), ("GA", "high"): ("high attribution (AD-DROP)", "#c0392b", "-"),
                ("GA", "low"): ("low attribution", "#2c5fbf", "--"), ("RD", "high"): ("random", "#1f8a4c", ":")}


def prior_variant(run: dict) -> str | tuple[str, str]:
    return "baseline" if run["setting"] is None else (run["setting"]["method"], run["setting"]["mode"])


def prior_runs(runs: list[dict]) -> list[dict]:
    """The prior experiment's runs in the paper's order of variants."""
    order = list(PRIOR_STYLES)
    return sorted(runs, key=lambda r: order.index(v) if (v := prior_variant(r)) in order else len(order))


def prior_table(task: str, runs: list[dict]) -> str:
    """The numbers behind Figure 2 per variant: the last epoch's training loss, the lowest dev loss and the best
    dev metric, each with its epoch."""
    if not runs:
        return ""
    metric = runs[0]["metric"]
    lines = [f"| {task}: variant | training loss, last epoch | lowest dev loss | best dev {metric} |",
             "|---|---|---|---|"]
    for run in prior_runs(runs):
        label = PRIOR_STYLES.get(prior_variant(run), (str(prior_variant(run)),))[0]
        last = run["epochs"][-1]
        losses = [(e["dev"]["loss"], e["epoch"]) for e in run["epochs"] if e["dev"].get("loss") is not None]
        low = "–"
        if losses:
            loss, epoch = min(losses)
            low = f"{loss:.4f} (epoch {epoch})"
        best = f"{100 * run['best_metric']:.2f} (epoch {run['best_epoch']:g})" if run["best_metric"] is not None else "–"
        lines.append(f"| {label} | {last['train_loss']:.4f} (epoch {last['epoch']}) | {low} | {best} |")
    return "\n".join(lines)


def figure2(task: str, runs: list[dict], out: Path) -> Path | None:
    """The prior experiment: train and dev loss per epoch of each variant (the paper's Figure 2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not runs:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), dpi=120, sharey=False)
    for run in prior_runs(runs):
        key = prior_variant(run)
        label, color, dash = PRIOR_STYLES.get(key, (str(key), "#888", "-."))
        epochs = [e["epoch"] for e in run["epochs"]]
        axes[0].plot(epochs, [e["train_loss"] for e in run["epochs"]], dash, color=color, label=label, marker="o", ms=3)
        axes[1].plot(epochs, [e["dev"].get("loss") for e in run["epochs"]], dash, color=color, label=label, marker="o", ms=3)
    axes[0].set(title=f"{task}: training loss (mean per epoch)", xlabel="epoch")
    axes[1].set(title=f"{task}: dev loss", xlabel="epoch")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    path = out / f"prior-{task}.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def dynamics_pair(runs: list[dict]) -> tuple[dict, dict] | None:
    """The baseline and AD-DROP run of the dynamics phase, once both are recorded."""
    by_role = {r["role"]: r for r in runs}
    return (by_role["baseline"], by_role["addrop"]) if {"baseline", "addrop"} <= set(by_role) else None


def dynamics_table(task: str, pair: tuple[dict, dict]) -> str:
    """Per epoch, for the baseline and the AD-DROP run: the dev metric, the masked layer's concentration and
    entropy, stability, reliance against random positions, and the share of dev predictions of class 1."""
    baseline, addrop = pair
    layer = addrop["setting"]["layers"][0]
    metric = addrop["metric"]
    lines = [f"| {task} epoch | run | dev {metric} | concentration L{layer} | entropy L{layer} | stability | "
             "reliance (top-p / random) | predicted class 1 |", "|---|---|---|---|---|---|---|---|"]

    def cell(value: float | None, digits: int = 3) -> str:
        return "–" if value is None else f"{value:.{digits}f}"

    # each epoch's two rows side by side, the twins' difference is what is read
    rows = sorted(((e["epoch"], k, run, name) for k, (run, name) in enumerate(((baseline, "baseline"), (addrop, "AD-DROP")))
                   for e in run["epochs"]), key=lambda row: row[:2])
    for epoch, _, run, name in rows:
        e = next(item for item in run["epochs"] if item["epoch"] == epoch)
        d = e.get("dynamics", {})
        phase = " (AD-DROP epoch)" if run is addrop and is_addrop_epoch(e["epoch"]) else ""
        lines.append(
            f"| {e['epoch']}{phase} | {name} | {cell(e['dev'].get(metric), 4)} | {cell(d.get(f'concentration_L{layer}'))} | "
            f"{cell(d.get(f'entropy_L{layer}'))} | {cell(d.get('stability'))} | "
            f"{cell(d.get('reliance'))} / {cell(d.get('reliance_random'))} | {cell(e['dev'].get('pred_share_1'))} |")
    return "\n".join(lines)


def dynamics_figure(task: str, pair: tuple[dict, dict], out: Path) -> Path:
    """Concentration, reliance and the predicted share per epoch, baseline against AD-DROP, AD-DROP epochs shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    baseline, addrop = pair
    layer = addrop["setting"]["layers"][0]
    panels = [(f"concentration, layer {layer}", lambda e: e.get("dynamics", {}).get(f"concentration_L{layer}")),
              ("reliance: prediction changed by dropping top-p", lambda e: e.get("dynamics", {}).get("reliance")),
              ("dev predictions of class 1", lambda e: e["dev"].get("pred_share_1"))]
    fig, axes = plt.subplots(1, len(panels), figsize=(11, 3.4), dpi=120)
    last = max(e["epoch"] for run in pair for e in run["epochs"])
    for ax, (title, value) in zip(axes, panels):
        for epoch in range(1, last + 1):
            if is_addrop_epoch(epoch):
                ax.axvspan(epoch - 0.5, epoch + 0.5, color="#f6d8a8", alpha=0.35, lw=0)
        for run, label, color in ((baseline, "baseline", "#2c5fbf"), (addrop, "AD-DROP", "#c0392b")):
            points = [(e["epoch"], value(e)) for e in run["epochs"] if value(e) is not None]
            ax.plot([x for x, _ in points], [y for _, y in points], "-o", color=color, label=label, ms=3)
        if title.startswith("reliance"):
            points = [(e["epoch"], e.get("dynamics", {}).get("reliance_random")) for e in addrop["epochs"]]
            points = [(x, y) for x, y in points if y is not None]
            ax.plot([x for x, _ in points], [y for _, y in points], ":", color="#c0392b", label="AD-DROP, random keys")
        ax.set(title=title, xlabel="epoch")
        ax.set_xticks(range(1, last + 1))
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    path = out / f"dynamics-{task}.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def adaptive_against_grid(runs: list[dict], budget: int = 10, repeats: int = 200) -> dict | None:
    """Replays the product's adaptive search (``jobstore.strategies``: the same TPE distributions and sampler, its
    seed moving on with every ask as a sweep's does, a repeated setting answered with its recorded value as a
    sweep shares its runs) against a complete grid's recorded values, once per search seed; how many distinct
    settings each search runs before it reaches the grid's best (and within 0.5 points of it)."""
    import optuna

    from jobstore.space import setting as setting_of
    from jobstore.strategies import STRATEGIES

    values = {(run["setting"]["p"], run["setting"]["q"]): run["best_metric"]
              for run in runs if run["role"] == "addrop" and run["best_metric"] is not None}
    ps, qs = sorted({p for p, _ in values}), sorted({q for _, q in values})
    if len(ps) < 3 or len(qs) < 3 or len(values) != len(ps) * len(qs):
        return None
    space = {"p": ps, "q": qs, "method": ["GA"], "mode": ["high"], "layers": [[0]]}
    tpe = STRATEGIES["tpe"]
    distributions = tpe.distributions(space)
    best = max(values.values())
    to_best, to_near = [], []
    for repeat in range(repeats):
        study = optuna.create_study(direction="maximize")
        distinct: set[tuple[float, float]] = set()
        near = None
        while True:
            study.sampler = tpe.sampler(space, repeat * 1000, len(study.trials), budget)
            trial = study.ask(distributions)
            setting = setting_of(space, trial.params)
            key = (setting["p"], setting["q"])
            study.tell(trial, values[key])
            distinct.add(key)
            if near is None and values[key] >= best - 0.005:
                near = len(distinct)
            if values[key] >= best:
                break
        to_best.append(len(distinct))
        to_near.append(near)
    return {"grid": len(values), "best": best, "to_best": to_best, "to_near": to_near, "budget": budget}


def adaptive_table(data: dict[str, dict[str, list[dict]]]) -> str:
    """Per task with a complete grid: the runs the adaptive search needed against the grid's."""
    lines = ["| task | grid: runs, best | adaptive search: runs to the grid's best (median, 90th pct) | "
             "reaches it within 10 runs | runs to within 0.5 points (median) |", "|---|---|---|---|---|"]
    for task in sorted(data, key=lambda t: TASK_ORDER.index(t) if t in TASK_ORDER else 99):
        replay = adaptive_against_grid(data[task].get("grid", []))
        if replay is None:
            continue
        ranked = sorted(replay["to_best"])
        within = sum(n <= replay["budget"] for n in ranked) / len(ranked)
        lines.append(f"| {task} | {replay['grid']}, {replay['best'] * 100:.2f} | {statistics.median(ranked):g}, "
                     f"{ranked[int(0.9 * (len(ranked) - 1))]} | {within:.0%} of {len(ranked)} searches | "
                     f"{statistics.median(replay['to_near']):g} |")
    return "\n".join(lines) if len(lines) > 2 else "No complete grid recorded yet."


def status_table(data: dict[str, dict[str, list[dict]]]) -> str:
    lines = ["| task | phase | runs recorded | of which pruned | of which copied from another phase | wall time (sum) | "
             "before the paired-streams fix |", "|---|---|---|---|---|---|---|"]
    for task in sorted(data, key=lambda t: TASK_ORDER.index(t) if t in TASK_ORDER else 99):
        for phase, runs in sorted(data[task].items()):
            ran = [r for r in runs if not r.get("copied_from")]  # a copy's wall time is its source phase's
            wall = sum(r["wall_seconds"] for r in ran if r.get("wall_seconds") and math.isfinite(r["wall_seconds"]))
            paired = [has_paired_streams(r["machine"].get("commit")) for r in runs]
            before = f"{paired.count(False)}" + (f" ({paired.count(None)} unknown)" if None in paired else "")
            lines.append(f"| {task} | {phase} | {len(runs)} | {sum(r['state'] == 'pruned' for r in runs)} | "
                         f"{len(runs) - len(ran)} | {wall / 3600:.2f} h | {before} |")
    return "\n".join(lines)


def machine_lines(data: dict[str, dict[str, list[dict]]]) -> list[str]:
    """Each CPU the runs trained on, with how many runs of which task: wall times differ between them."""
    counts: dict[str, dict[str, int]] = {}
    for task, phases in data.items():
        for runs in phases.values():
            for r in runs:
                per_task = counts.setdefault(f"{r['machine']['cpu']} ({r['machine']['cores']} cores)", {})
                per_task[task] = per_task.get(task, 0) + 1
    return [f"{cpu}: " + ", ".join(f"{n} {task}" for task, n in sorted(tasks.items())) + " runs"
            for cpu, tasks in sorted(counts.items())]


def build(runs: Path, out: Path) -> str:
    """Write the plots under ``out/results`` and ``out/RESULTS.md``; returns the markdown."""
    data = load(runs)
    figures = out / "results"
    figures.mkdir(parents=True, exist_ok=True)
    ordered = sorted(data, key=lambda t: TASK_ORDER.index(t) if t in TASK_ORDER else 99)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=RESULTS / "runs")
    parser.add_argument("--out", type=Path, default=RESULTS.parent / "docs")
    args = parser.parse_args()
    build(args.runs, args.out)
    print(f"wrote {args.out / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
