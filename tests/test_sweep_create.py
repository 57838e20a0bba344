"""Creating a sweep queues its baseline twins and its first trials before it answers, on SQLite and PostgreSQL,
also when a background round (of this or another API process) took the new sweep's lease first: the answer
never shows a running sweep without trials that appear a round later."""

from __future__ import annotations

import threading

from backend.jobs import JobService
from backend.sweeps.lease import SweepLease
from backend.sweeps.service import SweepService
from jobstore.orm import Sweep
from tests.sweep_service import jobs_of, sweep_body


def test_a_new_sweep_held_by_another_round_still_answers_with_its_first_trials(service: SweepService, tiny_model,
                                                                             sst2_dir, monkeypatch):
    queue = JobService.queue_rows
    held: list[threading.Timer] = []

    def queue_then_a_round_takes_the_sweep(self, rows):
        queued = queue(self, rows)
        if held:  # the trials' rows, queued by the round that took the sweep after the other let go
            return queued
        sweep_id = rows[0].sweep_id
        with service.db.session() as session:
            assert session.get(Sweep, sweep_id) is not None
        other = SweepLease(service.db, sweep_id)
        assert other.take()  # a periodic round holds the new sweep, for half a second
        held.append(threading.Timer(0.5, other.release))
        held[-1].start()
        return queued

    monkeypatch.setattr(JobService, "queue_rows", queue_then_a_round_takes_the_sweep)
    created = service.create(sweep_body(tiny_model, sst2_dir, {"p": [0.2, 0.4], "q": [0.3]}, parallel=2))
    held[0].join()
    roles = sorted(job.sweep_role for job in jobs_of(service, created.id))
    assert roles.count("trial") == 2 * roles.count("baseline") > 0  # two trials in flight, each at every seed
    assert len(created.trials) == 2  # and the answer shows them
