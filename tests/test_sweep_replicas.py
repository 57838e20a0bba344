"""Two API processes on one PostgreSQL database (compose's several-machine layout) both advance the running
sweeps: a real adaptive search runs exactly its budget of distinct settings, each run once, with no Optuna
trial left open or without its run, also when one process is SIGKILLed mid-search (possibly holding the
sweep, whose lease then has to run out before the other takes over)."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState
from sqlalchemy import create_engine, text

from jobstore import studies
from tests.jobs_stack import api_client, job_request, make_sst2_slice, running_stack, wait_for
from tests.tiny_models import save_tiny_model
from tests.test_sweeps_api import create, finished_sweep, sweep


@pytest.fixture
def stack(tmp_path):
    yield from running_stack("redis-postgres", tmp_path,
                             {"ADDROP_SWEEP_POLL_SECONDS": "0.2", "ADDROP_SWEEP_MAX_TRIALS": "20"})


def test_two_api_processes_advance_one_search_without_asking_a_trial_twice(stack, tmp_path, shared_data):
    model = save_tiny_model(tmp_path / "tiny-bert")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=64, validation=32)
    replica, replica_url = stack.start_api_replica()
    base = job_request(model, data, epochs=2)
    base["addrop"] = {"method": "GA", "layers": [0], "cross_tuning": True}
    grid = [0.1, 0.3, 0.5, 0.7, 0.9]
    first = stack.client()
    created = create(first, {"base": base, "space": {"p": grid, "q": grid}, "strategy": "tpe", "max_trials": 5,
                             "parallel": 2, "seeds": [1], "baseline": False, "pruning": {"kind": "none"}})
    # both processes poll every 0.2 s, so rounds contend for the sweep from the start; the first dies mid-search
    wait_for(lambda: sum(t["state"] == "complete" for t in sweep(first, created["id"])["trials"]) >= 2, 300,
             "two trials to complete", interval=0.2)
    stack.kill_api()
    second = api_client(replica_url)
    done = wait_for(lambda: finished_sweep(second, created["id"]), 600, "the other API process to finish the sweep",
                    interval=1)
    assert replica.poll() is None
    assert done["state"] == "succeeded"
    trials = [t for t in done["trials"] if t["same_as"] is None]
    settings = [(t["params"]["p"], t["params"]["q"]) for t in trials]
    assert len(trials) == 5 and len(set(settings)) == 5, settings
    assert all(t["state"] == "complete" and len(t["job_ids"]) == 1 for t in trials), [
        (t["number"], t["state"], t["job_ids"]) for t in trials]

    # a trial TPE proposed again shares the original's run and value rather than running it twice
    by_number = {t["number"]: t for t in done["trials"]}
    for again in (t for t in done["trials"] if t["same_as"] is not None):
        original = by_number[again["same_as"]]
        assert again["params"] == original["params"] and again["value"] == original["value"] and original["same_as"] is None

    # the database agrees: five runs in all, one per own trial, and every Optuna trial finished and shown
    engine = create_engine(stack.env["DATABASE_URL"])
    with engine.connect() as connection:
        runs = connection.execute(text("SELECT trial_number, count(*) FROM jobs WHERE sweep_id = :id "
                                       "GROUP BY trial_number"), {"id": created["id"]}).all()
        study_name = connection.execute(text("SELECT study_name FROM sweeps WHERE id = :id"),
                                        {"id": created["id"]}).scalar_one()
    engine.dispose()
    assert sorted(runs) == sorted((t["number"], 1) for t in trials)
    study = optuna.load_study(study_name=study_name, storage=studies.storage(stack.env["DATABASE_URL"]))
    states = {trial.number: trial.state for trial in study.get_trials(deepcopy=False)}
    assert set(states) == set(by_number) and set(states.values()) == {TrialState.COMPLETE}, states
