"""Real fine-tuning of the bundled MiniLM on slices of the shared GLUE / CoNLL data, and the CLI."""

import json

import pytest
import torch

from addrop.cli import main
from addrop.explain import explain
from addrop.finetune import FinetuneConfig, finetune
from addrop.models import load_classifier, load_tokenizer


@pytest.mark.slow
def test_sst2_cross_tuned_run_learns_and_keeps_the_best_checkpoint(shared_data, tmp_path):
    config = FinetuneConfig(
        task="sst2", data_dir=str(shared_data / "glue" / "sst2"), output_dir=str(tmp_path / "run"),
        max_train_samples=512, max_eval_samples=128, epochs=3, batch_size=16, learning_rate=5e-5,
        logging_steps=4, device="cpu",
    )
    result = finetune(config, progress=False)
    steps = [e for e in result.history if e["kind"] == "step"]
    phases = {}
    for event in steps:  # a step logged at epoch 1.0 is the last step of epoch 0
        phases.setdefault(max(0, int(event["epoch"] - 1e-9)), set()).add(event["values"]["addrop"])
    assert phases == {0: {0.0}, 1: {1.0}, 2: {0.0}}  # plain, AD-DROP, plain
    first, last = steps[0]["values"]["loss"], [e["values"]["loss"] for e in steps if e["epoch"] > 2.0]
    assert sum(last) / len(last) < first - 0.1, (first, last)
    assert result.best_metric is not None and result.best_metric > 0.6

    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["best_metric"] == result.best_metric and written["config"]["addrop"]["method"] == "GA"
    assert not (tmp_path / "run" / "checkpoints").exists()
    assert FinetuneConfig(**written["config"]) == config  # a run's config reads back from its metrics file

    model, tokenizer = load_classifier(result.best_checkpoint), load_tokenizer(result.best_checkpoint)
    view = explain(model, tokenizer, "a gorgeous, witty, seductive movie.", layers=(0,))
    assert view.label_names == ["negative", "positive"]
    assert view.attribution.shape == (1, 12, len(view.tokens), len(view.tokens))


@pytest.mark.slow
@pytest.mark.parametrize(
    "task, data, metric, precision",
    [("mrpc", "glue/mrpc", "f1", "fp32"), ("stsb", "glue/stsb", "pearson", "fp32"),
     ("conll2003", "conll2003", "f1", "fp32"), ("sst2", "glue/sst2", "accuracy", "bf16")],
)
def test_pair_regression_and_token_tasks_train(shared_data, tmp_path, task, data, metric, precision):
    config = FinetuneConfig(
        task=task, data_dir=str(shared_data / data), output_dir=str(tmp_path / task), max_train_samples=48,
        max_eval_samples=32, epochs=2, batch_size=16, device="cpu", save_checkpoint=False, patience=None,
        precision=precision,
    )
    result = finetune(config, progress=False)
    assert result.metric == metric
    assert metric in result.final_metrics
    losses = [e["values"]["loss"] for e in result.history if e["kind"] == "step"]
    assert all(torch.isfinite(torch.tensor(losses)))


def test_explain_a_sentence_pair_on_the_default_model():
    model, tokenizer = load_classifier("minilm"), load_tokenizer("minilm")
    view = explain(model, tokenizer, "The cat sat.", "A cat was sitting.", layers=None, p=0.3, q=0.5, seed=7)
    assert view.tokens[0] == "[CLS]" and view.tokens.count("[SEP]") == 2
    assert view.segments[: view.tokens.index("[SEP]") + 1] == [0] * (view.tokens.index("[SEP]") + 1)
    assert view.segments[-1] == 1
    assert view.attention.shape == (6, 12, len(view.tokens), len(view.tokens))
    again = explain(model, tokenizer, "The cat sat.", "A cat was sitting.", layers=None, p=0.3, q=0.5, seed=7)
    assert torch.equal(view.dropped, again.dropped)  # eval mode and a seeded generator: reproducible
    reloaded = explain(load_classifier("minilm"), tokenizer, "The cat sat.", "A cat was sitting.", layers=None,
                       p=0.3, q=0.5, seed=7)
    assert reloaded.probabilities == view.probabilities  # a new head is initialised the same way each time
    torch.testing.assert_close(reloaded.attribution, view.attribution)
    long = explain(model, tokenizer, "word " * 300, max_length=32, layers=(0,))
    assert long.truncated and len(long.tokens) == 32


def test_cli_explain_saves_maps(tmp_path, capsys):
    out = tmp_path / "maps.json"
    code = main(["explain", "good film", "--layers", "0,5", "--method", "AA", "--save", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "prediction:" in printed and "layer 5:" in printed
    saved = json.loads(out.read_text())
    assert saved["layers"] == [0, 5] and len(saved["attention"]) == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--task", "nosuchtask"], "unknown task"),
        (["train", "--task", "mrpc", "--data-dir", "/nonexistent/dir"], "/nonexistent/dir"),
        (["explain", "hello", "--model", "/nonexistent/model"], "could not load"),
        (["explain", "hello", "--model", "no-such-org/no-such-model"], "could not load"),
        (["explain", "hello", "--layers", "9"], "out of range"),
        (["explain", "   "], "empty"),
        (["explain", "hello", "--head", "40"], "head 40"),
        (["train", "--task", "mrpc", "--device", "cpu", "--precision", "fp16"], "'fp16' needs a cuda device"),
    ],
)
def test_cli_errors_are_messages_not_tracebacks(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "addrop: error:" in err and message in err.lower()
    assert "Traceback" not in err


def test_cli_train_with_unknown_model(shared_data, capsys):
    argv = ["train", "--task", "mrpc", "--data-dir", str(shared_data), "--model", "no-such-org/no-such-model"]
    assert main(argv) == 2
    assert "could not load model 'no-such-org/no-such-model'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--p", "1.5"], "must be a number in (0, 1), got 1.5"),
        (["train", "--q", "abc"], "not a number"),
        (["train", "--method", "XX"], "invalid choice"),
        (["train", "--epochs", "0"], "at least 1"),
        (["train", "--layers", "a,b"], "comma-separated"),
        (["train", "--precision", "fp8"], "invalid choice"),
    ],
)
def test_cli_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
