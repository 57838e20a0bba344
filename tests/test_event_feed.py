"""Job event streams are fed by one poller per process: many open pages of a job cost the database what one
costs, and every stream still gets every point and line, in order, resumable, and its end.

The app runs under uvicorn in a thread of the test (real concurrent HTTP streams), on a temporary data
directory with the embedded broker and no worker, so a job stays queued until the test writes its progress
straight into the database, as a worker would."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from sqlalchemy import event, update

from backend.main import create_app
from backend.settings import Settings
from jobstore.orm import Job, LogLine, MetricPoint, utcnow
from tests.browser import free_port
from tests.jobs_stack import sse_events

STREAMS = 40
POINTS = 30


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # every stream (and one that resumes beside them) comes from this one address, which by default may hold fewer
    settings = Settings(data_dir=tmp_path_factory.mktemp("studio"), models=["minilm"], events_poll_seconds=0.1,
                        events_max_streams_per_client=STREAMS + 1)
    app = create_app(settings)
    port = free_port()
    runner = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not runner.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}"
    runner.should_exit = True
    thread.join(10)


def queued_job(base: str, data_dir: Path) -> int:
    data = {"source": "directory", "task": "sst2", "data_dir": str(data_dir)}
    answer = httpx.post(f"{base}/api/jobs", json={"model": "minilm", "data": data, "training": {"epochs": 1}})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


class QueryCounter:
    """Counts the SQL statements the app's engine runs."""

    def __init__(self, engine) -> None:
        self.engine, self.count = engine, 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *args) -> None:
        self.count += 1

    def during(self, seconds: float) -> int:
        start = self.count
        time.sleep(seconds)
        return self.count - start

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


def open_streams(base: str, job_id: int, n: int, stop: threading.Event, headers: dict | None = None) -> list[threading.Thread]:
    """``n`` streams held open (reading, discarding) until ``stop`` is set or the stream ends; returns once each
    has its first event. A stream that opens wakes the poller for a round of its own: counted reads must come
    after every stream is in (on a loaded machine opening forty can outlast a fixed wait)."""
    connected = threading.Semaphore(0)

    def hold() -> None:
        with httpx.Client(timeout=30) as client, client.stream("GET", f"{base}/api/jobs/{job_id}/events",
                                                               headers=headers or {}) as response:
            for index, _ in enumerate(sse_events(response)):
                if not index:
                    connected.release()
                if stop.is_set():
                    return

    threads = [threading.Thread(target=hold, daemon=True) for _ in range(n)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert connected.acquire(timeout=60), "a stream did not get its first event"
    return threads


def test_many_streams_cost_the_database_what_one_costs(server, sst2_dir):
    app, base = server
    job_id = queued_job(base, sst2_dir)
    counter = QueryCounter(app.state.jobs.db.engine)
    stop = threading.Event()
    try:
        one = open_streams(base, job_id, 1, stop)
        time.sleep(1)
        with_one = counter.during(3)
        many = open_streams(base, job_id, STREAMS - 1, stop)
        time.sleep(2)
        with_many = counter.during(3)
    finally:
        stop.set()
        counter.close()
        app.state.jobs.cancel(job_id)  # ends the streams (a cancelled job is finished)
    for thread in one + many:
        thread.join(10)
    # One poller: the same reads per round whatever the number of streams (the reaper and the sweep
    # controller run alike in both windows). One poller per stream would read STREAMS times as much.
    print(f"SQL statements in 3 s: {with_one} with 1 stream open, {with_many} with {STREAMS}")
    assert with_one > 0
    assert with_many <= 1.5 * with_one + 10, (with_one, with_many)


def set_state(db, job_id: int, state: str) -> None:
    """Move the job as its worker would: a new state and a new revision."""
    times = {"started_at": utcnow()} if state == "running" else {"finished_at": utcnow()}
    with db.session() as session:
        session.execute(update(Job).where(Job.id == job_id).values(state=state, revision=Job.revision + 1, **times))


def test_every_stream_gets_every_point_line_and_the_end(server, sst2_dir):
    app, base = server
    job_id = queued_job(base, sst2_dir)
    db = app.state.jobs.db

    connected = threading.Semaphore(0)

    def collect(headers: dict | None = None) -> list[tuple[str, str | None, object]]:
        events = []
        with httpx.Client(timeout=60) as client, client.stream("GET", f"{base}/api/jobs/{job_id}/events",
                                                               headers=headers or {}) as response:
            for item in sse_events(response):
                if not events:
                    connected.release()
                events.append(item)
        return events

    pool = ThreadPoolExecutor(STREAMS + 1)
    try:
        streams = [pool.submit(collect) for _ in range(STREAMS)]
        for _ in range(STREAMS):  # every stream has its first status before the job moves
            assert connected.acquire(timeout=60)
        set_state(db, job_id, "running")
        for index in range(POINTS):
            with db.session() as session:
                session.add(MetricPoint(job_id=job_id, kind="step", step=index + 1, epoch=index / POINTS,
                                        values={"loss": 1.0 / (index + 1)}))
                session.add(LogLine(job_id=job_id, message=f"line {index}"))
            time.sleep(0.02)
        # a stream that resumes halfway while the others are at the end
        with db.session() as session:
            middle = session.query(MetricPoint.id).filter_by(job_id=job_id).order_by(MetricPoint.id).all()[POINTS // 2 - 1][0]
            first_log = session.query(LogLine.id).filter_by(job_id=job_id).order_by(LogLine.id).first()[0]
        resumed = pool.submit(collect, {"Last-Event-ID": f"{middle}:{first_log}"})
        assert connected.acquire(timeout=60)
    finally:
        set_state(db, job_id, "succeeded")  # ends every stream, also when the test failed above
        pool.shutdown(wait=False)
    results = [future.result(timeout=60) for future in streams]
    rest = resumed.result(timeout=60)

    for events in results:
        steps = [p["step"] for kind, _, data in events if kind == "metrics" for p in data]
        lines = [line["message"] for kind, _, data in events if kind == "log" for line in data]
        states = [data["state"] for kind, _, data in events if kind == "status"]
        assert steps == list(range(1, POINTS + 1))
        assert lines[-POINTS:] == [f"line {i}" for i in range(POINTS)]
        assert states[0] == "queued" and states[-1] == "succeeded" and "running" in states
        assert events[-1][0] == "end" and events[-1][2] == {"state": "succeeded"}
    steps = [p["step"] for kind, _, data in rest if kind == "metrics" for p in data]
    assert steps == list(range(POINTS // 2 + 1, POINTS + 1))
    assert rest[-1][0] == "end"
