"""Every change of a job's state, for the API and the workers alike: queued -> running (a worker's claim),
running -> succeeded / failed / cancelled / pruned (its outcome, or its process dying, or the reaper when its
lease ran out), queued -> cancelled and running -> cancel requested (a user). Besides: what a worker writes
about the job it runs (the environment it trains in, heartbeats, metric points, progress, log lines). Every write
is a short transaction, so the API sees each point as soon as it lands, and each transition is one conditional
UPDATE, so two processes racing on a job never both win."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jobstore.database import Database
from jobstore.orm import CANCELLED, FAILED, QUEUED, RUNNING, Job, LogLine, MetricPoint, WorkerSeen, utcnow

if TYPE_CHECKING:  # importing addrop loads torch, which the worker's parent process must not
    from addrop.callbacks import MetricEvent

log = logging.getLogger(__name__)


class NotCancellable(Exception):
    """The job has already finished."""


class JobRecorder:
    """Reads and writes one job's row on behalf of the worker running it."""

    def __init__(self, db: Database, job_id: int, worker: str) -> None:
        self.db = db
        self.job_id = job_id
        self.worker = worker
        self._lock = threading.Lock()  # the heartbeat thread and the training loop both write
        self._first_step: tuple[float, int] | None = None

    def claim(self) -> Job | None:
        """Move the job from queued to running for this worker; None when it is not queued (cancelled,
        already run, or claimed by another delivery of the same message)."""
        now = utcnow()
        with self.db.session() as session:
            claimed = session.execute(
                update(Job).where(Job.id == self.job_id, Job.state == QUEUED)
                .values(state=RUNNING, started_at=now, heartbeat_at=now, worker=self.worker,
                        revision=Job.revision + 1)
            ).rowcount
            return session.get(Job, self.job_id) if claimed else None

    def record_environment(self, environment: dict[str, Any]) -> None:
        """Store what the job trains with (the worker's code, libraries, device and machine) while it is ours."""
        with self._lock, self.db.session() as session:
            session.execute(update(Job).where(Job.id == self.job_id, Job.state == RUNNING, Job.worker == self.worker)
                            .values(environment=environment, revision=Job.revision + 1))

    def heartbeat(self) -> tuple[bool, bool]:
        """Renew the lease; returns (still ours, cancel requested). A job the reaper failed is no longer ours."""
        with self._lock, self.db.session() as session:
            renewed = session.execute(
                update(Job).where(Job.id == self.job_id, Job.state == RUNNING, Job.worker == self.worker)
                .values(heartbeat_at=utcnow())
            ).rowcount
            cancel = session.scalar(select(Job.cancel_requested).where(Job.id == self.job_id))
        return bool(renewed), bool(cancel)

    def point(self, event: MetricEvent, metric_name: str) -> None:
        """Store a reported point and move the job's progress, ETA and best metric along."""
        values = {key: value for key, value in event.values.items() if _finite(value)}
        with self._lock, self.db.session() as session:
            session.add(MetricPoint(job_id=self.job_id, kind=event.kind, step=event.step, epoch=event.epoch,
                                    values=values))
            changes: dict[str, Any] = self._progress(event.step, event.max_steps, event.epoch)
            if event.kind == "eval" and metric_name in values:
                best = session.scalar(select(Job.best_metric).where(Job.id == self.job_id))
                if best is None or values[metric_name] > best:
                    changes.update(best_metric=values[metric_name], best_epoch=event.epoch)
            session.execute(update(Job).where(Job.id == self.job_id).values(**changes, revision=Job.revision + 1))

    def progress(self, step: int, max_steps: int, epoch: float) -> None:
        """Move the progress bar and ETA between reported points."""
        with self._lock, self.db.session() as session:
            session.execute(update(Job).where(Job.id == self.job_id)
                            .values(**self._progress(step, max_steps, epoch), revision=Job.revision + 1))

    def _progress(self, step: int, max_steps: int, epoch: float) -> dict[str, Any]:
        now = time.monotonic()
        if self._first_step is None or step < self._first_step[1]:
            self._first_step = (now, step)
        started, first = self._first_step
        eta = (now - started) / (step - first) * max(max_steps - step, 0) if step > first else None
        return {"step": step, "max_steps": max_steps, "epoch": epoch, "eta_seconds": eta}

    def earlier_attempt(self) -> int | None:
        """For a sweep's run tried again (its worker died), the newest earlier attempt, which failed, when it
        ran the same config (stored by the same code)."""
        with self.db.session() as session:
            job = session.get(Job, self.job_id)
            if job is None or job.sweep_id is None:
                return None
            earlier = session.scalar(
                select(Job).where(Job.sweep_id == job.sweep_id, Job.sweep_role == job.sweep_role,
                                  Job.trial_number.is_(None) if job.trial_number is None  # a baseline twin
                                  else Job.trial_number == job.trial_number,
                                  Job.seed_index == job.seed_index, Job.id < job.id, Job.state == FAILED)
                .order_by(Job.id.desc()).limit(1))
            same = earlier is not None and (earlier.config, earlier.config_version) == (job.config, job.config_version)
            return earlier.id if same else None

    def carry_over(self, source_job: int, up_to_step: int, metric_name: str) -> int:
        """Copy the points that ``source_job`` recorded up to ``up_to_step`` (where this run resumes from its
        checkpoint) into this job, with its best dev metric among them; returns how many were copied. The start
        of the next epoch, at that very step, is left out: the resumed run reports it again."""
        with self._lock, self.db.session() as session:
            points = session.scalars(select(MetricPoint).where(
                MetricPoint.job_id == source_job, MetricPoint.step <= up_to_step,
                (MetricPoint.step < up_to_step) | (MetricPoint.kind != "epoch")).order_by(MetricPoint.id)).all()
            session.add_all(MetricPoint(job_id=self.job_id, kind=p.kind, step=p.step, epoch=p.epoch, values=p.values,
                                        created_at=p.created_at) for p in points)
            evals = [p for p in points if p.kind == "eval" and metric_name in p.values]
            best = max(evals, key=lambda p: p.values[metric_name], default=None)  # the first of equal values
            if best is not None:
                session.execute(update(Job).where(Job.id == self.job_id).values(
                    best_metric=best.values[metric_name], best_epoch=best.epoch, revision=Job.revision + 1))
        return len(points)

    def log(self, message: str, level: str = "INFO") -> None:
        """Append a line to the job's log."""
        with self.db.session() as session:
            # Every writer of a job's log lines (this one, cancel, the reaper) holds the job's row lock while
            # it inserts, so lines commit in id order and an event stream's id cursor never skips one.
            session.execute(select(Job.id).where(Job.id == self.job_id).with_for_update())
            session.add(LogLine(job_id=self.job_id, level=level, message=message))

    def finish(self, state: str, **fields: Any) -> bool:
        """Record the outcome, unless the job is no longer this worker's (e.g. the reaper failed it)."""
        with self._lock, self.db.session() as session:
            return bool(session.execute(
                update(Job).where(Job.id == self.job_id, Job.state == RUNNING, Job.worker == self.worker)
                .values(state=state, finished_at=utcnow(), eta_seconds=None, revision=Job.revision + 1, **fields)
            ).rowcount)


