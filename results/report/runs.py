"""Loading the run files and the facts every section reads from them: the task order, metric names, a set of
runs' mean and spread, the best run of a search, and which epochs of cross-tuning drop."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

RESULTS = Path(__file__).resolve().parents[1]
TASK_ORDER = ["rte", "mrpc", "cola", "stsb", "sst2"]
METRIC_NAMES = {"accuracy": "accuracy", "f1": "F1", "matthews_correlation": "Matthews corr.", "pearson": "Pearson"}
TASK_TITLES = {"cola": "CoLA", "mrpc": "MRPC", "rte": "RTE", "sst2": "SST-2", "stsb": "STS-B"}


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
        """The spread of the runs' best dev metrics."""
        return cls.by_seed({run["seed"]: run["best_metric"] for run in runs})

    @classmethod
    def by_seed(cls, values: dict[int, float]) -> Spread:
        """The spread of one value per seed."""
        numbers = list(values.values())
        return cls(statistics.fmean(numbers) if numbers else None,
                   statistics.stdev(numbers) if len(numbers) > 1 else None, sorted(values))

    def text(self, scale: float = 100.0) -> str:
        if self.mean is None:
            return "–"
        spread = f" ± {self.std * scale:.2f}" if self.std is not None else ""
        return f"{self.mean * scale:.2f}{spread}"


def in_task_order(tasks: Iterable[str]) -> list[str]:
    """``tasks`` in the order the tables list them (the paper's first, any other after)."""
    return sorted(tasks, key=lambda task: TASK_ORDER.index(task) if task in TASK_ORDER else len(TASK_ORDER))


def best_run(runs: list[dict]) -> dict | None:
    """The run with the best dev metric; a tie goes to the lower p, then the lower q. The driver confirms the
    setting of this run, and the table reports it."""
    return max(runs, key=lambda run: (run["best_metric"], -run["setting"]["p"], -run["setting"]["q"]), default=None)


def is_addrop_epoch(epoch: int) -> bool:
    """Cross-tuning's AD-DROP epochs, counted from 1 as run files count them: 2, 4, 6, ..."""
    return epoch % 2 == 0


def save_figure(fig, path: Path) -> Path:
    """Lay ``fig`` out, write it to ``path`` and free it (pyplot keeps every open figure)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
