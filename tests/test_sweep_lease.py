"""The lease that lets one API process at a time advance a sweep, on SQLite and PostgreSQL: a round that
outlasts its lease finds out before it queues anything more, and never releases its successor's lease."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import update

from backend.sweeps.lease import LeaseLost, SweepLease
from jobstore.database import Database
from jobstore.orm import Sweep, utcnow
from tests.jobs_stack import migrated_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'studio.db'}")
        db.migrate()
        yield db
        db.dispose()
        return
    with migrated_postgres("lease") as db:
        yield db


def running_sweep(db: Database) -> int:
    with db.session() as session:
        sweep = Sweep(name="s", state="running", spec={}, base_config={}, study_name=uuid.uuid4().hex, task="sst2",
                      model="m", metric_name="accuracy")
        session.add(sweep)
        session.flush()
        return sweep.id


def holder(db: Database, sweep_id: int):
    with db.session() as session:
        return session.get(Sweep, sweep_id).controller_until


def test_one_controller_at_a_time_and_a_late_one_finds_out(database):
    sweep_id = running_sweep(database)
    # 2 s: the first must still hold the sweep over the next few statements, each a commit (an fsync) that can
    # take a good part of a second on a loaded machine
    first, second = SweepLease(database, sweep_id, seconds=2), SweepLease(database, sweep_id, seconds=30)
    assert first.take()
    assert not second.take()  # held
    first.renew()  # a round renews before each write while it still holds the sweep
    assert holder(database, sweep_id) == first.until

    # the first round outlasts its lease; another API process takes the sweep over
    time.sleep(max(0.0, (first.until - utcnow()).total_seconds()) + 0.2)
    assert second.take()
    with pytest.raises(LeaseLost):
        first.renew()
    first.release()  # the late round's release leaves its successor's lease alone
    assert holder(database, sweep_id) == second.until
    second.renew()
    assert not SweepLease(database, sweep_id).take()

    second.release()
    assert holder(database, sweep_id) is None
    again = SweepLease(database, sweep_id)
    assert again.take()
    again.release()


def test_a_finished_sweep_is_not_taken(database):
    sweep_id = running_sweep(database)
    with database.session() as session:
        session.execute(update(Sweep).where(Sweep.id == sweep_id).values(state="succeeded"))
    assert not SweepLease(database, sweep_id).take()


def test_a_wait_for_the_lease_ends_when_its_holder_lets_go_or_the_sweep_finishes(database):
    sweep_id = running_sweep(database)
    holder_lease, waiter = SweepLease(database, sweep_id), SweepLease(database, sweep_id)
    assert holder_lease.take()
    started = time.monotonic()
    assert not waiter.take(wait=0.3)  # still held when the wait runs out
    assert time.monotonic() - started >= 0.3

    releaser = threading.Timer(0.3, holder_lease.release)
    releaser.start()
    assert waiter.take(wait=20)  # taken once the holder let go, long before the wait ran out
    releaser.join()
    assert holder(database, sweep_id) == waiter.until

    with database.session() as session:
        session.execute(update(Sweep).where(Sweep.id == sweep_id).values(state="cancelled"))
    started = time.monotonic()
    assert not SweepLease(database, sweep_id).take(wait=20)  # a finished sweep is never taken: no wait
    assert time.monotonic() - started < 5