def job_is_queued(db: Database, job_id: int) -> bool:
    """Whether the job still waits for a worker."""
    with db.session() as session:
        return session.scalar(select(Job.state).where(Job.id == job_id)) == QUEUED


def fail_lost_job(db: Database, job_id: int, reason: str) -> bool:
    """Fail a running job whose worker process died (called from the worker's parent process)."""
    with db.session() as session:
        return _fail_running(session, job_id, reason)


def _fail_running(session: Session, job_id: int, reason: str, *conditions: Any, at: datetime | None = None) -> bool:
    """Fail job ``job_id`` with ``reason`` (logged as an error) if it is still running and meets ``conditions``:
    the one conditional UPDATE behind every way a running job's worker is found gone."""
    failed = session.execute(
        update(Job).where(Job.id == job_id, Job.state == RUNNING, *conditions)
        .values(state=FAILED, error=reason, finished_at=at or utcnow(), eta_seconds=None, revision=Job.revision + 1)
    ).rowcount
    if failed:
        session.add(LogLine(job_id=job_id, level="ERROR", message=reason))
    return bool(failed)


def worker_exited(db: Database, name: str, reason: str) -> int | None:
    """The worker ``name`` (its presence row's ``host:pid``) is known to have exited, e.g. by the supervisor that
    started it: fail the job its pool process was running, with ``reason``, and remove its presence row, so that
    neither the job nor the health endpoint waits for a lease or a presence window to run out. Returns the failed
    job's id, if it failed one."""
    with db.session() as session:
        seen = session.get(WorkerSeen, name)
        if seen is None:
            return None
        host = name.rsplit(":", 1)[0]
        job_id = seen.busy_job_id
        # only while the job is still this pool process's: it may have finished just before the worker died
        failed = job_id is not None and _fail_running(session, job_id, reason, Job.worker == f"{host}:{seen.pid}")
        session.delete(seen)
    if failed:
        log.warning("job %s failed: %s", job_id, reason)
    return job_id if failed else None


def cancel_job(db: Database, job_id: int, reason: str | None = None) -> bool:
    """Cancel a queued job at once (True), or ask a running one to stop after its current step (False);
    ``reason`` goes into its log. :class:`NotCancellable` when it has finished, :class:`LookupError` when
    there is no such job."""
    now = utcnow()
    with db.session() as session:
        state = session.scalar(select(Job.state).where(Job.id == job_id).with_for_update())
        if state is None:
            raise LookupError(job_id)
        queued = session.execute(
            update(Job).where(Job.id == job_id, Job.state == QUEUED)
            .values(state=CANCELLED, finished_at=now, revision=Job.revision + 1)
        ).rowcount
        if not queued:
            running = session.execute(
                update(Job).where(Job.id == job_id, Job.state == RUNNING)
                .values(cancel_requested=True, revision=Job.revision + 1)
            ).rowcount
            if not running:
                raise NotCancellable(f"job {job_id} is already {state}; only queued or running jobs can be cancelled")
        message = "cancelled before it started" if queued else "cancel requested; stopping after the current step"
        session.add(LogLine(job_id=job_id, level="INFO", message=f"{message} ({reason})" if reason else message))
    return bool(queued)


def reap_stale(db: Database, lease_seconds: float) -> list[int]:
    """Fail running jobs whose worker has not sent a heartbeat within the lease: it died."""
    now = utcnow()
    cutoff = now - timedelta(seconds=lease_seconds)
    reaped = []
    with db.session() as session:
        stale = session.scalars(select(Job).where(Job.state == RUNNING, Job.heartbeat_at < cutoff)).all()
        for job in stale:
            reason = (f"the worker {job.worker or ''} stopped responding: no heartbeat since "
                      f"{job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC (lease {lease_seconds:g} s); it was killed or lost "
                      "its connection to the database")
            if _fail_running(session, job.id, reason, Job.heartbeat_at < cutoff, at=now):
                reaped.append(job.id)
    for job_id in reaped:
        log.warning("job %s failed: its worker stopped responding", job_id)
    return reaped


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))
