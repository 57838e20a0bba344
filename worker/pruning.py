"""Pruning for a sweep's trial: after every dev evaluation the run reports its metric to the trial in the
sweep's Optuna study, and stops when the study's pruner finds it clearly behind the other trials."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from sqlalchemy import select
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from jobstore.database import Database
from jobstore.orm import Job, Sweep
from jobstore.studies import SweepStudy

if TYPE_CHECKING:
    import optuna

log = logging.getLogger("worker.runner")


class TrialPruning(TrainerCallback):
    """Reports ``eval_<metric>`` at each epoch (the step Optuna compares trials at) and stops the run when
    ``trial.should_prune()``; ``pruned_at`` is then the epoch it stopped after."""

    def __init__(self, trial: optuna.trial.Trial, metric: str) -> None:
        self.trial = trial
        self.metric = metric
        self.pruned_at: int | None = None

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, metrics=None,
                    **kwargs):
        value = (metrics or {}).get(f"eval_{self.metric}")
        if value is None or not math.isfinite(value):
            return control
        epoch = round(state.epoch or 0.0)
        try:
            self.trial.report(float(value), epoch)
            prune = self.trial.should_prune()
        except Exception as error:  # the study finished the trial (sweep cancelled) or the database hiccuped
            log.warning("could not report epoch %d to trial %d: %s", epoch, self.trial.number, error)
            return control
        if prune:
            self.pruned_at = epoch
            control.should_training_stop = True
            log.info("pruned after epoch %d: dev %s %.4f is behind the other trials at this epoch", epoch,
                     self.metric, value)
        return control


def trial_pruning(job: Job, db: Database, database_url: str) -> TrialPruning | None:
    """The pruning callback for a sweep trial's first-seed run when its sweep prunes; None otherwise. Only
    that run reports, so every trial is compared at the same seed."""
    if job.sweep_role != "trial" or job.seed_index != 0 or job.trial_number is None:
        return None
    with db.session() as session:
        sweep = session.execute(select(Sweep.study_name, Sweep.spec).where(Sweep.id == job.sweep_id)).one_or_none()
    if sweep is None:
        return None
    study_name, spec = sweep
    pruning = spec.get("pruning") or {}
    if pruning.get("kind", "none") == "none":
        return None
    study = SweepStudy(study_name, database_url, spec["space"], pruning)
    return TrialPruning(study.reporting_trial(job.trial_number), job.metric_name)
