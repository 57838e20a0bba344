"""The job service: stores and queues job requests (checked by :mod:`backend.job_specs`), cancels them, reads
their metrics and log, fails jobs whose worker died, and lists finished checkpoints for the explorer.

Routes stay thin and call this; every state change goes through :mod:`jobstore.transitions`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from anyio import to_thread
from sqlalchemy import and_, func, or_, select

from addrop.callbacks import PREDICTIONS_FILE, read_predictions
from addrop.finetune import CHECKPOINTS, DYNAMICS
from addrop.tasks import KNOWN_TASKS
from backend.advice import dropping_epochs, run_warnings
from backend.catalog import CatalogEntry
from backend.job_errors import JobConflict, JobNotFound, QueueUnavailable
from backend.job_specs import JobSpecs
from backend.schemas.jobs import JobCreate, JobOut, Progress
from backend.settings import Settings
from backend.shown import shown_model, shown_spec
from jobstore import transitions
from jobstore.database import Database
from jobstore.deletion import NotDeletable, delete_job, finish_deletions
from jobstore.orm import FINISHED, QUEUED, RUNNING, SUCCEEDED, Job, LogLine, MetricPoint
from jobstore.retention import prune_checkpoints, remove_failed_checkpoints

log = logging.getLogger(__name__)

Enqueue = Callable[[int], None]
QueueSize = Callable[[], int]



@dataclass
class JobWatch:
    """What the event streams of one job have seen: the smallest cursors and the revisions they know."""

    metric_after: int
    log_after: int
    revisions: frozenset[int]


@dataclass
class JobChanges:
    """A job's state and revision, its view (None when every stream knows its revision), new points, lines."""

    state: str
    revision: int
    out: JobOut | None
    points: list[MetricPoint]
    lines: list[LogLine]

def task_kind(job: Job) -> str | None:
    """The kind of the job's task: its own files' kind, else the known task's (None for neither)."""
    kind = (job.config or {}).get("task_kind")
    known = KNOWN_TASKS.get(job.task.lower())
    return kind or (known.kind if known else None)


def explorer_name(job_id: int) -> str:
    """The name under which the explorer lists the job's best checkpoint."""
    return f"job-{job_id}"


