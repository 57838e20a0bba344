"""The prior experiment (the paper's Figure 2): train and dev loss of high- and low-attribution dropping, random
dropping and no dropping, as a figure and the table of its numbers."""

from __future__ import annotations

from pathlib import Path

from report.runs import save_figure

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
    return save_figure(fig, out / f"prior-{task}.png")
