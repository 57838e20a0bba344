"""Presets: named sets of training and AD-DROP settings, per task, with where each value comes from.

"authors" is the protocol of the AD-DROP authors' own scripts (TaoYang225/AD-DROP, ``<task>/run_addrop.sh``,
``<task>/main.py`` and ``<task>/trainer.py``). The job form, the REST API, the CLI and ``results/`` all read it
from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_LAYERS = "all"  # every layer of the model ("0,1,...,11" for BERT-base in the scripts)
SCRIPTS = "TaoYang225/AD-DROP"


@dataclass(frozen=True)
class Preset:
    """Values for a job's ``training`` and ``addrop`` sections, and a line per value saying where it comes from."""

    name: str
    title: str
    task: str
    training: dict[str, Any]
    addrop: dict[str, Any]
    sources: dict[str, str]
    notes: tuple[str, ...] = field(default=())

    def layers(self, num_layers: int) -> list[int]:
        """The masked layers for a model of ``num_layers`` layers."""
        layers = self.addrop["layers"]
        return list(range(num_layers)) if layers == ALL_LAYERS else [layer for layer in layers if layer < num_layers]


def _script(task: str, what: str) -> str:
    return f"{SCRIPTS}, {task}/{what}"


# (epochs, patience, max length, masked layers) of each task's run_addrop.sh; lr 1e-5 and batch 16 everywhere
_AUTHORS = {
    "cola": (50, 5, 47, ALL_LAYERS),
    "mrpc": (50, 5, 100, ALL_LAYERS),
    "rte": (50, 5, 128, ALL_LAYERS),
    "stsb": (50, 5, 100, [0]),
    "sst2": (20, 5, 120, [0]),
    "qnli": (10, 3, 128, [0]),
    "qqp": (10, 3, 120, [0]),
    "mnli": (10, 3, 128, [0]),
}
AUTHORS_MODEL = "bert-base-uncased"  # their scripts' MODEL (roberta-base for SST-2)


def authors_protocol(task: str) -> Preset:
    """The authors' protocol for ``task`` (a GLUE task their scripts cover); ``ValueError`` for any other."""
    if task not in _AUTHORS:
        raise ValueError(f"the authors' protocol covers {', '.join(sorted(_AUTHORS))}; not {task!r}")
    epochs, patience, max_length, layers = _AUTHORS[task]
    script = _script(task, "run_addrop.sh")
    training = {"learning_rate": 1e-5, "lr_schedule": "constant", "warmup_ratio": 0.0, "weight_decay": 0.01,
                "batch_size": 16, "epochs": epochs, "patience": patience, "max_length": max_length, "seed": 42}
    addrop = {"enabled": True, "method": "GA", "mode": "high", "layers": layers, "cross_tuning": True}
    sources = {
        "learning_rate": f"{script}: LR=1e-5",
        "lr_schedule": f"{_script(task, 'trainer.py')}: scheduler.step() is commented out, so the rate stays constant",
        "warmup_ratio": f"{_script(task, 'main.py')}: no warm-up is applied (the scheduler never steps)",
        "weight_decay": f"{_script(task, 'main.py')}: AdamW, weight decay 0.01 (none on biases and LayerNorm, as "
                        "transformers' Trainer does)",
        "batch_size": f"{script}: BSZ=16",
        "epochs": f"{script}: EPOCH={epochs}",
        "patience": f"{script}: PATIENT={patience}, early stopping on the dev metric",
        "max_length": f"{script}: SEQ_LENS={max_length}",
        "seed": f"{script}: SEED=42, one seed",
        "layers": f"{script}: MASK_LAYERS=" + ('"0,1,...,11" (every layer)' if layers == ALL_LAYERS else '"0"'),
        "method": f"{script}: ATTR=GA",
        "cross_tuning": f"{_script(task, 'trainer.py')}: masks only in odd epochs (epoch % 2 != 0)",
        "p, q": f"{script}: the full 9 x 9 grid 0.1..0.9 of p and q, the best setting reported",
    }
    notes = (
        f"The scripts fine-tune {AUTHORS_MODEL if task != 'sst2' else 'roberta-base'}; the preset keeps the model "
        "you choose.",
        "The scripts shuffle the training set and pad every batch to the max length; the product groups batches "
        "by length (padding is masked, so only which examples share a batch differs).",
        f"Up to {epochs} epochs is long on a CPU: lower the epochs to cap a run (results/ caps them at 30 and says so).",
    )
    return Preset("authors", "The authors' protocol", task, training, addrop, sources, notes)


PRESETS = {"authors": authors_protocol}
PRESET_TASKS = tuple(_AUTHORS)


def catalog() -> list[dict[str, Any]]:
    """Every preset's name, title and tasks (for lists and forms)."""
    return [{"name": name, "title": make(PRESET_TASKS[0]).title, "tasks": list(PRESET_TASKS)}
            for name, make in PRESETS.items()]
