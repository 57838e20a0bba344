"""Runs one job: claims it, trains with ``addrop.finetune`` while a heartbeat thread keeps the lease and
watches for a cancel request, and records every metric point and the outcome.

Imported by the worker's parent before it forks its pool (worker/tasks.py): nothing here may start a thread or
touch CUDA at import.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time
import traceback
from pathlib import Path

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.utils import logging as hf_logging

from addrop.callbacks import PREDICTIONS_FILE, MetricEvent, MetricsReporter
from addrop.environment import training_environment
from addrop.finetune import CHECKPOINTS, DYNAMICS, FinetuneConfig, finetune, latest_checkpoint
from addrop.trainer import is_addrop_epoch
from jobstore.configs import readable_config
from jobstore.database import Database
from jobstore.orm import CANCELLED, FAILED, PRUNED, SUCCEEDED
from jobstore.outputs import remove_checkpoint, remove_if_empty
from jobstore.settings import StoreSettings
from jobstore.transitions import JobRecorder
from worker.job_log import DatabaseLogHandler
from worker.pruning import trial_pruning

STALL_GRACE_SECONDS = 30.0
log = logging.getLogger("worker.runner")  # copied into the job's log
server_log = logging.getLogger("worker.errors")  # the worker process's log only


class JobMetricsReporter(MetricsReporter):
    """Stores every reported point in the database and logs each epoch and dev evaluation."""

    def __init__(self, recorder: JobRecorder, metric_name: str, config: FinetuneConfig) -> None:
        super().__init__(self._record)
        self.recorder = recorder
        self.metric_name = metric_name
        self.config = config

    def _record(self, event: MetricEvent) -> None:
        self.recorder.point(event, self.metric_name)
        if event.kind == "eval":
            values = ", ".join(f"{key} {value:.4f}" for key, value in event.values.items()
                               if key in (self.metric_name, "loss", "accuracy", "f1", "chrf"))
            log.info("epoch %g (step %d): dev %s", event.epoch, event.step, values)
        elif event.kind == "dynamics":
            stability = event.values.get("stability")
            log.info("epoch %g: attribution dynamics on the probe set: reliance %.3f (random keys %.3f)%s", event.epoch,
                     event.values["reliance"], event.values["reliance_random"],
                     "" if stability is None else f", stability {stability:.3f}")
        elif event.kind == "epoch":
            index = int(event.epoch + 1e-6)  # a run resumed mid-epoch begins at a fractional epoch
            phase = "AD-DROP" if self.config.addrop and is_addrop_epoch(index, self.config.cross_tuning) else "plain"
            log.info("epoch %d of %d begins (%s)", index + 1, self.config.epochs, phase)


class ProgressCallback(TrainerCallback):
    """Moves the job's progress between logged points, at most once per ``interval`` seconds, and tells the
    watchdog about every training step and evaluation batch."""

    def __init__(self, recorder: JobRecorder, interval: float, heartbeat: Heartbeat) -> None:
        self.recorder = recorder
        self.interval = interval
        self.heartbeat = heartbeat
        self._last = 0.0

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self.heartbeat.touch()
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.recorder.progress(state.global_step, state.max_steps, float(state.epoch or 0.0))

    def on_prediction_step(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self.heartbeat.touch()


class Heartbeat(threading.Thread):
    """Renews the job's lease every ``interval`` seconds and turns a cancel request (or a lost lease)
    into ``stop``, which the training loop checks after every step.

    It is also the run's watchdog: a live process renews its lease even when its training loop hangs, so
    progress is watched apart: no training step or evaluation batch for ``stall_seconds`` fails the job, and
    a loop that does not stop within ``STALL_GRACE_SECONDS`` after that is ended with the process (the pool
    then starts a fresh one for the next job). Time the process was paused does not count towards a stall."""

    def __init__(self, recorder: JobRecorder, interval: float, stall_seconds: float) -> None:
        super().__init__(name=f"heartbeat-{recorder.job_id}", daemon=True)
        self.recorder = recorder
        self.interval = interval
        self.stall_seconds = stall_seconds
        self.stop = threading.Event()
        self.lost = False
        self._done = threading.Event()
        self._progress = time.monotonic()

    def touch(self) -> None:
        """The run made progress (a step or an evaluation batch)."""
        self._progress = time.monotonic()

    def run(self) -> None:
        seen, paused = self._progress, 0.0  # time since the last progress that this process was not running
        while True:
            asleep = time.monotonic()
            if self._done.wait(self.interval):
                return
            now = time.monotonic()
            late = now - asleep - self.interval  # the wait only: a slow heartbeat query is no pause
            if self._progress != seen:
                seen, paused = self._progress, 0.0
            if late > self.interval:
                # This thread was held up, so the process (a suspended laptop, a snapshotted VM) was paused and
                # its training loop with it: that time is not a stall. Only the part after the last progress
                # counts, for the loop may have stepped once on resume before this thread woke.
                paused += min(late, now - seen)
            if now - seen - paused > self.stall_seconds:
                self._stalled()
                return
            try:
                ours, cancel = self.recorder.heartbeat()
            except Exception as error:  # the database may be briefly unreachable; the lease allows for it
                log.warning("heartbeat failed: %s", error)
                continue
            if not ours:
                self.lost = True
            if cancel or not ours:
                self.stop.set()

    def _stalled(self) -> None:
        reason = (f"no training progress for {self.stall_seconds:g} s (no step or evaluation batch): the run was "
                  "stopped (ADDROP_JOB_STALL_SECONDS)")
        log.error(reason)
        self.recorder.finish(FAILED, error=reason)
        self.lost = True
        self.stop.set()
        if not self._done.wait(STALL_GRACE_SECONDS):
            server_log.error("job %s: its training loop did not stop %g s after it stalled; ending the process",
                             self.recorder.job_id, STALL_GRACE_SECONDS)
            os._exit(70)

    def finish(self) -> None:
        self._done.set()
        if threading.current_thread() is not self:
            self.join()


def resumable(recorder: JobRecorder, settings: StoreSettings, metric_name: str, output_dir: Path) -> Path | None:
    """For a sweep's run tried again: the checkpoint of the earlier attempt's last completed epoch, when this
    machine still holds one, or None.

    The attempt's checkpoints are moved into this job's directory first (one rename: nothing the dead attempt,
    should it still be stopping, or a clean-up does to its own directory can take them away mid-run), the
    restored best checkpoint's path is pointed there, and its points up to the checkpoint are copied here, its
    attribution dynamics (the maps the next epoch's stability compares with) and a translation's kept dev
    predictions moved here."""
    earlier = recorder.earlier_attempt()
    if earlier is None or latest_checkpoint(settings.job_dir(earlier)) is None:
        return None
    source = settings.job_dir(earlier)
    mine = output_dir / CHECKPOINTS
    output_dir.mkdir(parents=True, exist_ok=True)
    if not _take_over(source, output_dir, CHECKPOINTS, f"job {earlier}'s checkpoints", "; starting afresh"):
        return None
    checkpoint = latest_checkpoint(output_dir)
    if checkpoint is None:  # the attempt rotated its checkpoints at that moment
        return None
    # should these fail, the run goes on: its first epoch then has no stability to report, and the page shows
    # the dev predictions of its later epochs only
    if (source / DYNAMICS).is_dir():
        _take_over(source, output_dir, DYNAMICS, f"job {earlier}'s attribution dynamics")
    if (source / PREDICTIONS_FILE).is_file():
        _take_over(source, output_dir, PREDICTIONS_FILE, f"job {earlier}'s dev predictions")
    remove_if_empty(source)  # the failed attempt left nothing else
    for state_file in mine.glob("checkpoint-*/trainer_state.json"):
        state = json.loads(state_file.read_text())
        best = state.get("best_model_checkpoint")
        if best:
            state["best_model_checkpoint"] = str(mine / Path(best).name)
            state_file.write_text(json.dumps(state, indent=2))
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    copied = recorder.carry_over(earlier, int(state["global_step"]), metric_name)
    log.info("resuming job %s's run from its checkpoint after epoch %g (step %d; %d points carried over)",
             earlier, state.get("epoch") or 0, state["global_step"], copied)
    return checkpoint


def _take_over(source: Path, target: Path, name: str, what: str, consequence: str = "") -> bool:
    """Move ``source / name`` (a directory or a file of the earlier attempt) to ``target / name`` in one rename,
    replacing a directory a start of this job that got no further left there; False, with a warning naming
    ``what``, when it cannot."""
    shutil.rmtree(target / name, ignore_errors=True)
    try:
        os.replace(source / name, target / name)
    except OSError as error:
        log.warning("%s could not be taken over (%s)%s", what, error, consequence)
        return False
    return True


def worker_name() -> str:
    """Host and process id: unique per running job, readable in the job list."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(job_id: int, settings: StoreSettings, db: Database) -> str:
    """Run job ``job_id`` if it is still queued; returns the state it ended in ("skipped" if not queued)."""
    recorder = JobRecorder(db, job_id, worker_name())
    job = recorder.claim()
    if job is None:
        log.info("job %s is not queued any more; nothing to do", job_id)
        return "skipped"
    handler = DatabaseLogHandler(recorder)
    handler.setFormatter(logging.Formatter("%(message)s"))
    watched = [log, hf_logging.get_logger("transformers")]
    for logger in watched:
        logger.addHandler(handler)
    log.setLevel(logging.INFO)
    heartbeat = Heartbeat(recorder, settings.job_heartbeat_seconds, settings.job_stall_seconds)
    heartbeat.start()
    output_dir = settings.job_dir(job_id)
    try:
        config = FinetuneConfig(**{**readable_config(job.config, job.config_version), "output_dir": str(output_dir)})
        log.info("started on %s; device %s, precision %s; CUDA_VISIBLE_DEVICES=%s", recorder.worker,
                 config.device or "auto", config.precision, os.environ.get("CUDA_VISIBLE_DEVICES", "(all)"))
        # what trains it, from this process: the code the run files and the job's page credit with its results
        environment = training_environment(config.device)
        recorder.record_environment(environment)
        log.info("addrop %s, commit %s%s; torch %s, transformers %s, python %s; on %s with %d torch threads",
                 environment["addrop"], environment["commit"] or "unknown", " (uncommitted changes)"
                 if environment["dirty"] else "", environment["torch"], environment["transformers"],
                 environment["python"], environment["gpu"] or environment["device"], environment["torch_threads"])
        if not config.save_checkpoint:
            # transformers then warns that the best model will not be loaded at the end: expected here.
            log.info("no checkpoint is kept for this run (its sweep's keep_checkpoints is off): its metrics are "
                     "recorded, its model is not (its epoch checkpoints last only while it runs)")
        reporter = JobMetricsReporter(recorder, job.metric_name, config)
        pruning = trial_pruning(job, db, settings.resolved_database_url)
        callbacks = [reporter, ProgressCallback(recorder, 1.0, heartbeat), *([pruning] if pruning else [])]
        resume_from = resumable(recorder, settings, job.metric_name, output_dir)
        result = finetune(config, callbacks=callbacks, should_stop=heartbeat.stop.is_set, progress=False,
                          resume_from=resume_from)
        heartbeat.finish()
        if heartbeat.lost:
            log.warning("the job's lease was lost while it ran; its outcome is not recorded")
            return "lost"
        state = PRUNED if pruning and pruning.pruned_at is not None else (CANCELLED if result.stopped else SUCCEEDED)
        checkpoint = result.best_checkpoint and str(Path(result.best_checkpoint).relative_to(settings.jobs_dir))
        if state == CANCELLED and checkpoint and not settings.keep_cancelled_checkpoints:
            remove_checkpoint(Path(result.best_checkpoint))
            checkpoint = None
            log.info("no checkpoint is kept for a cancelled job (ADDROP_KEEP_CANCELLED_CHECKPOINTS keeps them)")
        best = (f"best dev {result.metric} {result.best_metric:.4f} at epoch {result.best_epoch:g}"
                if result.best_metric is not None else "no dev evaluation")
        log.info("%s after %.1f s of training; %s", state, result.train_seconds, best)
        if result.stop_reason:
            log.info("%s", result.stop_reason)
        recorder.finish(state, best_metric=result.best_metric, best_epoch=result.best_epoch,
                        final_metrics=result.final_metrics, checkpoint=checkpoint)
        return state
    except Exception as error:
        # The traceback goes to the worker's own log (the operator's); the job's log, which anyone who can
        # read the API sees, gets the error alone.
        server_log.error("job %s failed:\n%s", job_id, traceback.format_exc())
        log.error("failed: %s: %s", type(error).__name__, error)
        recorder.finish(FAILED, error=f"{type(error).__name__}: {error}")
        if job.sweep_id is None:  # only a sweep tries a run again (and resumes it): nothing will read them
            shutil.rmtree(output_dir / CHECKPOINTS, ignore_errors=True)
            remove_if_empty(output_dir)  # a failed job leaves no empty folder behind
        return FAILED
    finally:
        heartbeat.finish()
        for logger in watched:
            logger.removeHandler(handler)


