"""A baseline twin and its AD-DROP run of one seed are a paired experiment (DESIGN.md, "Random draws").

Checked at the outermost interface, ``addrop.finetune``: the twins see the same batches in the same order in
every epoch, with length-grouped and with random batches; an AD-DROP run whose drops are (almost surely)
empty trains exactly as its baseline does, so pass 1 changes nothing but the drops; and a run cut after an
epoch and resumed from its checkpoint trains exactly as the uncut run.
"""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from transformers import BertForSequenceClassification, TrainerCallback

from addrop.dropout import ADDropConfig
from addrop.finetune import RESUME_FILES, FinetuneConfig, finetune, latest_checkpoint
from addrop.trainer import ADDropTrainer
from tests.tiny_models import save_tiny_model

WORDS = "the a movie film story actor plot scene great dull witty long short bright dark slow fast funny sad".split()
EPOCHS = 4


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny random 3-layer BERT with dropout on (the MiniLM tokenizer), saved as a model directory."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-dropout"), BertForSequenceClassification, "minilm", layers=3)


@pytest.fixture(scope="module")
def sentences(tmp_path_factory):
    """96 distinct SST-2-shaped training sentences of 3 to 30 words (so length grouping has work to do)."""
    rng = random.Random(5)
    folder = tmp_path_factory.mktemp("sst2-lengths")
    rows, seen = [], set()
    while len(rows) < 96:
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 30)))
        if text not in seen:
            seen.add(text)
            rows.append({"sentence": text, "label": rng.randint(0, 1)})
    (folder / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "validation.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows[:24]))
    return folder


def run(monkeypatch, tmp_path, model, data, addrop: ADDropConfig | None, group_by_length: bool):
    """Fine-tune for EPOCHS epochs; the hash of every training batch in order, and the run's result."""
    batches: list[str] = []
    step = ADDropTrainer.training_step

    def recording(self, model, inputs, num_items_in_batch=None):
        batches.append(hashlib.sha1(inputs["input_ids"].numpy().tobytes()).hexdigest())
        return step(self, model, inputs, num_items_in_batch)

    monkeypatch.setattr(ADDropTrainer, "training_step", recording)
    name = "baseline" if addrop is None else f"addrop-q{addrop.q:g}"
    config = FinetuneConfig(task="sst2", model=str(model), data_dir=str(data), output_dir=str(tmp_path / name),
                            epochs=EPOCHS, batch_size=8, learning_rate=1e-3, seed=7, patience=None, device="cpu",
                            addrop=addrop, cross_tuning=True, group_by_length=group_by_length,
                            save_checkpoint=False, logging_steps=1)
    result = finetune(config, progress=False)
    monkeypatch.undo()
    return batches, result


@pytest.mark.parametrize("group_by_length", [True, False], ids=["length-grouped", "random"])
def test_twins_see_the_same_batches_in_every_epoch(monkeypatch, tmp_path, tiny_model, sentences, group_by_length):
    baseline, _ = run(monkeypatch, tmp_path, tiny_model, sentences, None, group_by_length)
    addrop, result = run(monkeypatch, tmp_path, tiny_model, sentences,
                         ADDropConfig(p=0.3, q=0.3, layers=(0, 1, 2)), group_by_length)
    per_epoch = len(baseline) // EPOCHS
    assert len(baseline) == EPOCHS * per_epoch == 4 * 12
    assert [e["values"]["addrop"] for e in result.history if "addrop" in e["values"]][-1] == 1.0  # it did drop
    for epoch in range(EPOCHS):
        part = slice(epoch * per_epoch, (epoch + 1) * per_epoch)
        assert addrop[part] == baseline[part], f"epoch {epoch + 1}: the twins' batches differ"
    epochs = [baseline[i * per_epoch:(i + 1) * per_epoch] for i in range(EPOCHS)]
    assert len({tuple(e) for e in epochs}) == EPOCHS, "every epoch must have an order of its own"


def test_addrop_that_drops_nothing_trains_exactly_as_the_baseline(monkeypatch, tmp_path, tiny_model, sentences):
    """q = 1e-12: pass 1 runs at every step of the AD-DROP epochs (with dropout) but drops nothing, so the
    losses and dev metrics must be the baseline's: pass 1 draws nothing that pass 2 or the data order read."""
    _, baseline = run(monkeypatch, tmp_path, tiny_model, sentences, None, True)
    _, addrop = run(monkeypatch, tmp_path, tiny_model, sentences, ADDropConfig(p=0.9, q=1e-12, layers=(0, 1, 2)), True)

    def curve(result, kind):
        return [(e["step"], {k: v for k, v in e["values"].items() if k not in ("addrop",) and "runtime" not in k
                             and "per_second" not in k and k != "grad_norm"}) for e in result.history if e["kind"] == kind]

    assert any(e["values"].get("addrop") == 1.0 for e in addrop.history if e["kind"] == "step")
    for kind in ("step", "eval"):
        got, expected = curve(addrop, kind), curve(baseline, kind)
        assert [s for s, _ in got] == [s for s, _ in expected]
        for (step, values), (_, wanted) in zip(got, expected):
            assert values.keys() == wanted.keys()
            for key in values:
                assert values[key] == pytest.approx(wanted[key], rel=1e-5, abs=1e-6), f"{kind} {key} at step {step}"


class Cut(Exception):
    """The process ends here (a session's end, a killed worker)."""


class CutAfter(TrainerCallback):
    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_epoch_begin(self, args, state, control, **kwargs):
        if state.epoch and state.epoch >= self.epochs:
            raise Cut


def test_a_run_cut_after_an_epoch_resumes_as_if_it_had_not_been_cut(tmp_path, tiny_model, sentences):
    """AD-DROP with real drops and dropout: cut after epoch 2 (its checkpoint saved), then resumed from that
    checkpoint into another output directory, the run's evaluations, losses and best epoch are the uncut run's."""
    def config(name: str) -> FinetuneConfig:
        return FinetuneConfig(task="sst2", model=str(tiny_model), data_dir=str(sentences), output_dir=str(tmp_path / name),
                              epochs=EPOCHS, batch_size=8, learning_rate=1e-3, seed=7, patience=None, device="cpu",
                              addrop=ADDropConfig(p=0.3, q=0.3, layers=(0, 1, 2)), logging_steps=1)

    uncut = finetune(config("uncut"), progress=False)
    assert latest_checkpoint(tmp_path / "uncut") is None  # a finished run leaves no epoch checkpoint
    with pytest.raises(Cut):
        finetune(config("cut"), callbacks=[CutAfter(2)], progress=False)
    checkpoint = latest_checkpoint(tmp_path / "cut")
    assert checkpoint is not None and checkpoint.name == "checkpoint-24"  # 2 epochs of 12 steps
    resumed = finetune(config("resumed"), resume_from=checkpoint, progress=False)

    def points(result, kind):
        return [(e["step"], {k: round(v, 5) for k, v in e["values"].items() if "runtime" not in k
                             and "per_second" not in k}) for e in result.history if e["kind"] == kind]

    assert points(resumed, "eval") == points(uncut, "eval") and len(points(uncut, "eval")) == EPOCHS
    assert points(resumed, "step") == points(uncut, "step")
    assert (resumed.best_metric, resumed.best_epoch) == (uncut.best_metric, uncut.best_epoch)
    assert (tmp_path / "resumed" / "best" / "config.json").is_file()


def test_a_checkpoint_cut_while_it_was_written_is_not_resumed_from(tmp_path):
    """Complete: every resume file and a trainer state that reads. 24 was cut writing its state, 36 before it,
    48 is a model-only checkpoint (older code): none of them can go on exactly."""
    for step, state, files in ((12, '{"global_step": 12}', RESUME_FILES), (24, '{"global_st', RESUME_FILES),
                               (36, None, RESUME_FILES), (48, '{"global_step": 48}', ())):
        folder = tmp_path / "checkpoints" / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        for name in files:
            (folder / name).write_bytes(b"x")
        if state is not None:
            (folder / "trainer_state.json").write_text(state)
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "checkpoint-12"
    assert latest_checkpoint(tmp_path / "nothing-here") is None


def test_a_resumed_run_stops_early_where_the_uncut_run_does(tmp_path, tiny_model, sentences):
    """Early stopping's count goes on from the checkpoint: with a flat dev metric and patience 2 both runs stop
    after epoch 3 (the resumed one, cut after epoch 2 with a count of 1, ran to epoch 4 when the count restarted),
    and both say why."""
    def config(name: str) -> FinetuneConfig:
        return FinetuneConfig(task="sst2", model=str(tiny_model), data_dir=str(sentences), output_dir=str(tmp_path / name),
                              epochs=6, batch_size=8, learning_rate=1e-12, seed=7, patience=2, device="cpu",
                              addrop=ADDropConfig(p=0.3, q=0.3, layers=(0,)), save_checkpoint=False)

    uncut = finetune(config("uncut"), progress=False)
    with pytest.raises(Cut):
        finetune(config("cut"), callbacks=[CutAfter(2)], progress=False)
    resumed = finetune(config("resumed"), resume_from=latest_checkpoint(tmp_path / "cut"), progress=False)
    assert uncut.epochs_run == resumed.epochs_run == 3
    assert resumed.stop_reason == uncut.stop_reason and uncut.stop_reason.startswith("early stopping after epoch 3 of 6")
