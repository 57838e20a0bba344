"""The authors' protocol as a figure for a paper: per task, each fresh seed's baseline and AD-DROP result joined by
a line, and beside it the paired differences with their mean, its 95% t interval and what the seed-42 search had
promised (how much picking on one seed overstates)."""

from __future__ import annotations

from pathlib import Path

from addrop.paired import t_interval
from report.authors_protocol import Paired
from report.runs import METRIC_NAMES, save_figure

BASELINE, ADDROP, PROMISE = "#555555", "#c0392b", "#2c5fbf"


def paired_points(result: Paired) -> dict:
    """What the figure draws for one task, in points (metric x 100): the seeds' pairs, their differences, the mean
    difference with its interval (None under two seeds) and the search's promise (None without a search)."""
    seeds = sorted(result.diffs)
    interval = t_interval([result.diffs[s] for s in seeds])
    return {
        "seeds": seeds,
        "baseline": [100 * result.baseline[s] for s in seeds],
        "addrop": [100 * result.addrop[s] for s in seeds],
        "diffs": [100 * result.diffs[s] for s in seeds],
        "interval": tuple(100 * v for v in interval) if interval else None,
        "promise": 100 * result.search_gain if result.search_gain is not None else None,
    }


def paired_figure(results: list[Paired], out: Path) -> Path | None:
    """authors-paired.png: a row per task with a confirmed seed (left: the pairs; right: the differences)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = [(result, paired_points(result)) for result in results if result.diffs]
    if not drawn:
        return None
    fig, axes = plt.subplots(len(drawn), 2, figsize=(7.0, 2.6 * len(drawn)), dpi=150, squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1.4]})
    for (result, points), (pairs, diffs) in zip(drawn, axes):
        metric = METRIC_NAMES.get(result.metric, result.metric)
        for seed, low, high in zip(points["seeds"], points["baseline"], points["addrop"]):
            pairs.plot([0, 1], [low, high], "-", color="#999999", lw=0.8, zorder=1)
            pairs.annotate(f"{seed}", (1, high), xytext=(4, 0), textcoords="offset points", va="center", fontsize=6,
                           color="#777777")
        pairs.scatter([0] * len(points["seeds"]), points["baseline"], color=BASELINE, s=14, zorder=2)
        pairs.scatter([1] * len(points["seeds"]), points["addrop"], color=ADDROP, s=14, zorder=2)
        pairs.set(xticks=[0, 1], xticklabels=["baseline", "AD-DROP"], xlim=(-0.4, 1.4),
                  ylabel=f"dev {metric} (x100)", title=f"{result.task}: best dev {metric} per seed")

        rows = list(range(len(points["seeds"])))
        diffs.axvline(0, color="#333333", lw=0.8)
        diffs.scatter(points["diffs"], rows, color=ADDROP, s=14, zorder=3)
        labels = [f"seed {s}" for s in points["seeds"]]
        if points["interval"]:
            mean, low, high = points["interval"]
            at = len(rows)
            diffs.errorbar([mean], [at], xerr=[[mean - low], [high - mean]], fmt="D", color="#111111", ms=4,
                           capsize=3, lw=1.2, zorder=3, label="mean, 95% t interval")
            rows.append(at)
            labels.append(f"mean of {len(points['seeds'])}")
        if points["promise"] is not None:
            diffs.axvline(points["promise"], color=PROMISE, lw=1, ls="--", label="seed-42 search promised")
        diffs.set(yticks=rows, yticklabels=labels, ylim=(max(rows) + 0.7, -0.7),
                  xlabel="AD-DROP − baseline, same seed (points)", title=f"{result.task}: paired differences")
        diffs.grid(axis="x", alpha=0.3)
        # below the axis, where no point can be
        diffs.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False)
        for ax in (pairs, diffs):
            ax.tick_params(labelsize=7)
            ax.title.set_fontsize(8)
            ax.xaxis.label.set_fontsize(7)
            ax.yaxis.label.set_fontsize(7)
    return save_figure(fig, out / "authors-paired.png")
