"""Task specifications: which columns hold the text and the labels, the label set and the dev metric."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

TaskKind = Literal["classification", "regression", "token_classification", "translation"]

# Keys that metrics.compute_metrics returns for each kind; a task's dev metric must be one of them.
METRICS_BY_KIND: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "f1", "matthews_correlation"),
    "regression": ("pearson", "spearmanr", "combined"),
    "token_classification": ("f1", "precision", "recall", "accuracy"),
    "translation": ("bleu", "chrf"),  # sacrebleu's corpus BLEU and chrF of the generated translations
}
_DEFAULT_METRIC = {"classification": "accuracy", "regression": "pearson", "token_classification": "f1",
                   "translation": "bleu"}

CONLL2003_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")


@dataclass(frozen=True)
class TaskSpec:
    """What a task's data looks like and how it is scored.

    A translation task reads its source text from ``text_fields[0]`` (the source language's code) and its
    target from ``label_field`` (the target language's), in rows of the Hub's ``wmt16`` layout
    (``{"translation": {"en": ..., "ro": ...}}``) or with the two languages as columns."""

    name: str
    kind: TaskKind
    text_fields: tuple[str, ...]
    label_field: str = "label"
    label_names: tuple[str, ...] = ()
    metric: str = "accuracy"
    hf_dataset: tuple[str, str | None] | None = None

    @property
    def num_labels(self) -> int:
        """Number of model outputs per example (per token for token classification)."""
        return 1 if self.kind in ("regression", "translation") else len(self.label_names)

    @property
    def is_pair(self) -> bool:
        """True for sentence-pair tasks."""
        return len(self.text_fields) == 2


def _glue(name: str, text_fields: tuple[str, ...], label_names: tuple[str, ...], metric: str = "accuracy") -> TaskSpec:
    kind: TaskKind = "classification" if label_names else "regression"
    return TaskSpec(name, kind, text_fields, "label", label_names, metric, ("nyu-mll/glue", name))


KNOWN_TASKS: dict[str, TaskSpec] = {
    "sst2": _glue("sst2", ("sentence",), ("negative", "positive")),
    "cola": _glue("cola", ("sentence",), ("unacceptable", "acceptable"), "matthews_correlation"),
    "mrpc": _glue("mrpc", ("sentence1", "sentence2"), ("not_equivalent", "equivalent"), "f1"),
    "rte": _glue("rte", ("sentence1", "sentence2"), ("entailment", "not_entailment")),
    "stsb": _glue("stsb", ("sentence1", "sentence2"), (), "pearson"),
    "qnli": _glue("qnli", ("question", "sentence"), ("entailment", "not_entailment")),
    "qqp": _glue("qqp", ("question1", "question2"), ("not_duplicate", "duplicate"), "f1"),
    "mnli": _glue("mnli", ("premise", "hypothesis"), ("entailment", "neutral", "contradiction")),
    # WMT 2016 as the paper's OPUS-MT models were fine-tuned on it: English to Romanian, Turkish to English
    "wmt16-en-ro": TaskSpec("wmt16-en-ro", "translation", ("en",), "ro", (), "bleu", ("wmt16", "ro-en")),
    "wmt16-tr-en": TaskSpec("wmt16-tr-en", "translation", ("tr",), "en", (), "bleu", ("wmt16", "tr-en")),
    # The canonical "conll2003" hub dataset is a loading script, which datasets>=4 no longer runs;
    # this copy is its parquet export with the same tag ids.
    "conll2003": TaskSpec(
        "conll2003", "token_classification", ("tokens",), "ner_tags", CONLL2003_TAGS, "f1",
        ("lhoestq/conll2003", None),
    ),
}


def get_task(name: str) -> TaskSpec:
    """Return the known task called ``name`` (case-insensitive)."""
    try:
        return KNOWN_TASKS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(KNOWN_TASKS)}") from None


def custom_task(
    kind: TaskKind,
    text_fields: tuple[str, ...] | list[str],
    label_field: str = "label",
    label_names: tuple[str, ...] | list[str] = (),
    metric: str | None = None,
    name: str = "custom",
) -> TaskSpec:
    """Build and validate a spec for a user's own files."""
    if kind not in get_args(TaskKind):
        raise ValueError(f"unknown task kind {kind!r}; expected one of {', '.join(get_args(TaskKind))}")
    text_fields = tuple(text_fields)
    label_names = tuple(label_names)
    max_fields = 1 if kind in ("token_classification", "translation") else 2
    if not 1 <= len(text_fields) <= max_fields:
        raise ValueError(f"a {kind} task takes 1 to {max_fields} text fields, got {list(text_fields)}")
    if label_field in text_fields:
        raise ValueError(f"label field {label_field!r} is also a text field")
    if kind in ("regression", "translation") and label_names:
        raise ValueError(f"a {kind} task has no label names")
    if kind not in ("regression", "translation") and len(label_names) < 2:
        raise ValueError(f"a {kind} task needs at least 2 label names, got {list(label_names)}")
    if len(set(label_names)) != len(label_names):
        raise ValueError(f"label names must be unique, got {list(label_names)}")
    metric = metric or _DEFAULT_METRIC[kind]
    if metric not in METRICS_BY_KIND[kind]:
        choices = ", ".join(METRICS_BY_KIND[kind])
        raise ValueError(f"metric {metric!r} is not available for {kind}; choose from {choices}")
    return TaskSpec(name, kind, text_fields, label_field, label_names, metric)
