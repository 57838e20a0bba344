"""A worker's presence in the database: its pool process renews one row every few seconds, idle or busy.

Written by the pool process rather than the worker's parent, because the parent forks the pool: a thread
there could hand a half-used database connection to a child (the hang of an SQLite connection garbage-
collected after fork). A pool process never forks.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from sqlalchemy import update

from jobstore.database import Database
from jobstore.orm import WorkerSeen, utcnow
from jobstore.process_table import process_table

log = logging.getLogger(__name__)


def worker_name() -> str:
    """The worker this pool process belongs to: its parent's host and pid (the same for every pool process)."""
    return f"{socket.gethostname()}:{os.getppid()}"


class Presence(threading.Thread):
    """Renews the worker's row every ``interval`` seconds and says which job it runs."""

    def __init__(self, db: Database, queue: str, interval: float, gpus: int) -> None:
        super().__init__(name="worker-presence", daemon=True)
        self.db = db
        self.queue = queue
        self.interval = interval
        self.gpus = gpus
        self.name_in_db = worker_name()
        self._job: int | None = None
        self._stop = threading.Event()

    def busy(self, job_id: int | None) -> None:
        """The job this worker runs now (None: idle); written at once."""
        self._job = job_id
        self.write()

    def run(self) -> None:
        self.write()
        while not self._stop.wait(self.interval):
            self.write()

    def write(self) -> None:
        now = utcnow()
        try:
            with self.db.session() as session:
                fields = dict(pid=os.getpid(), queue=self.queue, busy_job_id=self._job, gpus=self.gpus,
                              process_table=process_table(), last_seen=now)
                renewed = session.execute(update(WorkerSeen).where(WorkerSeen.name == self.name_in_db)
                                          .values(**fields)).rowcount
                if not renewed:
                    session.add(WorkerSeen(name=self.name_in_db, started_at=now, **fields))
        except Exception as error:  # the database may be briefly away; the next round tries again
            log.warning("could not record this worker's presence: %s", error)
