"""Which job workers are alive: each worker's pool process renews its row in ``workers`` (worker/presence.py);
one that missed three rounds is gone, and so at once is one whose processes this API can see have ended (a
worker in its own process table: :mod:`jobstore.process_table`). Read by the health endpoint and by queued jobs'
views; :meth:`WorkerRegistry.bury_gone`, run every ``BURY_SECONDS`` by the app, fails the job of a worker found gone."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import psutil
from sqlalchemy import func, select

from backend.settings import Settings
from jobstore.database import Database
from jobstore.orm import QUEUED, Job, WorkerSeen, utcnow
from jobstore.process_table import process_table
from jobstore.transitions import worker_exited

CACHE_SECONDS = 2.0  # job lists ask for every row; one query serves them all for this long
BURY_SECONDS = 2.0  # how often rows of this process table are checked against it
CLOCK_SLACK_SECONDS = 1.0  # process start times and database stamps come from the same clock, rounded

log = logging.getLogger(__name__)


class WorkerRegistry:
    """Live workers and the queue's depth, read from the database."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._cached: tuple[float, list[WorkerSeen]] = (0.0, [])
        self._reason: tuple[float, str | None] = (0.0, None)

    @property
    def window(self) -> float:
        """Seconds after its last renewal that a worker still counts as alive."""
        return 3 * self.settings.worker_presence_seconds

    def live(self) -> list[WorkerSeen]:
        """Workers of this app's queue seen within :attr:`window`, newest first."""
        now = time.monotonic()
        if now - self._cached[0] < CACHE_SECONDS:
            return self._cached[1]
        cutoff = utcnow() - timedelta(seconds=self.window)
        with self.db.session() as session:
            rows = session.scalars(select(WorkerSeen).where(WorkerSeen.last_seen >= cutoff,
                                                            WorkerSeen.queue == self.settings.job_queue)
                                   .order_by(WorkerSeen.last_seen.desc())).all()
        self._cached = (now, [row for row in rows if not processes_gone(row)])
        return self._cached[1]

    def bury_gone(self) -> list[int]:
        """Fail the job of each worker whose processes are known gone (:func:`processes_gone`), with the reason,
        and drop its row; returns the failed jobs' ids."""
        table = process_table()
        if table is None:
            return []
        with self.db.session() as session:
            rows = session.scalars(select(WorkerSeen).where(WorkerSeen.process_table == table)).all()
        failed = []
        for row in rows:
            if not processes_gone(row):
                continue
            ago = (utcnow() - row.last_seen).total_seconds()
            reason = (f"the job worker {row.name} is gone: neither its process {parent_pid(row)} nor its pool "
                      f"process {row.pid} runs any more (last seen {ago:.0f} s ago; killed or crashed)")
            job_id = worker_exited(self.db, row.name, reason)
            log.warning("%s%s", reason, f"; job {job_id} failed" if job_id is not None else "")
            if job_id is not None:
                failed.append(job_id)
        self._cached = (0.0, [])  # the next read drops the buried rows
        return failed

    def last_seen(self) -> WorkerSeen | None:
        """The worker seen most recently, alive or not."""
        with self.db.session() as session:
            return session.scalars(select(WorkerSeen).where(WorkerSeen.queue == self.settings.job_queue)
                                   .order_by(WorkerSeen.last_seen.desc()).limit(1)).first()

    def queued_jobs(self) -> int:
        with self.db.session() as session:
            return session.scalar(select(func.count()).select_from(Job).where(Job.state == QUEUED)) or 0

    def waiting_reason(self) -> str | None:
        """Why a queued job does not start, when the reason is that no worker is alive."""
        now = time.monotonic()
        if now - self._reason[0] < CACHE_SECONDS:
            return self._reason[1]
        reason = None
        if not self.live():
            last = self.last_seen()
            if last is None:
                reason = "no job worker is alive: the job waits until one starts (addrop-worker)"
            else:
                ago = (utcnow() - last.last_seen).total_seconds()
                reason = (f"no job worker has been seen for {ago:.0f} s (the last was {last.name}): the job waits "
                          "until one starts")
        self._reason = (now, reason)
        return reason


def parent_pid(row: WorkerSeen) -> int | None:
    """The worker's own process (its row's name is ``host:pid``); the row's ``pid`` is its pool process."""
    pid = row.name.rsplit(":", 1)[-1]
    return int(pid) if pid.isdigit() else None


def processes_gone(row: WorkerSeen) -> bool:
    """Whether ``row``'s worker shares this process's process table and neither its own process nor its pool
    process still runs there. A worker elsewhere, or one that cannot say where, is never judged here (its
    presence window and its job's lease still tell)."""
    if row.process_table is None or row.process_table != process_table():
        return False
    return not any(_runs(pid, row.last_seen) for pid in (parent_pid(row), row.pid) if pid is not None)


def _runs(pid: int, seen: datetime) -> bool:
    """Whether process ``pid`` runs and is the one that was there at ``seen`` (a pid reused since started later)."""
    try:
        process = psutil.Process(pid)
        return (process.status() != psutil.STATUS_ZOMBIE
                and process.create_time() <= seen.timestamp() + CLOCK_SLACK_SECONDS)
    except psutil.Error:
        return False
