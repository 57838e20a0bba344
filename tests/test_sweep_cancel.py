"""Cancelling a sweep, on SQLite and PostgreSQL: one cancel moves the sweep's revision once, and a cancel whose API
process is killed (SIGKILL) at any step is finished by the next round: no run of the sweep left queued or running
unasked to stop, no trial left running, the trials it keeps those of its study, the sweep cancelled.

The cancel runs in a process of its own (forked from a server that has imported the app once) that stops at a
chosen step and waits there until the test kills it."""

from __future__ import annotations

import multiprocessing
import signal
import time
from datetime import timedelta
from multiprocessing.connection import Connection

import pytest
from sqlalchemy import select, update

from backend.jobs import JobService
from backend.schemas.sweeps import SweepCreate
from backend.sweeps.lease import SweepLease
from backend.sweeps.service import SweepService
from jobstore.database import Database
from jobstore.orm import CANCELLED, FINISHED, QUEUED, RUNNING, SUCCEEDED, LogLine, Sweep, utcnow
from jobstore.studies import SweepStudy, snapshot
from tests.sweep_service import jobs_of, run, sweep_body, sweeps_on

# Where a cancel is cut: before or after the n-th call of a step (stopping one job, failing one trial).
STEPS = {"stop a job": (JobService, "cancel"), "fail a trial": (SweepStudy, "fail")}
CUTS = [("stop a job", "before", 1),    # the cancel is recorded (or, before, the sweep marked cancelled), nothing stopped
        ("stop a job", "after", 1),     # one job stopped, the others not
        ("fail a trial", "before", 1),  # every job stopped, no trial failed
        ("fail a trial", "after", 1),   # one of the two running trials failed
        ("fail a trial", "after", 2)]   # everything done but keeping the trials and marking the sweep cancelled


def cancel_cut(url: str, data_dir: str, sweep_id: int, cut: tuple[str, str, int], reached: Connection) -> None:
    """An API process cancelling the sweep that tells ``reached`` when it comes to ``cut`` and waits there to be
    killed; it sends False if the cancel ended without coming to it."""
    step, when, count = cut
    owner, name = STEPS[step]
    original = getattr(owner, name)
    calls = 0

    def wait_to_be_killed() -> None:
        reached.send(True)
        time.sleep(3600)

    def cut_call(*args, **kwargs):
        nonlocal calls
        calls += 1
        if when == "before" and calls == count:
            wait_to_be_killed()
        result = original(*args, **kwargs)
        if when == "after" and calls == count:
            wait_to_be_killed()
        return result

    setattr(owner, name, cut_call)
    sweeps_on(Database(url), url, data_dir).cancel(sweep_id)
    reached.send(False)


def study_of(service: SweepService, sweep_id: int) -> SweepStudy:
    """The sweep's Optuna study."""
    with service.db.session() as session:
        sweep = session.get(Sweep, sweep_id)
    space = SweepCreate.model_validate(sweep.spec).space.model_dump()
    return SweepStudy(sweep.study_name, service.settings.resolved_database_url, space)


def running_sweep(service: SweepService, model, data) -> tuple[int, int]:
    """A sweep with two trials in flight over two seeds beside its baseline twins: one run running, one finished,
    the others queued. Returns its id and revision."""
    created = service.create(sweep_body(model, data, {"p": [0.2, 0.4, 0.6], "q": [0.3]}, parallel=2))
    first, second = [job for job in jobs_of(service, created.id) if job.sweep_role == "trial"][:2]
    run(service, first, RUNNING)
    run(service, second, SUCCEEDED, 0.7)
    with service.db.session() as session:
        revision = session.get(Sweep, created.id).revision
    assert [trial.state for trial in study_of(service, created.id).trials()] == ["running", "running"]
    assert sum(job.state == QUEUED for job in jobs_of(service, created.id)) == 4
    return created.id, revision


def assert_cancelled(service: SweepService, sweep_id: int, revision_before: int) -> None:
    """The sweep is cancelled once, with nothing of it left running, and shows what its study holds."""
    with service.db.session() as session:
        sweep = session.get(Sweep, sweep_id)
        asked_to_stop = session.scalars(select(LogLine.job_id).where(LogLine.message.like("cancel requested%"))).all()
    jobs = jobs_of(service, sweep_id)
    assert [job.id for job in jobs if job.state == QUEUED] == []
    running = [job for job in jobs if job.state not in FINISHED]
    assert [job.state for job in running] == [RUNNING] and running[0].cancel_requested
    assert asked_to_stop == [running[0].id]  # asked once, however many tries the cancel took
    trials = study_of(service, sweep_id).trials()
    assert [trial.state for trial in trials] == ["failed", "failed"]
    assert sweep.trials_snapshot == snapshot(trials)
    assert (sweep.state, sweep.message, sweep.revision) == (CANCELLED, "cancelled", revision_before + 1)
    assert sweep.finished_at is not None
    shown = service.get(sweep_id)
    assert shown.state == CANCELLED and [trial.state for trial in shown.trials] == ["cancelled", "cancelled"]


