"""Trainer callbacks that report progress to whoever runs the training (CLI, worker, notebook)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from addrop.kinds import IGNORED

EventKind = Literal["step", "eval", "epoch", "dynamics"]
# A Trainer log of attribution dynamics (addrop.dynamics) carries its summaries under this prefix: logged, they
# reach every callback's on_log and a checkpoint's log history, so a resumed run's past keeps them too.
DYNAMICS_PREFIX = "dynamics_"
PREDICTIONS_FILE = "predictions.jsonl"  # in a translation run's output directory: a line per dev evaluation
KEPT_PREDICTIONS = 5  # the first dev examples whose generated translations each evaluation keeps


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


@dataclass
class KeptExample:
    """A dev example whose generated translation every evaluation keeps: its texts and its source's token ids."""

    source: str
    reference: str
    input_ids: Sequence[int]


class DevPredictions(TrainerCallback):
    """Keeps the generated translations of a few dev examples at every evaluation: one JSON line per evaluation
    in ``path``, ``{"epoch", "step", "examples": [{"source", "reference", "prediction"}]}`` (a run resumed from a
    checkpoint may write an epoch again: the last line of an epoch is its record).

    The metrics hand it every generated text with the source token ids they were generated from
    (:meth:`observe`): the Trainer may evaluate in another order than the dev set's (grouped by length), so an
    example's prediction is found by its source ids rather than its position. The line is written then, before
    the evaluation's metrics are logged, so whoever sees a dev evaluation's point finds its predictions."""

    def __init__(self, examples: Sequence[KeptExample], path: str | Path, pad_token_id: int | None) -> None:
        self.examples = list(examples)
        self.path = Path(path)
        self.pad_token_id = pad_token_id
        self._state: TrainerState | None = None

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._state = state  # the Trainer's own, as it moves on (a resumed run's too)

    def observe(self, inputs: np.ndarray, predictions: Sequence[str]) -> None:
        """Called by the metrics with the evaluation's source ids (padded) and the generated texts, row by row."""
        found: dict[tuple[int, ...], str] = {}
        for row, prediction in zip(np.asarray(inputs), predictions):
            found.setdefault(self._ids(row), prediction)
        state = self._state or TrainerState()  # an evaluation outside training: epoch 0, step 0
        record = {"epoch": float(state.epoch or 0.0), "step": state.global_step,
                  "examples": [{"source": example.source, "reference": example.reference,
                                "prediction": found.get(tuple(example.input_ids))} for example in self.examples]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")

    def _ids(self, row: np.ndarray) -> tuple[int, ...]:
        """A padded row of source ids without its padding (the pad token, or -100 where batches were joined)."""
        keep = (row != IGNORED) if self.pad_token_id is None else (row != IGNORED) & (row != self.pad_token_id)
        return tuple(int(i) for i in row[keep])


def read_predictions(path: str | Path) -> list[dict]:
    """The records a :class:`DevPredictions` wrote, one per epoch (its last line for an epoch written twice),
    by epoch; none when the file is not there. A line cut short by a killed process is skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records: dict[float, dict] = {}
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        records[record["epoch"]] = record
    return [records[epoch] for epoch in sorted(records)]
