"""ADDropTrainer at its edges: gradient checkpointing (both passes), resuming mid-epoch."""

import copy

import pytest
import torch
from tests.tiny_models import tiny_batch, tiny_config
from tests.test_trainer import pad, synthetic
from transformers import AutoModelForSequenceClassification, TrainingArguments

from addrop import ADDrop, ADDropConfig, ADDropTrainer, cross_tuning_epoch


def checkpointed(model):
    """``model`` with activation checkpointing on, as the Trainer turns it on (non-reentrant)."""
    model.activation_checkpointing_enable()
    return model


def tiny_model(dropout: float):
    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_config(
        tiny_config("bert", dropout=dropout, num_labels=2), attn_implementation="sdpa"
    ).double().train()


@pytest.mark.parametrize("method", ["GA", "IGA"])
def test_pass_one_under_checkpointing_is_the_same_attribution(method):
    """The backward of pass 1 recomputes its forward: it must recompute the same captured pass."""
    plain = tiny_model(dropout=0.1)
    model = checkpointed(copy.deepcopy(plain))
    inputs = {**tiny_batch(batch=4), "labels": torch.tensor([0, 1, 1, 0])}
    config = ADDropConfig(method=method, layers=(0, 2), steps=3)
    torch.manual_seed(7)
    expected = ADDrop(plain, config).plan(inputs).result.attribution.clone()
    torch.manual_seed(7)
    got = ADDrop(model, config).plan(inputs).result.attribution
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def trainer_for(model, tmp_path, seed: int = 3):
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8, report_to="none",
                             use_cpu=True, disable_tqdm=True, save_strategy="no")
    return ADDropTrainer(model=model, args=args, train_dataset=synthetic(8), data_collator=pad,
                         addrop=ADDropConfig(p=0.5, q=0.5, layers=(0, 1)), cross_tuning=False,
                         generator=torch.Generator().manual_seed(seed))


def test_checkpointed_training_step_keeps_the_masks_through_backward(tmp_path):
    """The same masks give the same gradients with and without checkpointing (whose backward reruns
    pass 2's forward, which must drop the same positions)."""
    plain = tiny_model(dropout=0.1)
    model = checkpointed(copy.deepcopy(plain))
    batch = pad(list(synthetic(8)))
    grads = []
    for net, directory in ((plain, tmp_path / "plain"), (model, tmp_path / "checkpointed")):
        trainer = trainer_for(net, directory)
        trainer.current_gradient_accumulation_steps = 1  # set by the training loop, which is not run here
        net.zero_grad()
        torch.manual_seed(11)
        trainer.training_step(net, dict(batch))
        grads.append({name: p.grad.clone() for name, p in net.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-9, atol=1e-12, msg=name)
    # and the masks matter: without them pass 2's gradients are others
    plain.zero_grad()
    torch.manual_seed(11)
    plain(**batch).loss.backward()
    assert not torch.allclose(plain.classifier.weight.grad, grads[0]["classifier.weight"])


def test_reentrant_checkpointing_is_refused_for_ga_and_works_for_the_others():
    model = tiny_model(dropout=0.1)
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": True})
    inputs = {**tiny_batch(batch=4), "labels": torch.tensor([0, 1, 1, 0])}
    with pytest.raises(ValueError, match="reentrant gradient checkpointing"):
        ADDrop(model, ADDropConfig(method="GA")).plan(inputs)
    for method in ("IGA", "AA", "RD"):  # IGA's backward passes run in eval mode, where nothing is checkpointed
        addrop = ADDrop(model, ADDropConfig(method=method, steps=2))
        plan = addrop.plan(inputs)
        with addrop.applied(plan.masks):
            model(**inputs).loss.backward()


def resumable_trainer(directory, save_steps: int = 0, epochs: int = 2):
    """4 optimizer steps per epoch (32 examples, batch 8); ``plans`` lists the global step of each pass 1."""
    model = tiny_model(dropout=0.0).float()
    args = TrainingArguments(
        output_dir=str(directory), num_train_epochs=epochs, per_device_train_batch_size=8, report_to="none",
        use_cpu=True, disable_tqdm=True, save_strategy="steps" if save_steps else "no", save_steps=save_steps or 500,
    )
    trainer = ADDropTrainer(model=model, args=args, train_dataset=synthetic(), data_collator=pad,
                            addrop=ADDropConfig())
    plans = []
    original = trainer._addrop.plan

    def recording(inputs, **kwargs):
        plans.append(trainer.state.global_step + 1)  # the step being taken, counted from 1
        return original(inputs, **kwargs)

    trainer._addrop.plan = recording
    return trainer, plans


@pytest.mark.parametrize("checkpoint, dropped_steps", [(3, [5, 6, 7, 8]), (6, [7, 8])])
def test_resuming_mid_epoch_keeps_the_cross_tuning_phase(tmp_path, checkpoint, dropped_steps):
    """Epoch 1 (steps 5-8) is the AD-DROP one, resumed at 0.75 epochs (step 3) or 1.5 (step 6) alike."""
    first, plans = resumable_trainer(tmp_path, save_steps=3)
    first.train()
    assert plans == [5, 6, 7, 8]
    resumed, plans = resumable_trainer(tmp_path)
    resumed.train(resume_from_checkpoint=str(tmp_path / f"checkpoint-{checkpoint}"))
    assert plans == dropped_steps


def test_the_epoch_of_a_step_is_counted_from_the_global_step():
    assert [cross_tuning_epoch(step, 4) for step in (0, 3, 4, 6, 7, 8)] == [0, 0, 1, 1, 1, 2]
