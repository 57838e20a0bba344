"""Trainer callbacks that report progress to whoever runs the training (CLI, worker, notebook)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Literal

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

EventKind = Literal["step", "eval", "epoch", "dynamics"]
# A Trainer log of attribution dynamics (addrop.dynamics) carries its summaries under this prefix: logged, they
# reach every callback's on_log and a checkpoint's log history, so a resumed run's past keeps them too.
DYNAMICS_PREFIX = "dynamics_"


@dataclass
class MetricEvent:
    """One reported point: a training step's logs, a dev evaluation, the start of an epoch, or an epoch's
    attribution dynamics on the probe set."""

    kind: EventKind
    step: int
    epoch: float
    values: dict[str, float]
    max_steps: int

    def to_dict(self) -> dict:
        return asdict(self)


class MetricsReporter(TrainerCallback):
    """Calls ``report(event)`` for every training log (loss, learning rate, ``addrop`` phase), every
    evaluation (dev metrics, ``eval_`` prefix removed), every epoch start, and every epoch's attribution
    dynamics (``dynamics_`` prefix removed)."""

    def __init__(self, report: Callable[[MetricEvent], None]) -> None:
        self.report = report

    def on_epoch_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self.report(MetricEvent("epoch", state.global_step, float(state.epoch or 0.0), {}, state.max_steps))

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        event = log_event(logs or {}, state.global_step, float(state.epoch or 0.0), state.max_steps)
        if event is not None:
            self.report(event)


def log_event(logs: dict, step: int, epoch: float, max_steps: int) -> MetricEvent | None:
    """The event of one Trainer log: a dev evaluation (``eval_`` prefix removed), an epoch's attribution
    dynamics (``dynamics_`` prefix removed), a training step's logs, or None for none of them (e.g. the run's
    closing summary)."""
    numbers = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float)) and k not in ("epoch", "step")}
    dynamics = {k[len(DYNAMICS_PREFIX):]: v for k, v in numbers.items() if k.startswith(DYNAMICS_PREFIX)}
    if dynamics:
        return MetricEvent("dynamics", step, epoch, dynamics, max_steps)
    evaluation = {k[len("eval_"):]: v for k, v in numbers.items() if k.startswith("eval_")}
    if evaluation:
        return MetricEvent("eval", step, epoch, evaluation, max_steps)
    if "loss" in numbers:
        return MetricEvent("step", step, epoch, numbers, max_steps)
    return None


def logged_events(log_history: list[dict], max_steps: int) -> list[MetricEvent]:
    """The events of a checkpoint's ``trainer_state.json`` log history (a resumed run's past)."""
    events = [log_event(logs, int(logs.get("step", 0)), float(logs.get("epoch", 0.0)), max_steps) for logs in log_history]
    return [event for event in events if event is not None]


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
