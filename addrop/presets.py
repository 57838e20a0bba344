"""Presets: named sets of training and AD-DROP settings, per task, with where each value comes from.

"authors" is the protocol of the AD-DROP authors' own scripts (TaoYang225/AD-DROP, ``<task>/run_addrop.sh``,
``<task>/main.py`` and ``<task>/trainer.py``; for translation ``translation/main_<pair>_mt_cut.py``,
``translation/self_transformers/trainer.py`` and ``addrop_utils.py``). The job form, the REST API, the CLI and
``results/`` all read it from here.
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
# translation: (script, p, q, model); their g_dropout is p and keep_rate is 1 - q (addrop_utils.generate_mask_rev:
# the top p of each row's attribution are candidates, each kept with probability keep_rate)
_AUTHORS_TRANSLATION = {
    "wmt16-en-ro": ("main_en_ro_mt_cut.py", 0.2, 0.2, "Helsinki-NLP/opus-mt-en-ro"),
    "wmt16-tr-en": ("main_tr_en_mt_cut.py", 0.6, 0.1, "Helsinki-NLP/opus-mt-tr-en"),
}


def authors_protocol(task: str) -> Preset:
    """The authors' protocol for ``task`` (a GLUE or translation task their scripts cover); ``ValueError`` for
    any other."""
    if task in _AUTHORS_TRANSLATION:
        return _authors_translation(task)
    if task not in _AUTHORS:
        covered = sorted([*_AUTHORS, *_AUTHORS_TRANSLATION])
        raise ValueError(f"the authors' protocol covers {', '.join(covered)}; not {task!r}")
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


def _authors_translation(task: str) -> Preset:
    script, p, q, model = _AUTHORS_TRANSLATION[task]
    main, trainer, masks = (f"{SCRIPTS}, translation/{name}" for name in
                            (script, "self_transformers/trainer.py", "self_transformers/addrop_utils.py"))
    training = {"learning_rate": 2e-5, "lr_schedule": "linear", "warmup_ratio": 0.0, "weight_decay": 0.01,
                "batch_size": 16, "epochs": 5, "patience": None, "max_length": 128, "seed": 42}
    addrop = {"enabled": True, "method": "GA", "mode": "high", "layers": ALL_LAYERS, "cross_tuning": True,
              "p": p, "q": q, "kind": "encoder", "target": "pseudo_loss"}
    sources = {
        "learning_rate": f"{main}: learning_rate=2e-5",
        "lr_schedule": f"{main}: Seq2SeqTrainingArguments' default schedule, linear decay without warm-up",
        "warmup_ratio": f"{main}: no warm-up set",
        "weight_decay": f"{main}: weight_decay=0.01",
        "batch_size": f"{main}: batch_size = 16",
        "epochs": f"{main}: num_train_epochs=5, evaluated every epoch, no early stopping",
        "patience": f"{main}: no early stopping callback",
        "max_length": f"{main}: max_input_length = max_target_length = 128",
        "seed": f"{main}: seed = 42",
        "layers": f"{trainer}: every encoder layer (a loop over num_hidden_layers)",
        "kind": f"{trainer}: only the encoder's self-attention is masked (addrop_encoder_mask)",
        "method": f"{trainer}: the gradient of the loss with respect to each encoder attention map",
        "target": f"{trainer}: cross-entropy against the argmax of pass 1's logits (pseudo labels)",
        "cross_tuning": f"{trainer}: masks only in odd epochs (int(epoch) % 2 != 0)",
        "p, q": f"{main}: g_dropout={p} (p), keep_rate={1 - q:g} (q = 1 - keep_rate, {masks})",
    }
    notes = (
        f"The script fine-tunes {model}; the preset keeps the model you choose (that id loads where you are online).",
        "The script evaluates on the WMT 2016 test split; the product scores the validation split.",
    )
    return Preset("authors", "The authors' protocol", task, training, addrop, sources, notes)


PRESETS = {"authors": authors_protocol}
TRANSLATION_PRESET_TASKS = tuple(_AUTHORS_TRANSLATION)
# the tasks the preset covers (the web app's forms offer it for these)
PRESET_TASKS = (*_AUTHORS, *TRANSLATION_PRESET_TASKS)


def catalog() -> list[dict[str, Any]]:
    """Every preset's name, title and tasks (for lists and forms)."""
    return [{"name": name, "title": make(PRESET_TASKS[0]).title, "tasks": list(PRESET_TASKS)}
            for name, make in PRESETS.items()]
