"""AD-DROP inside transformers' Trainer: swap ``Trainer`` for :class:`ADDropTrainer` in a fine-tuning script."""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from addrop.dropout import ADDrop, ADDropConfig


def is_addrop_epoch(epoch: int, cross_tuning: bool = True) -> bool:
    """Cross-tuning alternates plain and AD-DROP epochs, plain first; without it every epoch drops."""
    return not cross_tuning or epoch % 2 == 1


def cross_tuning_epoch(global_step: int, steps_per_epoch: int) -> int:
    """The index of the epoch the next optimizer step belongs to: the Trainer's own count, also when a
    checkpoint saved mid-epoch is resumed."""
    return global_step // steps_per_epoch


class CrossTuningSchedule(TrainerCallback):
    """Tracks the epoch index so the trainer knows whether the current epoch is an AD-DROP epoch.

    ``steps_per_epoch`` (optimizer steps) is set by :class:`ADDropTrainer` before training begins."""

    def __init__(self, cross_tuning: bool = True) -> None:
        self.cross_tuning = cross_tuning
        self.steps_per_epoch: int | None = None
        self.epoch = 0

    def on_epoch_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if self.steps_per_epoch is None:
            raise RuntimeError("CrossTuningSchedule.steps_per_epoch is not set; train with ADDropTrainer")
        # not from state.epoch: resumed mid-epoch it is fractional, and round(1.5) made AD-DROP epoch 1 plain
        self.epoch = cross_tuning_epoch(state.global_step, self.steps_per_epoch)

    @property
    def active(self) -> bool:
        return is_addrop_epoch(self.epoch, self.cross_tuning)


class ADDropTrainer(Trainer):
    """``transformers.Trainer`` that trains with AD-DROP.

    ``addrop=None`` gives the plain fine-tuning baseline through the same code.  In AD-DROP epochs each
    training step first runs pass 1 (attribution, in train mode) and draws the masks, then lets
    ``Trainer`` compute the loss of pass 2 under those masks; evaluation is never masked.  Training logs
    carry ``addrop`` = 1.0 in AD-DROP epochs and 0.0 in plain ones.
    """

    def __init__(
        self,
        *args: Any,
        addrop: ADDropConfig | None = None,
        cross_tuning: bool = True,
        generator: torch.Generator | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.addrop_config = addrop
        self.schedule = CrossTuningSchedule(cross_tuning)
        self.add_callback(self.schedule)
        self._addrop = ADDrop(self.model, addrop, generator) if addrop is not None else None
        self._until_backward: contextlib.ExitStack | None = None  # open while training_step runs

    @property
    def addrop_active(self) -> bool:
        """Whether the current training epoch drops attention positions."""
        return self._addrop is not None and self.schedule.active

    def set_initial_training_values(self, args: TrainingArguments, dataloader):
        values = super().set_initial_training_values(args, dataloader)
        self.schedule.steps_per_epoch = values[1]  # num_update_steps_per_epoch, as the epoch loop counts
        return values

    def training_step(self, model, inputs, num_items_in_batch=None):
        # pass 2's masks stay on through the backward: with gradient checkpointing it recomputes the forward
        with contextlib.ExitStack() as self._until_backward:
            try:
                return super().training_step(model, inputs, num_items_in_batch)
            finally:
                self._until_backward = None

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not (model.training and self.addrop_active):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        plan = self._addrop.plan(inputs)
        if self._until_backward is not None:
            self._until_backward.enter_context(self._addrop.applied(plan.masks))
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        with self._addrop.applied(plan.masks):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        if "loss" in logs:
            logs["addrop"] = float(self.addrop_active)
        super().log(logs, *args, **kwargs)
