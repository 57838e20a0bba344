"""Shared pieces of the job tests: small data files, job requests, and a real stack (API server and
Celery worker as subprocesses) on Redis + PostgreSQL or on the embedded default (SQLite, no Redis)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import psycopg
import pytest
import redis

from jobstore.database import Database
from tests.browser import ROOT, free_port, wait_until_healthy

# The servers the job tests use: scripts/test.sh exports the ones it found running or started.
POSTGRES = os.environ.get("ADDROP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("ADDROP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def postgres_schema_url(schema: str) -> str:
    """The SQLAlchemy URL of the POSTGRES database with ``schema`` as its search path."""
    parts = urlsplit(POSTGRES)
    query = urlencode([*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")])
    return urlunsplit(parts._replace(scheme="postgresql+psycopg", query=query))


@contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    """A fresh schema of the POSTGRES database, dropped afterwards; yields its SQLAlchemy URL."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield postgres_schema_url(schema)
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def migrated_postgres(prefix: str) -> Iterator[Database]:
    """A migrated :class:`Database` on a fresh PostgreSQL schema, disposed of and dropped afterwards."""
    with postgres_schema(prefix) as url:
        db = Database(url)
        db.migrate()
        try:
            yield db
        finally:
            db.dispose()


def make_glue_slice(shared_data: Path, task: str, folder: Path, train: int, validation: int) -> Path:
    """The first rows of a shared GLUE task's splits, as a data directory."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", train), ("validation", validation)):
        lines = (shared_data / "glue" / task / f"{split}.jsonl").read_text().splitlines()[:rows]
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def make_sst2_slice(shared_data: Path, folder: Path, train: int, validation: int) -> Path:
    """The first rows of the shared SST-2 splits, as a data directory."""
    return make_glue_slice(shared_data, "sst2", folder, train, validation)


def job_request(model: Path, data: Path, **training: Any) -> dict:
    """A job on the tiny model and an SST-2 slice; ``training`` overrides the defaults used here."""
    return {
        "model": str(model),
        "data": {"source": "directory", "task": "sst2", "data_dir": str(data)},
        "training": {"epochs": 4, "batch_size": 8, "logging_steps": 2, "learning_rate": 1e-3, "max_length": 64,
                     "device": "cpu", **training},
        "addrop": {"method": "GA", "p": 0.3, "q": 0.3, "layers": [0, 1]},
    }


def api_client(url: str) -> httpx.Client:
    """A client of a test server at ``url`` that opens a connection per request. Reusing one kept alive races the
    server's keep-alive timeout (uvicorn closes an idle connection after 5 s): a poll sent as the server closes it
    fails with "Server disconnected without sending a response", which a loaded machine makes likely. A request
    to a server that really went away still fails."""
    return httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0))


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Stack:
    """An API server and a job worker sharing one database and broker, each restartable or killable."""

    def __init__(self, kind: str, root: Path, extra_env: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                    "ADDROP_DATA_DIR": str(root / "data"), "ADDROP_JOB_LEASE_SECONDS": "10",
                    "ADDROP_JOB_HEARTBEAT_SECONDS": "1", "ADDROP_EVENTS_POLL_SECONDS": "0.1",
                    "ADDROP_UPLOAD_MAX_BYTES": str(256 * 1024), "OMP_NUM_THREADS": "1", **(extra_env or {})}
        for name in ("DATABASE_URL", "ADDROP_DATABASE_URL", "ADDROP_BROKER_URL", "CELERY_BROKER_URL"):
            self.env.pop(name, None)
        self.schema = self.queue = None
        if kind == "redis-postgres":
            self.schema = f"jobs_test_{uuid.uuid4().hex[:10]}"
            self.queue = f"addrop-test-{uuid.uuid4().hex[:10]}"
            with psycopg.connect(POSTGRES, autocommit=True) as connection:
                connection.execute(f"CREATE SCHEMA {self.schema}")
            self.env.update(DATABASE_URL=postgres_schema_url(self.schema),
                            ADDROP_BROKER_URL=REDIS, ADDROP_JOB_QUEUE=self.queue)
        self.api: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.replicas: list[subprocess.Popen] = []

    def start_api(self, timeout: float = 120) -> None:
        self.api = _process(["-m", "backend", "--port", str(self.port), "--no-worker"], self.env,
                            self.root / "api.log")
        wait_until_healthy(self.api, self.url, self.root / "api.log", timeout)

    def start_api_replica(self, timeout: float = 120) -> tuple[subprocess.Popen, str]:
        """Another API process on the same database and broker (as compose runs on several machines); its
        process and base URL. Closed with the stack."""
        port = free_port()
        log = self.root / f"api-replica-{len(self.replicas) + 1}.log"
        replica = _process(["-m", "backend", "--port", str(port), "--no-worker"], self.env, log)
        self.replicas.append(replica)
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(replica, url, log, timeout)
        return replica, url

    def start_worker(self) -> None:
        self.worker = _process(["-m", "worker", "--loglevel", "INFO"], self.env, self.root / "worker.log")

    def kill_api(self) -> None:
        _stop(self.api, signal.SIGKILL)

    def kill_worker(self) -> None:
        _stop(self.worker, signal.SIGKILL)

    def client(self) -> httpx.Client:
        return api_client(self.url)

    def report(self) -> str:
        """What a failed test should show of the stack: whether each process still runs, and the logs' tails."""
        lines = []
        for name, process in (("API", self.api), ("worker", self.worker)):
            code = None if process is None else process.poll()
            lines.append(f"{name}: {'not started' if process is None else 'running' if code is None else f'exited with {code}'}")
        for log in ("api.log", "worker.log"):
            path = self.root / log
            if path.exists():
                lines += [f"--- the last lines of {log}", *path.read_text(errors="replace").splitlines()[-40:]]
        return "\n".join(lines)

    def close(self) -> None:
        _stop(self.api)
        for replica in self.replicas:
            _stop(replica)
        _stop(self.worker, signal.SIGKILL)
        if self.schema:
            with psycopg.connect(POSTGRES, autocommit=True) as connection:
                connection.execute(f"DROP SCHEMA {self.schema} CASCADE")
        if self.queue:
            client = redis.Redis.from_url(REDIS)
            keys = [key for key in client.scan_iter("*") if self.queue.encode() in key]
            if keys:
                client.delete(*keys)


def running_stack(kind: str, root: Path, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """A started stack (API and worker start side by side), closed after use."""
    stack = Stack(kind, root, extra_env)
    try:
        stack.start_worker()
        stack.start_api()
        yield stack
    finally:
        stack.close()


def sse_events(response: httpx.Response) -> Iterator[tuple[str, str | None, Any]]:
    """(event, id, parsed data) for each event of an open Server-Sent Events response."""
    event, event_id, data = "message", None, []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield event, event_id, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "id":
                event_id = value
            elif field == "data":
                data.append(value)
