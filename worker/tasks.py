"""The Celery task that runs a job, and the worker signals around it.

Each job runs in a fresh pool child. The parent imports torch, transformers and the trainer once, before it
forks any (they are copied into every child rather than imported again for each job), but never touches CUDA
or runs a torch operation: CUDA and torch's thread pools start in the child.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import re
import sys

from billiard.exceptions import TimeLimitExceeded, WorkerLostError
from celery.signals import task_failure, task_postrun, task_received, worker_init, worker_process_init
from celery.worker import state as worker_state
from sqlalchemy import text

from jobstore.database import Database
from jobstore.queue import RUN_JOB, make_celery
from jobstore.settings import get_store_settings
from jobstore.transitions import fail_lost_job, job_is_queued
from worker.fork_gate import GATE, gate_embedded_broker, install
from worker.presence import Presence

log = logging.getLogger(__name__)
settings = get_store_settings()
app = make_celery(settings)
gate_embedded_broker(app)
install()  # this module is imported in the parent, which forks the pool
_database: Database | None = None
_is_parent = True  # until worker_process_init runs in a pool child
_presence: Presence | None = None


def database() -> Database:
    """This process's database. The parent (which forks the pool) keeps no connection open between uses; a
    pool child opens its own pooled one."""
    global _database
    if _database is None:
        _database = Database(settings.resolved_database_url, pooled=not _is_parent)
    return _database


@worker_init.connect
def _migrate(**_: object) -> None:
    with GATE:
        database().migrate()


@worker_init.connect
def _preload(**_: object) -> None:
    # In the parent before its pool starts. Importing these in each fresh pool child cost most of the gap between
    # two jobs (benchmarks/pool_starts.py). Importing starts no CUDA context and no thread that a fork could copy
    # half-way through something (tests/test_fork_gate.py): Arrow's jemalloc (loaded by datasets) would start a
    # page-purging background thread, which this process does without. OpenBLAS's pool, where numpy starts one,
    # stops itself around each fork (its own fork handler).
    os.environ.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")
    import worker.runner  # noqa: F401


def _end_if_stuck() -> None:
    """From now on, a pool process that is still here after ``pool_process_timeout_seconds`` writes every
    thread's Python stack to the worker's log and exits. faulthandler's timer is a C thread that needs no GIL,
    so it also ends a process frozen in a C lock (the freeze seen at start-up, in SQLite's free during
    ``import torch``); the worker then starts a fresh one, and a job that was running is failed as lost."""
    faulthandler.dump_traceback_later(settings.pool_process_timeout_seconds, exit=True, file=sys.__stderr__)


@worker_process_init.connect
def _prepare_child(**_: object) -> None:
    global _database, _is_parent, _presence
    _is_parent = False
    _end_if_stuck()
    # Connections inherited over fork must not be shared with the parent.
    if _database is not None:
        _database.engine.dispose(close=False)
    _database = None
    import torch  # already imported by the parent (_preload); CUDA starts here, in the child, if at all

    # The parent forks with no thread inside SQLite (worker/fork_gate.py). Should another lock still be held at
    # fork, the first database call is where it bites: one round trip while the timer runs ends such a process
    # rather than the job it would be given next.
    with database().session() as session:
        session.execute(text("SELECT 1"))
    _presence = Presence(database(), settings.job_queue, settings.worker_presence_seconds, torch.cuda.device_count())
    _presence.start()
    faulthandler.cancel_dump_traceback_later()  # started: a job may take days (the job watchdog minds it)


@task_postrun.connect
def _exit_soon(**_: object) -> None:
    # Sent in the pool process after its one job: the process now reports and exits (a fresh one per job).
    _end_if_stuck()


@task_received.connect
def _skip_stale(request=None, **_: object) -> None:
    # In the parent, as the message arrives: a job that is no longer queued (cancelled, already run, or a
    # duplicate message) is discarded here, so it costs a query instead of a fresh pool process loading torch.
    if request is None or request.name != RUN_JOB or not request.args:
        return
    try:
        with GATE:
            stale = not job_is_queued(database(), int(request.args[0]))
    except Exception as error:  # unsure: let the task run; its own claim decides
        log.warning("could not check job %s before running it: %s", request.args[0], error)
        return
    if stale:
        log.info("job %s is not queued any more; its message is discarded", request.args[0])
        worker_state.revoked.add(request.id)


@app.task(name=RUN_JOB)
def run_job(job_id: int) -> str:
    """Run job ``job_id`` if it is still queued (idempotent: a redelivered message does nothing)."""
    from worker.runner import run_job as run

    if _presence is not None:
        _presence.busy(job_id)
    return run(job_id, settings, database())


@task_failure.connect(sender=run_job)
def _fail_lost_job(sender=None, exception=None, args=None, **_: object) -> None:
    # Sent in the parent when the pool child running a job dies (killed, out of memory, segfault).
    if isinstance(exception, (WorkerLostError, TimeLimitExceeded)) and args:
        # billiard's message ends with its own task counter ("Job: 1."), which is not the job's id
        what = re.sub(r"\s*Job: \d+\.?$", "", str(exception)).rstrip(".")
        reason = (f"job {args[0]} ran past its time limit of {settings.job_time_limit_seconds} s and was killed"
                  if isinstance(exception, TimeLimitExceeded) else
                  f"the worker process running job {args[0]} died ({what})")
        with GATE:
            failed = fail_lost_job(database(), int(args[0]), reason)
        if failed:
            log.error("job %s failed: %s", args[0], reason)
