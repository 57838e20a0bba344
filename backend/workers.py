"""Which job workers are alive: each worker's pool process renews its row in ``workers`` (worker/presence.py);
one that missed three rounds is gone. Read by the health endpoint and by queued jobs' views."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select

from backend.settings import Settings
from jobstore.database import Database
from jobstore.orm import Job, WorkerSeen, utcnow

CACHE_SECONDS = 2.0  # job lists ask for every row; one query serves them all for this long


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
        self._cached = (now, list(rows))
        return self._cached[1]

    def last_seen(self) -> WorkerSeen | None:
        """The worker seen most recently, alive or not."""
        with self.db.session() as session:
            return session.scalars(select(WorkerSeen).where(WorkerSeen.queue == self.settings.job_queue)
                                   .order_by(WorkerSeen.last_seen.desc()).limit(1)).first()

    def queued_jobs(self) -> int:
        with self.db.session() as session:
            return session.scalar(select(func.count()).select_from(Job).where(Job.state == "queued")) or 0

    def waiting_reason(self) -> str | None:
        """Why a queued job does not start, when the reason is that no worker is alive."""
        now = time.monotonic()
        if now - self._reason[0] < CACHE_SECONDS:
            return self._reason[1]
        reason = None
        if not self.live():
            last = self.last_seen()
            if last is None:
                reason = "no job worker has been seen yet: the job waits until one starts (addrop-worker)"
            else:
                ago = (utcnow() - last.last_seen).total_seconds()
                reason = (f"no job worker has been seen for {ago:.0f} s (the last was {last.name}): the job waits "
                          "until one starts")
        self._reason = (now, reason)
        return reason
