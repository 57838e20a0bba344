"""Dev metrics with scikit-learn, SciPy, seqeval and sacrebleu (``evaluate`` would need the network)."""

from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np
import sacrebleu
from scipy.stats import pearsonr, spearmanr
from seqeval.metrics import f1_score as entity_f1
from seqeval.metrics import precision_score as entity_precision
from seqeval.metrics import recall_score as entity_recall
from sklearn.metrics import f1_score, matthews_corrcoef
from transformers import EvalPrediction, PreTrainedTokenizerBase

from addrop.kinds import IGNORED
from addrop.tasks import TaskSpec

# Tasks with at most this many classes also report each class's share of the predictions (pred_share_<id>):
# a regulariser can move them (AD-DROP epochs pushed MiniLM's MRPC positives from about 0.82 to 0.92).
MAX_SHARED_CLASSES = 10


def compute_metrics(task: TaskSpec, predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Score raw model outputs against gold labels; every value is a finite Python float.

    ``predictions`` are logits ([N, C], or [N, T, C] for token classification) or, with one dimension
    fewer, already-decoded class ids; regression takes [N] or [N, 1] scores. Token labels equal to -100
    are ignored.
    """
    predictions = np.asarray(predictions)
    labels = np.asarray(labels)
    if task.kind == "translation":
        raise ValueError("a translation task is scored on decoded text: use translation_metrics")
    if task.kind == "regression":
        return _regression(predictions, labels)
    if task.kind == "classification":
        return _classification(task, _decode(predictions, labels.ndim), labels)
    return _token_classification(task, _decode(predictions, labels.ndim), labels)


def translation_metrics(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu's defaults, one reference per sentence) and the mean length in words."""
    return {
        "bleu": float(sacrebleu.corpus_bleu(hypotheses, [references]).score),
        "chrf": float(sacrebleu.corpus_chrf(hypotheses, [references]).score),
        "gen_words": float(np.mean([len(h.split()) for h in hypotheses])) if hypotheses else 0.0,
    }


def decode_sequences(tokenizer: PreTrainedTokenizerBase, ids: np.ndarray) -> list[str]:
    """Token ids (padded with -100 or the pad token) as stripped text without special tokens."""
    ids = np.where(np.asarray(ids) == IGNORED, tokenizer.pad_token_id, ids)
    return [text.strip() for text in tokenizer.batch_decode(ids, skip_special_tokens=True)]


def trainer_metrics(
    task: TaskSpec, tokenizer: PreTrainedTokenizerBase | None = None,
    observe: Callable[[np.ndarray, list[str]], None] | None = None,
) -> Callable[[EvalPrediction], dict[str, float]]:
    """Adapt :func:`compute_metrics` to ``transformers.Trainer(compute_metrics=...)``; a translation task's
    predictions are generated token ids, decoded with ``tokenizer`` and scored by :func:`translation_metrics`,
    and handed with their source ids to ``observe`` (``addrop.callbacks.DevPredictions.observe``; the Trainer
    then needs ``include_for_metrics=["inputs"]``)."""
    if task.kind == "translation" and tokenizer is None:
        raise ValueError("a translation task's metrics need the tokenizer to decode the generated ids")

    def metrics(eval_pred: EvalPrediction) -> dict[str, float]:
        predictions, labels = eval_pred.predictions, eval_pred.label_ids
        # Models that return extra outputs (hidden states, attentions) give a tuple; logits come first.
        if isinstance(predictions, tuple):
            predictions = predictions[0]
        if isinstance(labels, tuple):
            labels = labels[0]
        if task.kind == "translation":
            hypotheses = decode_sequences(tokenizer, predictions)
            if observe is not None and eval_pred.inputs is not None:
                observe(eval_pred.inputs, hypotheses)
            return translation_metrics(hypotheses, decode_sequences(tokenizer, labels))
        return compute_metrics(task, predictions, labels)

    return metrics


def _decode(predictions: np.ndarray, label_ndim: int) -> np.ndarray:
    return predictions.argmax(axis=-1) if predictions.ndim > label_ndim else predictions


def _finite(value: float) -> float:
    # Correlations are undefined (NaN) for constant inputs; report them as no correlation.
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _classification(task: TaskSpec, preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    out = {"accuracy": float(np.mean(preds == labels))}
    if task.metric == "f1":
        average = "binary" if task.num_labels == 2 else "macro"
        out["f1"] = float(f1_score(labels, preds, average=average, zero_division=0))
    if task.metric == "matthews_correlation":
        out["matthews_correlation"] = _finite(matthews_corrcoef(labels, preds))
    if task.num_labels <= MAX_SHARED_CLASSES:
        out.update({f"pred_share_{k}": float(np.mean(preds == k)) for k in range(task.num_labels)})
    return out


def _regression(predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    preds = predictions.reshape(-1).astype(np.float64)
    labels = labels.reshape(-1).astype(np.float64)
    if np.ptp(preds) == 0 or np.ptp(labels) == 0:
        pearson = spearman = 0.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pearson = _finite(pearsonr(preds, labels)[0])
            spearman = _finite(spearmanr(preds, labels)[0])
    return {"pearson": pearson, "spearmanr": spearman, "combined": (pearson + spearman) / 2,
            "pred_mean": float(preds.mean()), "pred_std": float(preds.std())}


def _token_classification(task: TaskSpec, preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    names = task.label_names
    true_tags: list[list[str]] = []
    pred_tags: list[list[str]] = []
    for pred_row, label_row in zip(preds, labels):
        keep = label_row != IGNORED
        true_tags.append([names[i] for i in label_row[keep]])
        pred_tags.append([names[i] for i in pred_row[keep]])
    kept = labels != IGNORED
    # Default (conlleval) mode, as in the official CoNLL-2003 script and transformers' NER examples,
    # so scores compare with published ones.
    return {
        "precision": float(entity_precision(true_tags, pred_tags, zero_division=0)),
        "recall": float(entity_recall(true_tags, pred_tags, zero_division=0)),
        "f1": float(entity_f1(true_tags, pred_tags, zero_division=0)),
        "accuracy": float(np.mean(preds[kept] == labels[kept])) if kept.any() else 0.0,
    }