def test_one_cancel_moves_the_revision_once(service, tiny_model, sst2_dir):
    sweep_id, revision = running_sweep(service, tiny_model, sst2_dir)
    out = service.cancel(sweep_id)
    assert out.state == CANCELLED and out.revision == revision + 1
    assert_cancelled(service, sweep_id, revision)
    service.rounds.advance_all()  # no round takes it up again
    assert service.get(sweep_id) == out


@pytest.mark.parametrize("cut", CUTS, ids=["-".join(map(str, cut)) for cut in CUTS])
def test_a_cancel_killed_at_any_step_is_finished_by_the_next_round(service, tiny_model, sst2_dir, cut):
    sweep_id, revision = running_sweep(service, tiny_model, sst2_dir)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # each cancel process starts without importing the app again
    reached, reaching = context.Pipe(duplex=False)
    canceller = context.Process(target=cancel_cut, args=(service.settings.resolved_database_url,
                                                         str(service.settings.data_dir), sweep_id, cut, reaching))
    canceller.start()
    reaching.close()
    try:
        assert reached.poll(300), "the cancel process never came to the step"
        assert reached.recv() is True, f"the cancel ended without coming to {cut}"
    except EOFError:
        pytest.fail("the cancel process died before it came to the step")
    finally:
        canceller.kill()
        canceller.join(30)
    assert canceller.exitcode == -signal.SIGKILL

    cut_short = service.get(sweep_id)
    service.rounds.advance_all()  # the dead process still holds the sweep's lease: nothing happens yet
    assert service.get(sweep_id) == cut_short
    with service.db.session() as session:
        session.execute(update(Sweep).where(Sweep.id == sweep_id)
                        .values(controller_until=utcnow() - timedelta(seconds=1)))  # its lease runs out
    service.rounds.advance_all()
    assert_cancelled(service, sweep_id, revision)
    finished = service.get(sweep_id)
    service.rounds.advance_all()
    assert service.get(sweep_id) == finished


def test_a_cancel_that_outlasts_the_lease_keeps_the_sweep_to_itself(service, tiny_model, sst2_dir, monkeypatch):
    """A cancel stopping its jobs slowly (here each takes longer than half the lease, all of them together
    longer than the lease) holds the sweep throughout: no other process's round can take it half way."""
    sweep_id, revision = running_sweep(service, tiny_model, sst2_dir)
    monkeypatch.setattr(SweepLease.__init__, "__defaults__", (0.6,))
    stop = JobService.cancel
    taken_by_another: list[bool] = []

    def slow_stop(self, *args, **kwargs):
        result = stop(self, *args, **kwargs)
        time.sleep(0.4)
        other = SweepLease(service.db, sweep_id)
        taken_by_another.append(other.take())
        other.release()
        return result

    monkeypatch.setattr(JobService, "cancel", slow_stop)
    service.cancel(sweep_id)
    assert len(taken_by_another) == 5 and not any(taken_by_another)  # 0.4 s x 5 > 0.6 s
    assert_cancelled(service, sweep_id, revision)


def test_a_cancel_whose_lease_was_taken_leaves_the_rest_to_the_taker(service, tiny_model, sst2_dir, monkeypatch):
    """When another process took the sweep over half way through a cancel (its lease ran out), the cancel
    answers with the sweep as it stands and stops nothing more; the taker's round finishes the cancel."""
    sweep_id, revision = running_sweep(service, tiny_model, sst2_dir)
    stop = JobService.cancel
    taker = SweepLease(service.db, sweep_id)
    stops = 0

    def stop_then_lose_the_lease(self, *args, **kwargs):
        nonlocal stops
        result = stop(self, *args, **kwargs)
        stops += 1
        if stops == 1:
            with service.db.session() as session:
                session.execute(update(Sweep).where(Sweep.id == sweep_id)
                                .values(controller_until=utcnow() - timedelta(seconds=1)))
            assert taker.take()
        return result

    monkeypatch.setattr(JobService, "cancel", stop_then_lose_the_lease)
    answered = service.cancel(sweep_id)
    assert answered.state == RUNNING
    assert sum(job.state == QUEUED for job in jobs_of(service, sweep_id)) == 3  # one stopped, then it let go
    taker.release()
    service.rounds.advance_all()
    assert_cancelled(service, sweep_id, revision)
