"""Attribution dynamics: per epoch, the baseline and AD-DROP twins' concentration, entropy, stability, reliance and
predicted share, as a table and a figure."""

from __future__ import annotations

from pathlib import Path

from report.runs import is_addrop_epoch, save_figure


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
    return save_figure(fig, out / f"dynamics-{task}.png")
