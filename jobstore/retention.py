"""Checkpoint retention: with ``keep_checkpoints`` set, only the best checkpoints of that many most recently
finished jobs are kept, besides those of jobs marked ``keep``; the older ones are removed. A pruned job keeps
its row, metrics, log and other files, and ``checkpoint_pruned_at`` says when its checkpoint went.

Like a delete, a prune marks first (``checkpoint_pruned_at``), then removes the files, then clears
``checkpoint``; a round cut short is finished by the next.

A failed job keeps no epoch checkpoints: its runner removes them when the run raises, and
:func:`remove_failed_checkpoints` removes those of a job failed for it (its worker killed, or its lease run out)
once nothing can still write or resume them."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select, update

from jobstore.database import Database
from jobstore.orm import FAILED, FINISHED, SWEEP_FINISHED, Job, Sweep, utcnow
from jobstore.outputs import remove_checkpoint, remove_if_empty, remove_tree
from jobstore.settings import StoreSettings

log = logging.getLogger(__name__)


def prune_checkpoints(db: Database, settings: StoreSettings) -> list[int]:
    """One round of retention; returns the ids of the jobs whose checkpoints it removed."""
    keep = settings.keep_checkpoints
    with db.session() as session:
        if keep is not None:
            beyond = (select(Job.id).where(Job.state.in_(FINISHED), Job.checkpoint.is_not(None), Job.keep.is_(False),
                                           Job.deleting.is_(False), Job.checkpoint_pruned_at.is_(None))
                      .order_by(Job.finished_at.desc(), Job.id.desc()).offset(keep))
            ids = session.scalars(beyond).all()
            if ids:  # conditional: a job marked keep meanwhile is not pruned
                session.execute(update(Job).where(Job.id.in_(ids), Job.keep.is_(False), Job.checkpoint_pruned_at.is_(None))
                                .values(checkpoint_pruned_at=utcnow(), revision=Job.revision + 1))
        marked = session.execute(select(Job.id, Job.checkpoint).where(
            Job.checkpoint_pruned_at.is_not(None), Job.checkpoint.is_not(None))).all()
    for job_id, checkpoint in marked:
        remove_checkpoint(settings.jobs_dir / checkpoint)
        with db.session() as session:
            session.execute(update(Job).where(Job.id == job_id).values(checkpoint=None, revision=Job.revision + 1))
    if marked:
        log.info("retention removed the checkpoints of job(s) %s (keep_checkpoints=%s)",
                 ", ".join(str(job_id) for job_id, _ in marked), keep)
    return [job_id for job_id, _ in marked]


def remove_failed_checkpoints(db: Database, settings: StoreSettings, folder: str) -> list[int]:
    """Remove the epoch checkpoints (``<job dir>/<folder>``) that failed jobs left behind, and a job directory
    left empty by that; returns the ids of the jobs whose checkpoints went.

    Only once nothing can still use them: the job failed more than a lease ago (a process that lost its lease
    has stopped writing by then), and it is not a run of a sweep still going (whose next attempt resumes from
    them, moving them into its own directory)."""
    cutoff = utcnow() - timedelta(seconds=settings.job_lease_seconds)
    with db.session() as session:
        ids = session.scalars(select(Job.id).outerjoin(Sweep, Job.sweep_id == Sweep.id).where(
            Job.state == FAILED, Job.finished_at < cutoff, Job.deleting.is_(False),
            or_(Job.sweep_id.is_(None), Sweep.state.in_(SWEEP_FINISHED)))).all()
    removed = []
    for job_id in ids:  # a stat each: cheap next to the round's queries, so nothing records that a job is done
        checkpoints = settings.job_dir(job_id) / folder
        if not checkpoints.is_dir():
            continue
        try:
            remove_tree(checkpoints)
        except OSError as error:  # one job's files (e.g. a permission) must not keep the others' forever
            log.warning("could not remove the epoch checkpoints of failed job %s: %s", job_id, error)
            continue
        remove_if_empty(settings.job_dir(job_id))
        removed.append(job_id)
    if removed:
        log.info("removed the epoch checkpoints left by failed job(s) %s", ", ".join(map(str, removed)))
    return removed
