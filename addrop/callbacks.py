"""Trainer callbacks that report progress to whoever runs the training (CLI, worker, notebook)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Literal

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

EventKind = Literal["step", "eval", "epoch"]


@dataclass
class MetricEvent:
    """One reported point: a training step's logs, a dev evaluation, or the start of an epoch."""

    kind: EventKind
    step: int
    epoch: float
    values: dict[str, float]
    max_steps: int

    def to_dict(self) -> dict:
        return asdict(self)


class MetricsReporter(TrainerCallback):
    """Calls ``report(event)`` for every training log (loss, learning rate, ``addrop`` phase), every
    evaluation (dev metrics, ``eval_`` prefix removed) and every epoch start."""

    def __init__(self, report: Callable[[MetricEvent], None]) -> None:
        self.report = report

    def on_epoch_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self.report(MetricEvent("epoch", state.global_step, float(state.epoch or 0.0), {}, state.max_steps))

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        logs = logs or {}
        numbers = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float)) and k != "epoch"}
        evaluation = {k[len("eval_"):]: v for k, v in numbers.items() if k.startswith("eval_")}
        epoch = float(state.epoch or 0.0)
        if evaluation:
            self.report(MetricEvent("eval", state.global_step, epoch, evaluation, state.max_steps))
        elif "loss" in numbers:
            self.report(MetricEvent("step", state.global_step, epoch, numbers, state.max_steps))


class StopWhen(TrainerCallback):
    """Stops training cooperatively, after the current step, once ``should_stop()`` returns True."""

    def __init__(self, should_stop: Callable[[], bool]) -> None:
        self.should_stop = should_stop
        self.stopped = False

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if self.should_stop():
            self.stopped = True
            control.should_training_stop = True
            control.should_save = False
            control.should_evaluate = False
        return control
