"""A job worker known to have exited (its supervisor saw it) fails its running job at once, with the reason, and
leaves the live workers at once: neither waits for the job's lease or the presence window to run out."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from jobstore.database import Database
from jobstore.orm import Job, LogLine, WorkerSeen, utcnow
from jobstore.transitions import worker_exited
from tests.jobs_stack import migrated_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'studio.db'}")
        db.migrate()
        yield db
        db.dispose()
        return
    with migrated_postgres("exit") as db:
        yield db


def job(db: Database, state: str, worker: str | None) -> int:
    with db.session() as session:
        row = Job(name="j", state=state, spec={}, config={}, task="sst2", model="m", metric_name="accuracy",
                  worker=worker, started_at=utcnow(), heartbeat_at=utcnow())
        session.add(row)
        session.flush()
        return row.id


def seen(db: Database, name: str, pid: int, busy: int | None) -> None:
    with db.session() as session:
        session.add(WorkerSeen(name=name, queue="q", pid=pid, busy_job_id=busy, gpus=0, last_seen=utcnow()))


def test_the_exited_workers_running_job_fails_with_the_reason_and_the_worker_leaves(database):
    running = job(database, "running", "box:501")  # run by the pool process 501 of worker box:500
    other = job(database, "running", "box:601")
    seen(database, "box:500", 501, running)
    seen(database, "box:600", 601, other)
    assert worker_exited(database, "box:500", "the worker was killed") == running
    with database.session() as session:
        failed = session.get(Job, running)
        assert (failed.state, failed.error) == ("failed", "the worker was killed")
        assert session.scalars(select(LogLine.message).where(LogLine.job_id == running)).all() == ["the worker was killed"]
        assert session.get(Job, other).state == "running"  # another worker's job is left alone
        assert [w.name for w in session.scalars(select(WorkerSeen))] == ["box:600"]
    assert worker_exited(database, "box:500", "again") is None  # nothing left to do


def test_a_job_that_finished_or_moved_on_is_left_as_it_is(database):
    done = job(database, "succeeded", "box:501")
    seen(database, "box:500", 501, done)  # exited right after its job succeeded, before it said it was idle
    assert worker_exited(database, "box:500", "killed") is None
    # the presence row names a job that a newer pool process of the same worker (pid 502) runs
    newer = job(database, "running", "box:502")
    seen(database, "box:700", 501, newer)
    assert worker_exited(database, "box:700", "killed") is None
    with database.session() as session:
        assert session.get(Job, done).state == "succeeded" and session.get(Job, newer).state == "running"
        assert session.scalars(select(WorkerSeen)).all() == []
