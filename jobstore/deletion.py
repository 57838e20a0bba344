"""Deleting finished jobs and sweeps with everything they left: output directories (checkpoints, dynamics,
predictions), metric points, log lines, and a sweep's Optuna study.

A delete is three steps, each safe to repeat: mark the rows ``deleting`` (from then on no read shows them),
remove the files, delete the rows. A process that dies in between leaves marked rows, and
:func:`finish_deletions` (run as the API starts, and periodically) completes them, so the database never lists
a job whose files are half gone, nor forgets files it still holds."""

from __future__ import annotations

import logging

from sqlalchemy import delete, func, select, update

from jobstore import studies
from jobstore.database import Database
from jobstore.orm import FINISHED, RUNNING, Job, LogLine, MetricPoint, Sweep
from jobstore.outputs import remove_tree
from jobstore.settings import StoreSettings

log = logging.getLogger(__name__)


class NotDeletable(Exception):
    """The job or sweep has not finished (cancel it first), or the job is one run of a sweep."""


def delete_job(db: Database, settings: StoreSettings, job_id: int) -> None:
    """Delete a finished job that is not part of a sweep, with its files; :class:`LookupError` when there is no
    such job, :class:`NotDeletable` when it is queued or running or belongs to a sweep."""
    with db.session() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.deleting:
            raise LookupError(job_id)
        if job.sweep_id is not None:
            raise NotDeletable(f"job {job_id} is a run of sweep {job.sweep_id}: delete the sweep, which deletes all "
                               "of its runs")
        if job.state not in FINISHED:
            raise NotDeletable(f"job {job_id} is {job.state}: cancel it first, and delete it once it has stopped")
        job.deleting = True
    _remove_jobs(db, settings, [job_id])
    log.info("job %s deleted", job_id)


def delete_sweep(db: Database, settings: StoreSettings, sweep_id: int) -> None:
    """Delete a finished sweep: its Optuna study, and every job it ran with their files; :class:`LookupError`
    when there is no such sweep, :class:`NotDeletable` while it runs or any of its jobs has not stopped."""
    with db.session() as session:
        sweep = session.get(Sweep, sweep_id, with_for_update=True)
        if sweep is None or sweep.deleting:
            raise LookupError(sweep_id)
        if sweep.state == RUNNING:
            raise NotDeletable(f"sweep {sweep_id} is running: cancel it first, and delete it once its jobs have stopped")
        open_jobs = session.scalar(select(func.count()).select_from(Job).where(
            Job.sweep_id == sweep_id, Job.state.not_in(FINISHED))) or 0
        if open_jobs:
            raise NotDeletable(f"{open_jobs} of sweep {sweep_id}'s jobs have not stopped yet: delete it once they have")
        sweep.deleting = True
        session.execute(update(Job).where(Job.sweep_id == sweep_id).values(deleting=True))
    _remove_sweep(db, settings, sweep_id)
    log.info("sweep %s deleted", sweep_id)


def finish_deletions(db: Database, settings: StoreSettings) -> int:
    """Complete the deletes a process began but did not finish; returns how many jobs and sweeps it completed."""
    with db.session() as session:
        sweeps = session.scalars(select(Sweep.id).where(Sweep.deleting.is_(True))).all()
        jobs = session.scalars(select(Job.id).where(Job.deleting.is_(True), Job.sweep_id.is_(None))).all()
    for sweep_id in sweeps:
        _remove_sweep(db, settings, sweep_id)
    if jobs:
        _remove_jobs(db, settings, list(jobs))
    if sweeps or jobs:
        log.info("finished deleting %d sweep(s) and %d job(s) that an earlier process had begun to delete",
                 len(sweeps), len(jobs))
    return len(sweeps) + len(jobs)


def _remove_sweep(db: Database, settings: StoreSettings, sweep_id: int) -> None:
    with db.session() as session:
        study_name = session.scalar(select(Sweep.study_name).where(Sweep.id == sweep_id))
        jobs = session.scalars(select(Job.id).where(Job.sweep_id == sweep_id)).all()
    for job_id in jobs:
        remove_tree(settings.job_dir(job_id))
    if study_name is not None:
        try:
            studies.delete(study_name, settings.resolved_database_url)
        except KeyError:  # deleted by the attempt that was cut short
            pass
    with db.session() as session:
        _delete_rows(session, list(jobs))
        session.execute(delete(Sweep).where(Sweep.id == sweep_id, Sweep.deleting.is_(True)))


def _remove_jobs(db: Database, settings: StoreSettings, job_ids: list[int]) -> None:
    for job_id in job_ids:
        remove_tree(settings.job_dir(job_id))
    with db.session() as session:
        _delete_rows(session, job_ids)


def _delete_rows(session, job_ids: list[int]) -> None:
    # Explicit rather than by the foreign keys' ON DELETE CASCADE, which SQLite applies only with its pragma on.
    if not job_ids:
        return
    session.execute(delete(MetricPoint).where(MetricPoint.job_id.in_(job_ids)))
    session.execute(delete(LogLine).where(LogLine.job_id.in_(job_ids)))
    session.execute(delete(Job).where(Job.id.in_(job_ids), Job.deleting.is_(True)))