class JobService:
    """Everything the API does with jobs."""

    def __init__(self, db: Database, settings: Settings, specs: JobSpecs, enqueue: Enqueue,
                 queue_size: QueueSize | None = None, waiting_reason: Callable[[], str | None] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.specs = specs
        self.enqueue = enqueue
        self.queue_size = queue_size
        self.waiting_reason = waiting_reason
        self._short_before = False

    # --- submitting ------------------------------------------------------------------------------

    def queue_rows(self, rows: Sequence[Job]) -> list[int]:
        """Store new job rows in one transaction, then send each to the queue. A message the broker does not
        take now is sent again by :meth:`resend_lost`: the row waits, queued."""
        with self.db.session() as session:
            session.add_all(rows)
            session.flush()
            ids = [row.id for row in rows]
        for job_id in ids:
            try:
                self.enqueue(job_id)
            except Exception as error:  # the broker's client raises many kinds (connection, timeout, OS errors)
                log.warning("job %s is queued but the broker did not take its message yet (%s)", job_id, error)
        return ids

    def submit(self, spec: JobCreate) -> JobOut:
        """Validate, store and queue a job; nothing stays behind when the queue cannot take it."""
        prepared = self.specs.prepare(spec)
        with self.db.session() as session:
            job = Job(
                name=prepared.name, state=QUEUED, spec=spec.model_dump(mode="json"), config=prepared.config,
                task=prepared.task.name, model=spec.model, metric_name=prepared.task.metric,
            )
            session.add(job)
            session.flush()
        try:
            self.enqueue(job.id)
        except Exception as error:  # the broker's client raises many kinds (connection, timeout, OS errors)
            with self.db.session() as session:
                session.delete(session.get(Job, job.id))
            raise QueueUnavailable(f"the job queue is unavailable, nothing was queued ({type(error).__name__}: {error})")
        log.info("queued job %s (%s)", job.id, job.name)
        return self.to_out(job)

    # --- reading ---------------------------------------------------------------------------------

    def get(self, job_id: int) -> JobOut:
        """The job, or :class:`JobNotFound`."""
        with self.db.session() as session:
            return self.to_out(self._row(session, job_id))

    def list(self, states: Sequence[str] = (), limit: int = 50, offset: int = 0) -> tuple[list[JobOut], int]:
        """Jobs newest first, optionally only those in ``states``, and how many match in all."""
        query = select(Job).where(Job.deleting.is_(False))
        count = select(func.count()).select_from(Job).where(Job.deleting.is_(False))
        if states:
            query = query.where(Job.state.in_(states))
            count = count.where(Job.state.in_(states))
        with self.db.session() as session:
            rows = session.scalars(query.order_by(Job.id.desc()).limit(limit).offset(offset)).all()
            return [self.to_out(row) for row in rows], session.scalar(count) or 0

    def metrics(self, job_id: int, after: int = 0, kinds: Sequence[str] = ()) -> list[MetricPoint]:
        """The job's metric points with an id above ``after``, in order."""
        with self.db.session() as session:
            self._row(session, job_id)
            query = select(MetricPoint).where(MetricPoint.job_id == job_id, MetricPoint.id > after)
            if kinds:
                query = query.where(MetricPoint.kind.in_(kinds))
            return list(session.scalars(query.order_by(MetricPoint.id)).all())

    def log(self, job_id: int, tail: int | None = None, after: int = 0) -> list[LogLine]:
        """The job's log lines with an id above ``after`` (the last ``tail`` of them when given), in order."""
        with self.db.session() as session:
            self._row(session, job_id)
            query = select(LogLine).where(LogLine.job_id == job_id, LogLine.id > after)
            if tail is not None:
                rows = session.scalars(query.order_by(LogLine.id.desc()).limit(tail)).all()
                return list(reversed(rows))
            return list(session.scalars(query.order_by(LogLine.id)).all())

    def changes_many(self, watched: dict[int, JobWatch]) -> dict[int, JobChanges]:
        """What the event streams of several jobs need, in one transaction: each job's state (read first, so a
        point written after this read comes in the next round, never lost), its view unless every stream
        already knows its revision, and its points and lines after the watch's cursors. A job that does not
        exist is left out."""
        if not watched:
            return {}
        with self.db.session() as session:
            rows = session.scalars(select(Job).where(Job.id.in_(watched), Job.deleting.is_(False))).all()
            found = {job.id: JobChanges(job.state, job.revision, None if watched[job.id].revisions == {job.revision}
                                        else self.to_out(job), [], []) for job in rows}
            if not found:
                return {}
            points = session.scalars(select(MetricPoint).where(or_(*(
                and_(MetricPoint.job_id == job_id, MetricPoint.id > watched[job_id].metric_after) for job_id in found
            ))).order_by(MetricPoint.id)).all()
            lines = session.scalars(select(LogLine).where(or_(*(
                and_(LogLine.job_id == job_id, LogLine.id > watched[job_id].log_after) for job_id in found
            ))).order_by(LogLine.id)).all()
        for point in points:
            found[point.job_id].points.append(point)
        for line in lines:
            found[line.job_id].lines.append(line)
        return found

    def checkpoint_dir(self, job_id: int) -> Path:
        """The directory of the job's best checkpoint; :class:`JobConflict` when there is none (yet)."""
        with self.db.session() as session:
            job = self._row(session, job_id)
            path = self._checkpoint(job)
            if path is None:
                raise JobConflict(f"job {job_id} has no checkpoint (it is {job.state})")
            return path

    def dynamics_dir(self, job_id: int) -> Path:
        """The directory of the job's attribution dynamics (``probe.json``, each recorded epoch's maps);
        :class:`JobConflict` when it has none (yet)."""
        with self.db.session() as session:
            job = self._row(session, job_id)
            recording = bool((job.config or {}).get("dynamics"))
        path = self.settings.job_dir(job_id) / DYNAMICS
        if not (path / "probe.json").is_file():
            reason = "it records none" if not recording else "no epoch has ended yet, or its files are gone"
            raise JobConflict(f"job {job_id} has no attribution dynamics ({reason})")
        return path

    def predictions(self, job_id: int) -> list[dict]:
        """A translation job's kept dev predictions, one record per evaluated epoch so far (none yet: empty);
        :class:`JobConflict` for a job of another task kind, which keeps none."""
        with self.db.session() as session:
            job = self._row(session, job_id)
            kind = task_kind(job)
        if kind != "translation":
            raise JobConflict(f"job {job_id} is not a translation job: it keeps no dev predictions")
        return read_predictions(self.settings.job_dir(job_id) / PREDICTIONS_FILE)

    def checkpoints(self) -> list[CatalogEntry]:
        """Finished jobs' best checkpoints, newest first, as the explorer's catalog lists them."""
        with self.db.session() as session:
            rows = session.scalars(
                select(Job).where(Job.state.in_(FINISHED), Job.checkpoint.is_not(None), Job.deleting.is_(False))
                .order_by(Job.id.desc())
            ).all()
        entries = []
        for job in rows:
            path = self._checkpoint(job)
            if path is None:
                continue
            best = f", best dev {job.metric_name} {job.best_metric:.4f}" if job.best_metric is not None else ""
            entries.append(CatalogEntry(
                name=explorer_name(job.id), source=str(path), kind="checkpoint",
                description=f"job {job.id}: {job.name} ({job.task}{best})",
            ))
        return entries

    def _checkpoint(self, job: Job) -> Path | None:
        """The job's best-checkpoint directory, when it has one on disk."""
        path = self.settings.jobs_dir / job.checkpoint if job.checkpoint and job.checkpoint_pruned_at is None else None
        return path if path is not None and path.is_dir() else None

    @staticmethod
    def _row(session, job_id: int) -> Job:
        job = session.get(Job, job_id)
        if job is None or job.deleting:  # one being deleted is gone for every reader
            raise JobNotFound(f"there is no job {job_id}")
        return job

    def to_out(self, job: Job) -> JobOut:
        """The API's view of a job row."""
        epochs = int(job.config.get("epochs", 0))
        percent = 100.0 if job.state == SUCCEEDED else (100.0 * job.step / job.max_steps if job.max_steps else 0.0)
        has_checkpoint = self._checkpoint(job) is not None
        return JobOut(
            id=job.id, name=job.name, state=job.state, task=job.task, task_kind=task_kind(job),
            model=shown_model(job.model, self.settings.data_dir),
            metric=job.metric_name,
            created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
            heartbeat_at=job.heartbeat_at, cancel_requested=job.cancel_requested, worker=job.worker,
            progress=Progress(epoch=job.epoch, epochs=epochs, step=job.step, max_steps=job.max_steps,
                              percent=round(min(percent, 100.0), 2),
                              eta_seconds=job.eta_seconds if job.state == RUNNING else None),
            best_metric=job.best_metric, best_epoch=job.best_epoch, final_metrics=job.final_metrics,
            error=job.error, environment=job.environment, checkpoint_available=has_checkpoint, keep=job.keep,
            checkpoint_pruned_at=job.checkpoint_pruned_at,
            explorer_model=explorer_name(job.id) if has_checkpoint and job.state in FINISHED else None,
            spec=shown_spec(job.spec, self.settings.data_dir), revision=job.revision, sweep_id=job.sweep_id, sweep_role=job.sweep_role,
            waiting_reason=self.waiting_reason() if job.state == QUEUED and self.waiting_reason else None,
            addrop_epochs=dropping_epochs(job.spec), warnings=run_warnings(job.spec),
        )

    # --- changing --------------------------------------------------------------------------------

    def cancel(self, job_id: int, reason: str | None = None) -> JobOut:
        """Cancel a queued job at once, or ask a running one to stop after its current step; ``reason`` goes
        into its log."""
        try:
            transitions.cancel_job(self.db, job_id, reason)
        except LookupError:
            raise JobNotFound(f"there is no job {job_id}") from None
        except transitions.NotCancellable as error:
            raise JobConflict(str(error)) from None
        return self.get(job_id)

    def delete(self, job_id: int) -> None:
        """Delete a finished job with its files, metrics and log; :class:`JobConflict` for a queued or running
        one (cancel it first) or a sweep's run (delete the sweep)."""
        try:
            delete_job(self.db, self.settings, job_id)
        except LookupError:
            raise JobNotFound(f"there is no job {job_id}") from None
        except NotDeletable as error:
            raise JobConflict(str(error)) from None

    def set_keep(self, job_id: int, keep: bool) -> JobOut:
        """Mark the job keep (retention leaves its checkpoint) or not."""
        with self.db.session() as session:
            job = self._row(session, job_id)
            if job.keep != keep:
                job.keep = keep
                job.revision += 1
        return self.get(job_id)

    def tidy(self) -> None:
        """Finish the deletes a process began, run a round of checkpoint retention, and remove the epoch
        checkpoints of jobs failed for a dead worker."""
        finish_deletions(self.db, self.settings)
        prune_checkpoints(self.db, self.settings)
        remove_failed_checkpoints(self.db, self.settings, CHECKPOINTS)

    def reap_stale(self) -> list[int]:
        """Fail running jobs whose worker has not sent a heartbeat within the lease: it died."""
        return transitions.reap_stale(self.db, self.settings.job_lease_seconds)

    def resend_lost(self) -> int:
        """Re-send the queued jobs when the broker holds fewer messages than there are queued jobs at two
        checks in a row (a broker restart lost them); returns how many were sent.

        One check is not enough: a message a worker has just taken leaves the queue a moment before the
        worker marks its job running.  A duplicate is harmless (a worker claims a job atomically).
        """
        if self.queue_size is None:
            return 0
        with self.db.session() as session:
            waiting = session.scalar(select(func.count()).select_from(Job).where(Job.state == QUEUED))
        short = bool(waiting) and self.queue_size() < waiting
        resend, self._short_before = short and self._short_before, short and not self._short_before
        if not resend:
            return 0
        log.warning("the broker holds fewer job messages than the %d queued job(s): sending them again", waiting)
        return self.requeue_waiting()

    def requeue_waiting(self) -> int:
        """Send every queued job to the queue again (after a broker restart lost its messages); a worker
        claims a job atomically, so a duplicate message is a no-op."""
        with self.db.session() as session:
            ids = session.scalars(select(Job.id).where(Job.state == QUEUED).order_by(Job.id)).all()
        for job_id in ids:
            self.enqueue(job_id)
        return len(ids)


class PauseGuard:
    """Holds the reaper back for one lease after its own loop was held up: when the machine (or this process)
    was paused, a suspended laptop or a snapshotted VM, the workers were paused with it, and every running
    job's heartbeat looks as old as the pause. Reaping at once would fail jobs whose workers are alive and
    renew their lease a moment later; a worker that really died is failed one lease later instead."""

    def __init__(self, interval: float, lease: float, now: float) -> None:
        self.late = interval + lease / 2  # a round this far apart means the loop was not running
        self.lease = lease
        self.last = now
        self.hold_until = now

    def may_reap(self, now: float) -> bool:
        """Whether a round at wall time ``now`` may fail jobs whose heartbeats ran out."""
        gap = now - self.last
        self.last = now
        if gap > self.late:
            self.hold_until = now + self.lease
            log.warning("the job reaper was held up for %.0f s (the machine or the API process was paused): running "
                        "jobs get %g s to renew their lease before any is failed", gap, self.lease)
        return now >= self.hold_until


async def reap_periodically(service: JobService) -> None:
    """Run :meth:`JobService.reap_stale`, :meth:`JobService.resend_lost` and :meth:`JobService.tidy` every quarter
    lease (at most every 15 s), for as long as the app runs; no reaping for a lease after a pause
    (:class:`PauseGuard`)."""
    interval = min(max(service.settings.job_lease_seconds / 4, 0.5), 15.0)
    guard = PauseGuard(interval, service.settings.job_lease_seconds, time.time())
    while True:
        try:
            if guard.may_reap(time.time()):
                await to_thread.run_sync(service.reap_stale)
            await to_thread.run_sync(service.resend_lost)
            await to_thread.run_sync(service.tidy)
        except Exception:  # a database, broker or disk hiccup must not end the reaper
            log.exception("reaping stale jobs, re-sending lost ones or tidying the disk failed")
        await asyncio.sleep(interval)
