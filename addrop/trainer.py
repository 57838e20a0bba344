"""AD-DROP inside transformers' Trainer: swap ``Trainer`` for :class:`ADDropTrainer` in a fine-tuning script."""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch.utils.data import RandomSampler, Sampler
from transformers import Seq2SeqTrainer, Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_pt_utils import LengthGroupedSampler

from addrop.dropout import ADDrop, ADDropConfig
from addrop.streams import DATA_ORDER_STREAM, MASK_STREAM, PASS1_STREAM, isolated_rng, stream_generator, stream_seed


def is_addrop_epoch(epoch: int, cross_tuning: bool = True) -> bool:
    """Cross-tuning alternates plain and AD-DROP epochs, plain first; without it every epoch drops."""
    return not cross_tuning or epoch % 2 == 1


def addrop_epochs(epochs: int, cross_tuning: bool = True) -> list[int]:
    """The epochs (numbered from 1, as pages and logs show them) of an ``epochs``-epoch run that drop."""
    return [index + 1 for index in range(epochs) if is_addrop_epoch(index, cross_tuning)]


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


class EpochOrder(Sampler[int]):
    """Draws each epoch's order of the training examples from that epoch's own stream (``DATA_ORDER_STREAM``).

    Wraps the Trainer's shuffling sampler (random or length-grouped), which would otherwise draw from torch's
    global generator, and so from the state that pass 1's dropout has left: a baseline and its AD-DROP twin then
    saw different batches from the epoch after the first AD-DROP epoch on. Keyed by the epoch, the order is also
    the same when a run resumes from a checkpoint."""

    def __init__(self, sampler: LengthGroupedSampler | RandomSampler, seed: int) -> None:
        self.sampler = sampler
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:  # the Trainer calls it (through accelerate) before every epoch
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        self.sampler.generator = stream_generator(self.seed, DATA_ORDER_STREAM, self.epoch)
        return iter(self.sampler)


class ADDropTrainer(Trainer):
    """``transformers.Trainer`` that trains with AD-DROP.

    ``addrop=None`` gives the plain fine-tuning baseline through the same code.  In AD-DROP epochs each
    training step first runs pass 1 (attribution, in train mode) and draws the masks, then lets
    ``Trainer`` compute the loss of pass 2 under those masks; evaluation is never masked.  Training logs
    carry ``addrop`` = 1.0 in AD-DROP epochs and 0.0 in plain ones.

    Random streams (``addrop.streams``) keep a run and its baseline twin (``addrop=None``, same seed) paired:
    the data order of every epoch, pass 1's dropout and the mask draws each have their own, so the twins see
    the same batches in the same order and pass 2 draws the same dropout as the twin's one pass; the only
    difference is pass 1's drops. The streams of pass 1 and of the masks are keyed by the step, so a run resumed
    from a checkpoint draws what it would have drawn uncut. ``generator`` replaces the mask stream (it is then
    read on from step to step, and a resumed run draws other masks than the uncut one would have).
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
        self._mask_stream = addrop is not None and generator is None  # reseeded at every step
        if self._mask_stream:
            generator = stream_generator(self.args.seed, MASK_STREAM, 0, self.args.device)
        self._addrop = ADDrop(self.model, addrop, generator) if addrop is not None else None
        self._until_backward: contextlib.ExitStack | None = None  # open while training_step runs
        self._pass1_step = (-1, 0)  # (global step, pass-1 calls in it): names pass 1's dropout stream

    @property
    def _data_seed(self) -> int:
        """The seed of the data order (transformers' ``data_seed`` where set); pass 1 and the masks use ``seed``."""
        return self.args.data_seed if self.args.data_seed is not None else self.args.seed

    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, (LengthGroupedSampler, RandomSampler)):
            return EpochOrder(sampler, self._data_seed)
        return sampler

    @contextlib.contextmanager
    def _pass1_stream(self) -> contextlib.AbstractContextManager[None]:
        """Pass 1 draws its dropout from a stream of its own step and leaves torch's global generator (which
        pass 2's dropout reads) as it found it; the masks of the step draw from the mask stream of the step."""
        step, calls = self._pass1_step
        calls = calls + 1 if step == self.state.global_step else 0
        self._pass1_step = (self.state.global_step, calls)
        index = self.state.global_step * self.args.gradient_accumulation_steps + calls
        if self._mask_stream:
            self._addrop.generator.manual_seed(stream_seed(self.args.seed, MASK_STREAM, index))
        with isolated_rng(self.args.device):
            torch.manual_seed(stream_seed(self.args.seed, PASS1_STREAM, index))
            yield

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
        with self._pass1_stream():
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


class ADDropSeq2SeqTrainer(ADDropTrainer, Seq2SeqTrainer):
    """:class:`ADDropTrainer` on ``transformers.Seq2SeqTrainer``, for translation: training steps as above (the
    attribution target is the negative loss over the target tokens), evaluation generates with the arguments'
    ``predict_with_generate``, ``generation_num_beams`` and ``generation_max_length``, or at most
    ``max_new_tokens`` new tokens where that is given."""

    def __init__(self, *args: Any, max_new_tokens: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_new_tokens = max_new_tokens

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval", **gen_kwargs):
        # the training loop's evaluations pass no generation settings: the run's own reach them here
        if self.max_new_tokens is not None and gen_kwargs.get("max_length") is None:
            gen_kwargs.setdefault("max_new_tokens", self.max_new_tokens)
        return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix, **gen_kwargs)
