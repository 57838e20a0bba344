"""One set of embedded job workers per data directory.

The server's embedded workers hold an exclusive ``flock`` on ``<data_dir>/workers.lock`` for as long as any of
their processes lives: the server takes it and hands the open file to every worker it starts (and the worker to
its pool processes, by fork). A lock taken by ``flock`` belongs to the open file, not to one process, so it stays
held after the server dies (killed, crashed) while its orphaned worker finishes the job it was running (a
worker's parent receives SIGTERM when the server dies and stops after its current job). A server started on the
same data directory meanwhile waits for that job to end before it starts workers of its own: the job is not
lost, and two trainings never share the cores.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import Callable

LOCK_FILE = "workers.lock"
POLL_SECONDS = 1.0

_waiting_for: str | None = None  # who holds the lock while this process's workers wait for it (see waiting_for)


def waiting_for() -> str | None:
    """While this server's embedded workers wait for the lock: who holds it ("process N"); None otherwise. The
    server (``backend.serve``) and its web app share the process, so health can say why no worker of its own runs."""
    return _waiting_for


class WorkerSetLock:
    """The data directory's worker-set lock; :attr:`fd` is the open file the workers inherit."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / LOCK_FILE
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def try_acquire(self) -> bool:
        """Take the lock if no worker set holds it; the file then names this process (read by :meth:`holder`)."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        return True

    def acquire(self, stopping: threading.Event, waiting: Callable[[str], None] = lambda holder: None) -> bool:
        """Wait until the lock is free and take it; ``waiting(holder)`` is told once when it must wait. False when
        ``stopping`` is set first. Meanwhile :func:`waiting_for` names the holder."""
        global _waiting_for
        try:
            while not self.try_acquire():
                if _waiting_for is None:
                    _waiting_for = self.holder()
                    waiting(_waiting_for)
                if stopping.wait(POLL_SECONDS):
                    return False
            return True
        finally:
            _waiting_for = None

    def holder(self) -> str:
        """The server that started the worker set holding the lock, as its file names it ("process N")."""
        text = os.pread(self.fd, 32, 0).decode(errors="replace").strip()
        return f"process {text}" if text.isdigit() else "an earlier server"

    def close(self) -> None:
        """Release this process's hold (workers still running keep the lock until they exit)."""
        os.close(self.fd)
