"""Fine-tuning a translation model (a tiny random Marian) with AD-DROP through ``finetune``: data in the Hub's
wmt16 layout, cross-tuning, generation on the dev set scored by BLEU and chrF, the best checkpoint kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.tiny_translation import save_tiny_marian, write_parallel
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from addrop import ADDropConfig
from addrop.data.errors import DataError
from addrop.data.splits import load_splits
from addrop.finetune import FinetuneConfig, finetune
from addrop.metrics import decode_sequences, trainer_metrics
from addrop.tasks import custom_task, get_task


@pytest.fixture(scope="module")
def marian_dir(tmp_path_factory) -> Path:
    return save_tiny_marian(tmp_path_factory.mktemp("tiny-marian"))


@pytest.fixture(scope="module")
def parallel_dir(tmp_path_factory) -> Path:
    return write_parallel(tmp_path_factory.mktemp("toy-en-ro"), train=160, validation=24)


def config(marian_dir: Path, parallel_dir: Path, output: Path, **changes) -> FinetuneConfig:
    values = dict(task="toy-en-ro", task_kind="translation", text_fields=("en",), label_field="ro",
                  model=str(marian_dir), data_dir=str(parallel_dir), output_dir=str(output), epochs=2, batch_size=16,
                  learning_rate=3e-3, max_length=32, num_beams=1, patience=None, device="cpu", logging_steps=5,
                  addrop=ADDropConfig(p=0.3, q=0.3, layers=(0, 1)))
    return FinetuneConfig(**{**values, **changes})


def test_the_wmt16_tasks_and_the_translation_layout():
    task = get_task("wmt16-en-ro")
    assert (task.kind, task.text_fields, task.label_field, task.metric, task.hf_dataset) == (
        "translation", ("en",), "ro", "bleu", ("wmt16", "ro-en"))
    assert get_task("wmt16-tr-en").text_fields == ("tr",)
    with pytest.raises(ValueError, match="no label names"):
        custom_task("translation", ("en",), "ro", ("a", "b"))


def test_rows_load_nested_or_flat_and_bad_targets_are_refused(tmp_path):
    task = custom_task("translation", ("en",), "ro", metric="chrf", name="mine")
    rows = ['{"translation": {"en": "a cat", "ro": "o pisica"}}', '{"en": "a dog", "ro": "un caine"}']
    (tmp_path / "train.jsonl").write_text("\n".join(rows) + "\n")
    (tmp_path / "validation.jsonl").write_text(rows[0] + "\n")
    splits = load_splits(task, data_dir=tmp_path)
    assert splits["train"].to_list() == [{"en": "a cat", "ro": "o pisica"}, {"en": "a dog", "ro": "un caine"}]
    (tmp_path / "validation.jsonl").write_text('{"translation": {"en": "a cat", "ro": ""}}\n')
    with pytest.raises(DataError, match="validation.jsonl, line 1: the target 'ro' must be a non-empty string"):
        load_splits(task, data_dir=tmp_path)
    (tmp_path / "validation.jsonl").write_text('{"translation": {"en": "a cat", "fr": "un chat"}}\n')
    with pytest.raises(DataError, match="missing column 'ro'"):
        load_splits(task, data_dir=tmp_path)


def test_dev_metrics_decode_the_generated_ids(marian_dir):
    tokenizer = AutoTokenizer.from_pretrained(marian_dir)
    references = ["le caine vede le casa rosu", "un copil ajuta le rau verde azi"]
    ids = tokenizer(text_target=references, padding=True, return_tensors="np")["input_ids"]
    labels = np.where(ids == tokenizer.pad_token_id, -100, ids)
    assert decode_sequences(tokenizer, labels) == references
    metrics = trainer_metrics(get_task("wmt16-en-ro"), tokenizer)
    from transformers import EvalPrediction

    perfect = metrics(EvalPrediction(predictions=ids, label_ids=labels))
    assert perfect["bleu"] == pytest.approx(100.0) and perfect["chrf"] == pytest.approx(100.0)
    swapped = metrics(EvalPrediction(predictions=ids[::-1].copy(), label_ids=labels))
    assert swapped["bleu"] < 20 and 0 < swapped["chrf"] < 60
    with pytest.raises(ValueError, match="need the tokenizer"):
        trainer_metrics(get_task("wmt16-en-ro"))


@pytest.mark.parametrize("kind", ["encoder", "cross"])
def test_a_translation_run_cross_tunes_and_scores_bleu(marian_dir, parallel_dir, tmp_path, kind):
    addrop = ADDropConfig(p=0.3, q=0.3, layers=(0, 1), kind=kind)
    result = finetune(config(marian_dir, parallel_dir, tmp_path / kind, addrop=addrop), progress=False)
    assert result.metric == "bleu" and result.epochs_run == 2
    evaluations = [e for e in result.history if e["kind"] == "eval"]
    assert all({"bleu", "chrf", "gen_words"} <= set(e["values"]) for e in evaluations)
    assert all(np.isfinite(e["values"]["bleu"]) for e in evaluations)
    train = [e for e in result.history if e["kind"] == "step"]
    # cross-tuning: the first epoch plain, the second AD-DROP
    assert {e["values"]["addrop"] for e in train if e["epoch"] <= 1} == {0.0}
    assert {e["values"]["addrop"] for e in train if e["epoch"] > 1.05} == {1.0}
    saved = json.loads((tmp_path / kind / "metrics.json").read_text())
    assert saved["config"]["addrop"]["kind"] == kind
    best = AutoModelForSeq2SeqLM.from_pretrained(result.best_checkpoint)
    assert type(best).__name__ == "MarianMTModel"


def test_a_translation_run_learns_the_toy_language(marian_dir, parallel_dir, tmp_path):
    """The wiring carries learning: ten epochs at a constant rate cut the dev loss and raise chrF (BLEU, on the
    tiny model's character-sized pieces, lags far behind the loss)."""
    result = finetune(config(marian_dir, parallel_dir, tmp_path / "learn", epochs=10, lr_schedule="constant",
                             learning_rate=5e-3, addrop=None, save_checkpoint=False), progress=False)
    evaluations = [e["values"] for e in result.history if e["kind"] == "eval"]
    loss, chrf = [e["loss"] for e in evaluations], [e["chrf"] for e in evaluations]
    assert loss[-1] < 0.7 * loss[0] and max(chrf) > chrf[0] + 5, (loss, chrf)


def test_the_authors_translation_protocol_as_a_preset(marian_dir, parallel_dir, tmp_path, capsys):
    """The translation scripts' values (en-ro: g_dropout 0.2, keep_rate 0.8; every encoder layer; the loss
    against pass 1's argmax; five epochs without early stopping) reach a CLI run; options given still win."""
    from addrop.cli import main as cli
    from addrop.presets import authors_protocol

    preset = authors_protocol("wmt16-tr-en")
    assert (preset.addrop["p"], preset.addrop["q"]) == (0.6, 0.1) and "keep_rate=0.9" in preset.sources["p, q"]
    output = tmp_path / "preset"
    command = ["train", "--preset", "authors", "--task", "wmt16-en-ro", "--model", str(marian_dir), "--data-dir",
               str(parallel_dir), "--output-dir", str(output), "--epochs", "2", "--num-beams", "1", "--device", "cpu"]
    # the tiny model reads 64 positions, the scripts' 128 tokens are refused by name, not by an IndexError
    assert cli(command) == 2
    assert "max_length 128 is past the 64 positions" in capsys.readouterr().err
    assert cli([*command, "--max-length", "64"]) == 0
    config = json.loads((output / "metrics.json").read_text())["config"]
    assert {k: config[k] for k in ("learning_rate", "lr_schedule", "batch_size", "epochs", "patience", "max_length",
                                   "weight_decay", "cross_tuning")} == {
        "learning_rate": 2e-5, "lr_schedule": "linear", "batch_size": 16, "epochs": 2, "patience": None,
        "max_length": 64, "weight_decay": 0.01, "cross_tuning": True}
    assert {k: config["addrop"][k] for k in ("method", "p", "q", "layers", "kind", "target")} == {
        "method": "GA", "p": 0.2, "q": 0.2, "layers": [0, 1], "kind": "encoder", "target": "pseudo_loss"}


def test_each_evaluation_keeps_the_first_dev_examples_translations(marian_dir, parallel_dir, tmp_path):
    """predictions.jsonl holds, per epoch, the first dev examples' source, reference and the translation the
    dev metrics scored (found by source ids, though the Trainer evaluates in length-grouped order); a cap on
    new tokens reaches the generation."""
    from addrop.callbacks import KEPT_PREDICTIONS, PREDICTIONS_FILE, read_predictions

    from transformers import TrainerCallback

    output = tmp_path / "kept"
    seen_at_eval: list[list[float]] = []

    class AtEvaluation(TrainerCallback):  # what a job page finds when a dev evaluation's point arrives
        def on_log(self, args, state, control, logs=None, **kwargs):
            if "eval_bleu" in (logs or {}):
                seen_at_eval.append([r["epoch"] for r in read_predictions(output / PREDICTIONS_FILE)])

    finetune(config(marian_dir, parallel_dir, output, epochs=2, max_new_tokens=3), callbacks=[AtEvaluation()],
             progress=False)
    assert seen_at_eval == [[1.0], [1.0, 2.0]]
    records = read_predictions(output / PREDICTIONS_FILE)
    assert [record["epoch"] for record in records] == [1.0, 2.0]
    dev = [json.loads(line)["translation"] for line in (parallel_dir / "validation.jsonl").read_text().splitlines()]
    for record in records:
        assert [(e["source"], e["reference"]) for e in record["examples"]] == [
            (pair["en"], pair["ro"]) for pair in dev[:KEPT_PREDICTIONS]]
    # the best epoch's kept translations are what its model (loaded back at the end) generates for those sources
    tokenizer = AutoTokenizer.from_pretrained(marian_dir)
    best = AutoModelForSeq2SeqLM.from_pretrained(output / "best").eval()
    sources = tokenizer([pair["en"] for pair in dev[:KEPT_PREDICTIONS]], return_tensors="pt", padding=True)
    generated = best.generate(**sources, num_beams=1, max_new_tokens=3)
    metrics = json.loads((output / "metrics.json").read_text())
    kept = next(r for r in records if r["epoch"] == metrics["best_epoch"])
    assert [e["prediction"] for e in kept["examples"]] == decode_sequences(tokenizer, generated.numpy())
    assert all(len(ids) <= 3 + 1 for ids in generated.tolist())  # the start token and at most 3 new ones
    # a fresh run in the same directory starts the file again
    finetune(config(marian_dir, parallel_dir, output, epochs=1), progress=False)
    assert [record["epoch"] for record in read_predictions(output / PREDICTIONS_FILE)] == [1.0]


def test_a_wmt16_file_summarises_with_its_languages_as_columns(tmp_path):
    """An upload in the wmt16 layout is mapped by its languages, as training reads them; the column cap counts
    them too."""
    from addrop.data.summary import summarize_file

    path = tmp_path / "train.jsonl"
    path.write_text('{"translation": {"en": "a cat", "ro": "o pisica"}}\n{"translation": {"en": "a dog", "ro": "un caine"}}\n')
    summary = summarize_file(path)
    assert (summary.columns, summary.rows) == (["en", "ro"], 2)
    assert summary.preview[0] == {"en": "a cat", "ro": "o pisica"} and summary.distinct["ro"] == ["o pisica", "un caine"]
    path.write_text('{"translation": {"en": "a", "ro": "b", "fr": "c"}}\n')
    with pytest.raises(DataError, match="at most 2"):
        summarize_file(path, max_columns=2)
