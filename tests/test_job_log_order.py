"""On PostgreSQL, a job's log lines commit in id order, so an event stream's id cursor never skips one."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, update

from jobstore.database import Database
from jobstore.orm import Job, LogLine
from jobstore.transitions import JobRecorder
from tests.jobs_stack import migrated_postgres


@pytest.fixture()
def database():
    with migrated_postgres("log_order") as db:
        yield db


def visible_lines(db: Database, job_id: int) -> list[tuple[int, str]]:
    with db.session() as session:
        rows = session.scalars(select(LogLine).where(LogLine.job_id == job_id).order_by(LogLine.id)).all()
        return [(row.id, row.message) for row in rows]


def test_a_worker_line_waits_for_a_line_the_api_is_still_committing(database):
    with database.session() as session:
        job = Job(name="j", state="running", spec={}, config={}, task="sst2", model="m", metric_name="accuracy")
        session.add(job)
        session.flush()
        job_id = job.id
    recorder = JobRecorder(database, job_id, "worker-1")
    with database.session() as api:
        # the API cancels: it updates the job row and appends a line, and has not committed yet
        api.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
        api.add(LogLine(job_id=job_id, level="INFO", message="cancel requested"))
        api.flush()
        writer = threading.Thread(target=recorder.log, args=("epoch 2 begins",))
        writer.start()
        time.sleep(1.0)
        # a stream reading now must not see the worker's later line before the API's earlier one
        assert visible_lines(database, job_id) == []
        assert writer.is_alive()
    writer.join(timeout=10)
    lines = visible_lines(database, job_id)
    assert [message for _, message in lines] == ["cancel requested", "epoch 2 begins"]
    assert lines[0][0] < lines[1][0]
