"""The searches' p x q maps: each searched setting against the search's baseline."""

from __future__ import annotations

from pathlib import Path

from report.runs import save_figure


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
    return save_figure(fig, out / f"search-{task}.png")
