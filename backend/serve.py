"""The ``addrop-studio`` command: serve the web app with uvicorn and, on the embedded broker (no Redis),
a job worker beside it, restarted when it dies and stopped when the server stops."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Callable, Sequence

from pydantic import ValidationError

from backend.settings import Settings, get_settings
from backend.worker_set_lock import WorkerSetLock
from jobstore.database import Database
from jobstore.transitions import worker_exited as record_exit

WORKER_STOP_SECONDS = 10.0
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)  # after quick successive deaths, up to a minute apart
HEALTHY_SECONDS = 120.0  # a worker that ran this long before it died starts the delays again
_PR_SET_PDEATHSIG = 1


def main(argv: Sequence[str] | None = None) -> int:
    """Start the web app on ``--host``/``--port``."""
    parser = argparse.ArgumentParser(prog="addrop-studio", description="Serve AD-DROP Studio.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-worker", action="store_true",
                        help="do not start a job worker, even on the embedded broker")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import uvicorn

    try:
        settings = get_settings()
    except ValidationError as error:  # one line per setting, not a traceback
        for problem in error.errors():
            where = ".".join(map(str, problem["loc"]))  # empty for a check of several settings together
            print(f"addrop-studio: setting{' ' + where if where else 's'}: "
                  f"{problem['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    refusal = open_network_refusal(args.host, settings.api_token, settings.allow_open_network)
    if refusal:
        print(f"addrop-studio: {refusal}", file=sys.stderr)
        return 2
    warning = host_names_warning(args.host, settings.allowed_hosts)
    if warning:
        print(f"addrop-studio: {warning}", file=sys.stderr)
    # uvicorn re-raises SIGTERM once it has shut down; with Python's default action the process would
    # die there without running the ``finally`` below and the worker would be orphaned.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    workers = None
    if settings.embedded_broker and settings.embedded_worker and not args.no_worker:
        workers = EmbeddedWorkers(settings.embedded_workers, WorkerSetLock(settings.data_dir),
                                  Database(settings.resolved_database_url))
        workers.start()
    try:
        uvicorn.run("backend.main:create_app", factory=True, host=args.host, port=args.port, **server_options(settings))
    finally:
        if workers is not None:
            workers.stop()
    return 0


def server_options(settings: Settings) -> dict[str, int]:
    """uvicorn's bounds on connections, from the settings: how many it serves at once (past them a request gets a
    503 at once, before the app sees it) and how long an idle one stays open."""
    return {"limit_concurrency": settings.server_max_connections,
            "timeout_keep_alive": settings.server_keep_alive_seconds}


class EmbeddedWorkers(threading.Thread):
    """The server's set of ``count`` supervised job workers, started once this server holds the data directory's
    worker-set lock (:mod:`backend.worker_set_lock`): after a crash, the earlier server's orphaned worker first
    finishes the job it runs."""

    def __init__(self, count: int, lock: WorkerSetLock, db: Database) -> None:
        super().__init__(name="embedded-workers", daemon=True)
        self.lock = lock
        exited = functools.partial(worker_exited, db)
        self.supervisors = [WorkerSupervisor(functools.partial(start_worker, index, count, lock.fd), exited)
                            for index in range(count)]
        self._stopping = threading.Event()
        self._started = threading.Event()

    def run(self) -> None:
        if not self.lock.acquire(self._stopping, _say_waiting):
            return
        for supervisor in self.supervisors:
            supervisor.start()
        self._started.set()

    def stop(self) -> None:
        """Stop waiting for the lock, or stop the workers; then let go of the lock."""
        self._stopping.set()
        self.join(WORKER_STOP_SECONDS)
        if self._started.is_set():
            for supervisor in self.supervisors:
                supervisor.stop()
        self.lock.close()


def _say_waiting(holder: str) -> None:
    print(f"addrop-studio: the job workers that {holder} started on this data directory still run (a stopped "
          "server's worker finishing its job, or another server on the same directory); this server starts its own "
          "workers once they have exited", file=sys.stderr)


class WorkerSupervisor(threading.Thread):
    """Keeps the embedded worker running: when it exits (killed, crashed), what is left of its process group (a
    pool process training on) is killed, ``exited(pid, code)`` is told, and a new one starts after a delay that
    grows with quick successive deaths (``RESTART_DELAYS``)."""

    def __init__(self, start: Callable[[], subprocess.Popen],
                 exited: Callable[[int, int], None] = lambda pid, code: None) -> None:
        super().__init__(name="worker-supervisor", daemon=True)
        self._start = start
        self._exited = exited
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.restarts = 0

    def run(self) -> None:
        deaths = 0
        while not self._stopping.is_set():
            with self._lock:
                if self._stopping.is_set():
                    return
                self.process = self._start()
            started = time.monotonic()
            code = self.process.wait()
            if self._stopping.is_set():
                return
            # a pool process outliving its worker would train on beside the next worker's job
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            try:
                self._exited(self.process.pid, code)
            except Exception as error:  # the database may be away; the job's lease then runs out as before
                print(f"addrop-studio: could not record the job worker's exit: {error}", file=sys.stderr)
            deaths = 0 if time.monotonic() - started > HEALTHY_SECONDS else deaths + 1
            delay = RESTART_DELAYS[min(max(deaths - 1, 0), len(RESTART_DELAYS) - 1)]
            print(f"addrop-studio: the job worker exited ({code}); starting a new one in {delay:g} s", file=sys.stderr)
            self.restarts += 1
            self._stopping.wait(delay)

    def stop(self) -> None:
        """Stop supervising and stop the worker."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is not None:
            stop_worker(process)
        self.join(WORKER_STOP_SECONDS)


