"""ADDropTrainer: cross-tuning schedule, masks applied only in AD-DROP training steps, metric reports."""

import pytest
import torch
from tests.tiny_models import tiny_config
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, TrainingArguments

from addrop import ADDropConfig, ADDropTrainer, is_addrop_epoch
from addrop.callbacks import MetricsReporter, StopWhen


def test_schedule_alternates_plain_first():
    assert [is_addrop_epoch(e) for e in range(5)] == [False, True, False, True, False]
    assert all(is_addrop_epoch(e, cross_tuning=False) for e in range(5))


def pad(features):
    n = max(len(f["input_ids"]) for f in features)
    ids = torch.tensor([f["input_ids"] + [0] * (n - len(f["input_ids"])) for f in features])
    mask = torch.tensor([[1] * len(f["input_ids"]) + [0] * (n - len(f["input_ids"])) for f in features])
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([f["labels"] for f in features])}


def synthetic(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        length = int(torch.randint(4, 10, (1,), generator=g))
        ids = torch.randint(5, 120, (length,), generator=g).tolist()
        rows.append({"input_ids": ids, "labels": int(ids[1] > 60)})
    return Dataset.from_list(rows)


def run(tmp_path, cross_tuning=True, addrop=ADDropConfig(), epochs=3, callbacks=()):
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", dropout=0.1, num_labels=2))
    events = []
    args = TrainingArguments(
        output_dir=str(tmp_path), num_train_epochs=epochs, per_device_train_batch_size=8, logging_steps=1,
        report_to="none", save_strategy="no", eval_strategy="epoch", use_cpu=True, disable_tqdm=True,
    )
    trainer = ADDropTrainer(
        model=model, args=args, train_dataset=synthetic(), eval_dataset=synthetic(16, seed=1),
        data_collator=pad, addrop=addrop, cross_tuning=cross_tuning,
        callbacks=[MetricsReporter(events.append), *callbacks],
    )
    plans = []
    if trainer._addrop is not None:
        original = trainer._addrop.plan

        def counting(inputs, **kwargs):
            plans.append(round(trainer.state.epoch or 0.0, 6))
            return original(inputs, **kwargs)

        trainer._addrop.plan = counting
    trainer.train()
    return trainer, events, plans


def test_cross_tuning_drops_in_odd_epochs_only(tmp_path):
    trainer, events, plans = run(tmp_path)
    steps = [e for e in events if e.kind == "step"]
    by_epoch = {}
    for event in steps:
        by_epoch.setdefault(int(event.epoch - 1e-9), set()).add(event.values["addrop"])
    assert by_epoch == {0: {0.0}, 1: {1.0}, 2: {0.0}}
    # 4 steps per epoch; pass 1 ran exactly in the 4 steps of epoch 1 (evaluation is never masked)
    assert len(plans) == 4 and all(1.0 <= e < 2.0 for e in plans)
    evaluations = [e for e in events if e.kind == "eval"]
    assert len(evaluations) == 3 and "loss" in evaluations[0].values
    assert [e.kind for e in events].count("epoch") == 3


def test_without_cross_tuning_every_epoch_drops(tmp_path):
    _, events, plans = run(tmp_path, cross_tuning=False, epochs=2)
    assert {e.values["addrop"] for e in events if e.kind == "step"} == {1.0}
    assert len(plans) == 8


def test_baseline_never_drops(tmp_path):
    trainer, events, plans = run(tmp_path, addrop=None, epochs=2)
    assert trainer._addrop is None and plans == []
    assert {e.values["addrop"] for e in events if e.kind == "step"} == {0.0}


def test_stop_when_flag_stops_within_a_step(tmp_path):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) >= 3

    stopper = StopWhen(should_stop)
    trainer, events, _ = run(tmp_path, epochs=3, callbacks=[stopper])
    assert stopper.stopped
    assert trainer.state.global_step == 3


@pytest.mark.parametrize("method", ["GA", "IGA", "AA", "RD"])
def test_every_method_trains(tmp_path, method):
    trainer, events, plans = run(tmp_path, cross_tuning=False, addrop=ADDropConfig(method, steps=3), epochs=1)
    losses = [e.values["loss"] for e in events if e.kind == "step"]
    assert len(plans) == 4 and all(torch.isfinite(torch.tensor(losses)))
