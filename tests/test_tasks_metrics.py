"""Task specs and metrics, checked against hand computations."""

import math

import numpy as np
import pytest
from transformers import EvalPrediction

from addrop.metrics import compute_metrics, trainer_metrics, translation_metrics
from addrop.tasks import KNOWN_TASKS, METRICS_BY_KIND, CONLL2003_TAGS, custom_task, get_task


def one_hot_logits(ids: np.ndarray, num_classes: int) -> np.ndarray:
    """Logits whose argmax is ``ids`` (with noise so ties cannot decide the result)."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(*ids.shape, num_classes))
    np.put_along_axis(logits, np.maximum(ids, 0)[..., None], 10.0, axis=-1)
    return logits


# --- tasks ------------------------------------------------------------------------------------------


def test_known_tasks_and_lookup():
    assert set(KNOWN_TASKS) == {"sst2", "cola", "mrpc", "rte", "stsb", "qnli", "qqp", "mnli", "conll2003",
                                "wmt16-en-ro", "wmt16-tr-en"}
    assert get_task("MRPC") is KNOWN_TASKS["mrpc"]
    mrpc = get_task("mrpc")
    assert mrpc.is_pair and mrpc.num_labels == 2 and mrpc.metric == "f1"
    assert mrpc.label_names == ("not_equivalent", "equivalent")
    assert mrpc.hf_dataset == ("nyu-mll/glue", "mrpc")
    assert get_task("sst2").label_names == ("negative", "positive") and not get_task("sst2").is_pair
    assert get_task("cola").label_names == ("unacceptable", "acceptable")
    assert get_task("cola").metric == "matthews_correlation"
    assert get_task("rte").label_names == ("entailment", "not_entailment")
    assert get_task("qqp").metric == "f1"
    stsb = get_task("stsb")
    assert stsb.kind == "regression" and stsb.num_labels == 1 and stsb.metric == "pearson" and stsb.is_pair
    assert get_task("mnli").num_labels == 3
    conll = get_task("conll2003")
    assert conll.kind == "token_classification" and conll.label_field == "ner_tags"
    assert conll.text_fields == ("tokens",) and conll.num_labels == 9 and conll.metric == "f1"
    assert conll.label_names == ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")


def test_unknown_task_lists_known_names():
    with pytest.raises(ValueError, match="unknown task 'nope'.*sst2.*conll2003"):
        get_task("nope")


def test_every_known_metric_is_computed():
    labels = np.array([0, 1, 1, 0, 1])
    for task in KNOWN_TASKS.values():
        if task.kind == "translation":  # scored on decoded text, not on logits
            result = translation_metrics(["a small cat"], ["a small cat"])
        elif task.kind == "regression":
            result = compute_metrics(task, np.array([0.1, 0.5, 0.3, 0.9, 0.2]), labels.astype(float))
        elif task.kind == "classification":
            result = compute_metrics(task, one_hot_logits(labels, task.num_labels), labels)
        else:
            result = compute_metrics(task, one_hot_logits(labels[None], task.num_labels), labels[None])
        assert task.metric in result, task.name


def test_custom_task_defaults_and_validation():
    spec = custom_task("classification", ["text"], label_names=["a", "b", "c"])
    assert spec.text_fields == ("text",) and spec.num_labels == 3 and spec.metric == "accuracy"
    assert spec.name == "custom" and spec.hf_dataset is None
    assert custom_task("regression", ("q", "d"), label_field="score").metric == "pearson"
    assert custom_task("token_classification", ("words",), "tags", ("O", "B-X", "I-X"), name="mine").name == "mine"
    assert custom_task("token_classification", ("words",), "tags", ("O", "B-X")).metric == "f1"
    assert custom_task("classification", ("a",), label_names=("x", "y"), metric="matthews_correlation").metric == (
        "matthews_correlation"
    )
    bad = [
        (("classification", ()), {"label_names": ("a", "b")}, "1 to 2 text fields"),
        (("classification", ("a", "b", "c")), {"label_names": ("a", "b")}, "1 to 2 text fields"),
        (("token_classification", ("a", "b")), {"label_names": ("O", "B-X")}, "1 to 1 text fields"),
        (("classification", ("a",)), {"label_names": ("only",)}, "at least 2 label names"),
        (("classification", ("a",)), {"label_names": ("x", "x")}, "unique"),
        (("regression", ("a",)), {"label_names": ("x", "y")}, "no label names"),
        (("classification", ("a",)), {"label_names": ("x", "y"), "metric": "pearson"}, "not available"),
        (("classification", ("label",)), {"label_names": ("x", "y")}, "also a text field"),
        (("ranking", ("a",)), {}, "unknown task kind"),
    ]
    for args, kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            custom_task(*args, **kwargs)


def test_metrics_by_kind_cover_defaults():
    for kind in METRICS_BY_KIND:
        no_labels = kind in ("regression", "translation")
        assert custom_task(kind, ("t",), label_names=() if no_labels else ("O", "B-X")).metric in (
            METRICS_BY_KIND[kind]
        )


# --- classification ---------------------------------------------------------------------------------


def test_classification_accuracy_f1_mcc_by_hand():
    labels = np.array([1, 1, 1, 0, 0, 1, 0, 1, 0, 0])
    preds = np.array([1, 0, 1, 0, 1, 1, 0, 1, 1, 0])
    tp = int(((preds == 1) & (labels == 1)).sum())
    tn = int(((preds == 0) & (labels == 0)).sum())
    fp = int(((preds == 1) & (labels == 0)).sum())
    fn = int(((preds == 0) & (labels == 1)).sum())
    assert (tp, tn, fp, fn) == (4, 3, 2, 1)
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    f1 = 2 * tp / (2 * tp + fp + fn)

    shares = {"pred_share_0": 4 / 10, "pred_share_1": 6 / 10}  # 4 zeros and 6 ones predicted
    mrpc = compute_metrics(get_task("mrpc"), one_hot_logits(preds, 2), labels)
    assert mrpc == pytest.approx({"accuracy": 0.7, "f1": f1, **shares})
    cola = compute_metrics(get_task("cola"), one_hot_logits(preds, 2), labels)
    assert cola == pytest.approx({"accuracy": 0.7, "matthews_correlation": mcc, **shares})
    assert set(compute_metrics(get_task("sst2"), one_hot_logits(preds, 2), labels)) == {"accuracy", *shares}
    # Already-decoded class ids give the same result as logits.
    assert compute_metrics(get_task("mrpc"), preds, labels) == mrpc
    assert all(type(v) is float for v in mrpc.values())


def test_multiclass_f1_is_macro():
    task = custom_task("classification", ("t",), label_names=("a", "b", "c"), metric="f1")
    labels = np.array([0, 0, 1, 1, 2, 2])
    preds = np.array([0, 1, 1, 1, 2, 0])
    # per class: a p=1/2 r=1/2 f=1/2; b p=2/3 r=1 f=4/5; c p=1 r=1/2 f=2/3
    expected = (1 / 2 + 4 / 5 + 2 / 3) / 3
    assert compute_metrics(task, one_hot_logits(preds, 3), labels)["f1"] == pytest.approx(expected)


def test_constant_predictions_are_nan_free():
    labels = np.array([0, 1, 0, 1])
    cola = compute_metrics(get_task("cola"), one_hot_logits(np.zeros(4, dtype=int), 2), labels)
    all_zero = {"pred_share_0": 1.0, "pred_share_1": 0.0}
    assert cola == {"accuracy": 0.5, "matthews_correlation": 0.0, **all_zero}
    mrpc = compute_metrics(get_task("mrpc"), np.zeros(4, dtype=int), labels)
    assert mrpc == {"accuracy": 0.5, "f1": 0.0, **all_zero}
    stsb = compute_metrics(get_task("stsb"), np.full(4, 2.5), np.array([0.0, 1.0, 4.0, 5.0]))
    assert stsb == {"pearson": 0.0, "spearmanr": 0.0, "combined": 0.0, "pred_mean": 2.5, "pred_std": 0.0}


def test_class_shares_and_score_spread_of_the_predictions():
    task = custom_task("classification", ("t",), label_names=("a", "b", "c"))
    shares = compute_metrics(task, np.array([2, 2, 0, 2]), np.array([0, 1, 2, 2]))
    assert {k: v for k, v in shares.items() if k.startswith("pred_share_")} == {
        "pred_share_0": 0.25, "pred_share_1": 0.0, "pred_share_2": 0.75}
    many = custom_task("classification", ("t",), label_names=tuple("abcdefghijk"))  # 11 classes: no shares
    assert not any(k.startswith("pred_share_") for k in compute_metrics(many, np.arange(11), np.arange(11)))
    scores = np.array([1.0, 2.0, 4.0, 5.0])
    stsb = compute_metrics(get_task("stsb"), scores, np.array([0.0, 1.0, 3.0, 5.0]))
    assert stsb["pred_mean"] == 3.0 and stsb["pred_std"] == pytest.approx(math.sqrt((4 + 1 + 1 + 4) / 4))


# --- regression ---------------------------------------------------------------------------------------


def test_regression_by_hand():
    labels = np.array([0.0, 1.2, 2.5, 3.1, 4.8, 2.0])
    preds = np.array([0.5, 0.9, 3.0, 2.2, 4.1, 2.4])
    pearson = np.corrcoef(preds, labels)[0, 1]
    ranks = lambda x: np.argsort(np.argsort(x)).astype(float)  # no ties in these arrays
    spearman = np.corrcoef(ranks(preds), ranks(labels))[0, 1]
    expected = {"pearson": pearson, "spearmanr": spearman, "combined": (pearson + spearman) / 2,
                "pred_mean": float(np.mean(preds)), "pred_std": float(np.std(preds))}
    task = get_task("stsb")
    assert compute_metrics(task, preds, labels) == pytest.approx(expected)
    assert compute_metrics(task, preds[:, None].astype(np.float32), labels) == pytest.approx(expected, rel=1e-5)
    assert all(type(v) is float for v in compute_metrics(task, preds, labels).values())


# --- token classification -----------------------------------------------------------------------------


def tag_ids(*tags: str) -> list[int]:
    return [CONLL2003_TAGS.index(t) for t in tags]


def test_entity_f1_by_hand():
    pad = -100
    gold = np.array(
        [
            [pad, *tag_ids("B-PER", "I-PER", "O", "B-LOC"), pad],
            [pad, *tag_ids("B-ORG", "O", "B-MISC", "I-MISC"), pad],
            [pad, *tag_ids("O", "O"), pad, pad, pad],
        ]
    )
    pred_tags = np.array(
        [
            # PER right, LOC missed (predicted ORG instead); the ignored positions predict entities.
            tag_ids("B-PER", "B-PER", "I-PER", "O", "B-ORG", "B-LOC"),
            # ORG right, MISC with the wrong span.
            tag_ids("B-PER", "B-ORG", "O", "B-MISC", "O", "B-LOC"),
            # A spurious LOC.
            tag_ids("O", "B-LOC", "O", "B-PER", "B-PER", "B-PER"),
        ]
    )
    # Gold entities: PER, LOC, ORG, MISC (4). Predicted: PER, ORG, ORG, MISC, LOC (5). Correct: PER, ORG (2).
    precision, recall = 2 / 5, 2 / 4
    f1 = 2 * precision * recall / (precision + recall)
    # Tokens scored: 4 + 4 + 2 = 10; wrong: LOC->ORG, I-MISC->O, O->B-LOC.
    accuracy = 7 / 10
    expected = {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}
    task = get_task("conll2003")
    assert compute_metrics(task, one_hot_logits(pred_tags, 9), gold) == pytest.approx(expected)
    assert compute_metrics(task, pred_tags, gold) == pytest.approx(expected)


def test_entity_scoring_follows_conlleval():
    # conlleval (the official CoNLL-2003 scorer) reads an I- tag after O as the start of an entity.
    gold = np.array([tag_ids("B-PER", "I-PER", "O")])
    pred = np.array([tag_ids("I-PER", "I-PER", "O")])
    assert compute_metrics(get_task("conll2003"), pred, gold)["f1"] == 1.0


def test_no_entities_is_nan_free():
    gold = np.array([tag_ids("O", "O")])
    result = compute_metrics(get_task("conll2003"), np.array([tag_ids("O", "O")]), gold)
    assert result == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 1.0}


# --- Trainer adapter ----------------------------------------------------------------------------------


def test_trainer_metrics_takes_first_of_tuple():
    labels = np.array([1, 0, 1, 1])
    logits = one_hot_logits(np.array([1, 0, 0, 1]), 2)
    extra = np.zeros((4, 3, 5))  # e.g. hidden states returned beside the logits
    metrics = trainer_metrics(get_task("mrpc"))
    expected = compute_metrics(get_task("mrpc"), logits, labels)
    assert metrics(EvalPrediction(predictions=(logits, extra), label_ids=labels)) == expected
    assert metrics(EvalPrediction(predictions=logits, label_ids=labels)) == expected
    assert expected["accuracy"] == 0.75