def worker_exited(db: Database, pid: int, code: int) -> None:
    """Fail the job the exited embedded worker ``pid`` was running and drop it from the live workers at once."""
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
    reason = (f"the job worker running this job (process {pid}) {how}; the server starts a new worker (a sweep's "
              "run is tried again)")
    failed = record_exit(db, f"{socket.gethostname()}:{pid}", reason)
    if failed is not None:
        print(f"addrop-studio: job {failed} failed: {reason}", file=sys.stderr)


def open_network_refusal(host: str, token: str | None, allowed: bool) -> str | None:
    """Why the server must not start on ``host``: anyone who reaches a non-loopback address could queue jobs
    and read the workers' disks without a token. None when it may start."""
    if _is_loopback(host) or (token and token.strip()) or allowed:
        return None
    return (f"refusing to serve on {host} without an API token: set ADDROP_API_TOKEN (writes then need it), or "
            "ADDROP_ALLOW_OPEN_NETWORK=true on a trusted network")


def host_names_warning(host: str, allowed_hosts: list[str]) -> str | None:
    """What to tell whoever serves on a non-loopback ``host`` while the app answers loopback names only: every
    client elsewhere would get a 400 for its Host header. None when there is nothing to say."""
    if _is_loopback(host) or not all(_is_loopback(name.strip("[]")) for name in allowed_hosts):
        return None
    return (f"serving on {host}, but only requests to {', '.join(allowed_hosts)} are answered: set "
            "ADDROP_ALLOWED_HOSTS to the names clients use for this server (a JSON list)")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _die_with_parent() -> None:
    """In the worker's process: receive SIGTERM when the server dies, even by SIGKILL (Linux only)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_worker(index: int = 0, count: int = 1, lock_fd: int | None = None) -> subprocess.Popen:
    """Embedded job worker ``index`` of ``count`` (``python -m worker``) in its own process group, so it and its
    pool child stop together; it inherits ``lock_fd`` (the worker-set lock), which it holds until it exits.
    Several share the cores: each trains with its share of them as torch threads, unless the environment already
    sets ``OMP_NUM_THREADS``."""
    print(f"addrop-studio: starting embedded job worker {index + 1} of {count}", file=sys.stderr)
    command, env = [sys.executable, "-m", "worker"], dict(os.environ)
    if count > 1:
        command += ["--name", f"addrop-{index + 1}@{socket.gethostname()}"]
        threads = str(max(1, (os.cpu_count() or 1) // count))
        env.setdefault("OMP_NUM_THREADS", threads)
        env.setdefault("MKL_NUM_THREADS", env["OMP_NUM_THREADS"])
    return subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=_die_with_parent,
                            pass_fds=() if lock_fd is None else (lock_fd,))


def stop_worker(worker: subprocess.Popen) -> None:
    """Ask the worker to stop (it finishes a job that ends within the grace period), then kill it; a job it
    was running is failed with a reason by the next server's reaper."""
    if worker.poll() is not None:
        return
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(WORKER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
