"""Loading the run files and the facts every section reads from them: the task order, metric names, a set of
runs' mean and spread, the best run of a search, and which epochs of cross-tuning drop."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1]
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


def best_run(runs: list[dict]) -> dict | None:
    """The run with the best dev metric; a tie goes to the lower p, then the lower q. The driver confirms the
    setting of this run, and the table reports it."""
    return max(runs, key=lambda run: (run["best_metric"], -run["setting"]["p"], -run["setting"]["q"]), default=None)


def is_addrop_epoch(epoch: int) -> bool:
    """Cross-tuning's AD-DROP epochs, counted from 1 as run files count them: 2, 4, 6, ..."""
    return epoch % 2 == 0
