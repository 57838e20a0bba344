"""The lease one API process holds while it advances or cancels one sweep, so that API replicas sharing a
database never ask for the same trial twice, and a cancel never meets a round half way through asking."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import select, update

from jobstore.database import Database
from jobstore.orm import RUNNING, Sweep, utcnow

CONTROLLER_LEASE_SECONDS = 20.0  # longer than a round takes; a crashed API's lease runs out soon
WAIT_POLL_SECONDS = 0.05  # how often a wait for the lease tries again (a round holds it for milliseconds)


class LeaseLost(Exception):
    """Another API process took over the sweep while this one was still advancing it."""


class SweepLease:
    """One API process's right to advance one sweep for ``seconds``. The expiry it wrote is its token:
    renewing or releasing is conditional on it, so a process whose round outlasted the lease finds out, and
    cannot release its successor's."""

    def __init__(self, db: Database, sweep_id: int, seconds: float = CONTROLLER_LEASE_SECONDS) -> None:
        self.db = db
        self.sweep_id = sweep_id
        self.seconds = seconds
        self.until: datetime | None = None

    def take(self, wait: float = 0.0) -> bool:
        """Hold the sweep if it is running and nobody holds it (or a holder's lease ran out); with ``wait``,
        wait up to that many seconds for a holder to let go."""
        deadline = time.monotonic() + wait
        while True:
            now = utcnow()
            until = now + timedelta(seconds=self.seconds)
            with self.db.session() as session:
                taken = session.execute(
                    update(Sweep).where(Sweep.id == self.sweep_id, Sweep.state == RUNNING,
                                        (Sweep.controller_until.is_(None)) | (Sweep.controller_until < now))
                    .values(controller_until=until)).rowcount
            if taken:
                self.until = until
                return True
            self.until = None
            if time.monotonic() >= deadline or not self._running():
                return False
            time.sleep(WAIT_POLL_SECONDS)

    def _running(self) -> bool:
        with self.db.session() as session:
            return session.scalar(select(Sweep.state).where(Sweep.id == self.sweep_id)) == RUNNING

    def renew(self) -> None:
        """Extend the lease before a write another controller could duplicate; :class:`LeaseLost` when it
        ran out and was taken (or the sweep was deleted)."""
        until = utcnow() + timedelta(seconds=self.seconds)
        with self.db.session() as session:
            renewed = session.execute(update(Sweep).where(Sweep.id == self.sweep_id, Sweep.controller_until == self.until)
                                      .values(controller_until=until)).rowcount
        if not renewed:
            self.until = None
            raise LeaseLost(self.sweep_id)
        self.until = until

    def release(self) -> None:
        """Let the next round (of any API process) advance the sweep at once; a no-op once lost."""
        if self.until is not None:
            with self.db.session() as session:
                session.execute(update(Sweep).where(Sweep.id == self.sweep_id, Sweep.controller_until == self.until)
                                .values(controller_until=None))
            self.until = None
