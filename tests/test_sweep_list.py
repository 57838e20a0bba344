"""The list of sweeps and each sweep's page, in process on SQLite and PostgreSQL, with sweeps made and advanced
by the API's own code (no background rounds: each test moves the sweeps itself, so nothing changes between
two reads). The list answers as each sweep's page does, in the same few SQL statements whatever its size, and
neither loads a study: both read the trials the sweep's row keeps, which never hold a trial half asked."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

import optuna
import pytest
from sqlalchemy import event, update

import backend.sweeps.views
from backend.sweeps.lease import SweepLease
from backend.sweeps.service import SweepService
from jobstore import studies
from jobstore.database import Database
from jobstore.orm import CANCELLED, PRUNED, QUEUED, RUNNING, SUCCEEDED, Job, Sweep
from jobstore.space import PARAMS, setting_key
from jobstore.strategies import STRATEGIES
from jobstore.studies import SweepStudy
from tests.sweep_service import jobs_of, run, sweep_body


def run_all(service: SweepService, sweep_id: int, metric: float = 0.7) -> None:
    """Every open run of the sweep succeeds (each with its own metric), then a round tells Optuna."""
    for job in jobs_of(service, sweep_id):
        if job.state in (QUEUED, RUNNING):
            run(service, job, SUCCEEDED, metric + job.id / 100)
    service.rounds.advance(sweep_id)


PRIOR = [{"params": {"p": 0.2, "q": 0.3}, "values": [0.91]}, {"params": {"p": 0.2, "q": 0.5}, "values": [0.5, 0.52]},
         {"params": {"p": 0.4, "q": 0.3}, "values": [0.55], "state": "pruned"}]


def sweeps_of_every_kind(service: SweepService, model, data) -> dict[str, int]:
    """A grid that succeeded, a search resumed from prior settings that succeeded (a proposal of a setting run
    before among its trials), a sweep with a pruned trial, one cancelled mid-run, and one running."""
    ids = {}
    grid = service.create(sweep_body(model, data, {"p": [0.2, 0.4], "q": [0.3]}))
    run_all(service, grid.id)
    ids["grid"] = grid.id

    # A TPE sweep seeded so that it proposes settings already run before it proposes the one left.
    resumed = service.create(sweep_body(model, data, {"p": [0.2, 0.4], "q": [0.3, 0.5]}, strategy="tpe", max_trials=4,
                                     baseline=False, prior=PRIOR, prior_baseline=[0.6, 0.62], parallel=1))
    for _ in range(5):
        run_all(service, resumed.id)
    ids["resumed"] = resumed.id

    pruned = service.create(sweep_body(model, data, {"p": [0.2, 0.4], "q": [0.3]}, parallel=1, baseline=False))
    first, second = [job for job in jobs_of(service, pruned.id)]
    run(service, first, PRUNED, 0.5)
    service.rounds.advance(pruned.id)  # stops the trial's other run: the trial is pruned once it has stopped
    service.rounds.advance(pruned.id)
    run_all(service, pruned.id)
    ids["pruned"] = pruned.id

    cancelled = service.create(sweep_body(model, data, {"p": [0.2, 0.4, 0.6], "q": [0.3]}, parallel=1))
    run(service, jobs_of(service, cancelled.id)[0], RUNNING)
    service.cancel(cancelled.id)
    ids["cancelled"] = cancelled.id

    running = service.create(sweep_body(model, data, {"p": [0.2, 0.4], "q": [0.3]}, parallel=1))
    run(service, jobs_of(service, running.id)[-1], SUCCEEDED, 0.8)
    run(service, jobs_of(service, running.id)[-2], RUNNING)
    ids["running"] = running.id
    return ids


def test_the_list_answers_as_each_sweeps_page(service, tiny_model, sst2_dir):
    ids = sweeps_of_every_kind(service, tiny_model, sst2_dir)
    listed, total = service.list()
    assert total == 5 and [item.id for item in listed] == sorted(ids.values(), reverse=True)
    assert [item.model_dump() for item in listed] == [service.get(item.id).model_dump() for item in listed]
    page, _ = service.list(limit=2, offset=1)
    assert [item.model_dump() for item in page] == [item.model_dump() for item in listed[1:3]]

    # what the sweeps hold, so that the comparison above is of sweeps of every kind
    shown = {kind: next(item for item in listed if item.id == sweep_id) for kind, sweep_id in ids.items()}
    states = {kind: (item.state, sorted(trial.state for trial in item.trials)) for kind, item in shown.items()}
    assert states["grid"] == (SUCCEEDED, ["complete", "complete"])
    assert states["pruned"] == (SUCCEEDED, ["complete", "pruned"])
    assert states["cancelled"] == (CANCELLED, ["cancelled"])
    assert states["running"] == (RUNNING, ["running"])
    resumed = shown["resumed"]
    assert resumed.state == SUCCEEDED and sum(trial.prior for trial in resumed.trials) == 3
    assert any(trial.same_as is not None for trial in resumed.trials)  # a proposal of a setting run before
    assert [trial.params for trial in resumed.trials if not trial.prior and trial.same_as is None] == [
        {"p": 0.4, "q": 0.5, "method": "GA", "mode": "high", "layers": [0]}]
    assert all(item.baseline is not None for kind, item in shown.items() if kind != "pruned")  # twins or prior
    assert all(any(trial.dynamics for trial in item.trials) for kind, item in shown.items() if kind != "cancelled")
    # each sweep's page shows its own runs only, though the list reads every sweep's runs at once
    for item in listed:
        mine = {job.id for job in jobs_of(service, item.id)}
        assert {job_id for trial in item.trials for job_id in trial.job_ids} | set(item.baseline_job_ids) <= mine


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements run on ``db``'s engine meanwhile."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


@contextmanager
def studies_loaded(monkeypatch) -> Iterator[list[str]]:
    """The names of the Optuna studies the views load meanwhile."""
    loaded: list[str] = []

    class Counted(SweepStudy):
        def __init__(self, name, *args, **kwargs) -> None:
            loaded.append(name)
            super().__init__(name, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(backend.sweeps.views, "SweepStudy", Counted)
        yield loaded


def test_the_list_costs_the_same_statements_for_1_or_10_sweeps_and_loads_no_study(service, tiny_model, sst2_dir,
                                                                                   monkeypatch):
    ids = []
    for n in range(10):
        sweep = service.create(sweep_body(tiny_model, sst2_dir, {"p": [0.2, 0.4], "q": [0.3]}, parallel=1 + n % 2))
        if n % 3 == 0:
            run_all(service, sweep.id)
        elif n % 3 == 1:
            service.cancel(sweep.id)
        ids.append(sweep.id)
    with studies_loaded(monkeypatch) as loaded:
        with statements(service.db) as one:
            (single,), total = service.list(limit=1)
        with statements(service.db) as ten:
            page, _ = service.list(limit=10)
        with statements(service.db) as get:
            service.get(ids[0])
    assert total == 10 and single.id == ids[-1] and [item.id for item in page] == ids[::-1]
    assert len(one) == len(ten) and len(get) <= len(one) and loaded == []
    assert {item.state for item in page} == {RUNNING, SUCCEEDED, CANCELLED} and all(item.trials for item in page)


def test_a_trial_half_asked_is_shown_by_neither_the_list_nor_the_page(service, tiny_model, sst2_dir):
    """Optuna writes a new trial's row, then each parameter, apart: a round in the middle of asking leaves a
    trial without its setting in the study, which reads as the space's first values (the list showed p 0.2 for
    a trial Optuna then gave p 0.4). The views read what the last round kept, before or after its asking."""
    body = sweep_body(tiny_model, sst2_dir, {"p": [0.2, 0.4], "q": [0.3]}, parallel=1)
    created = service.create(body)
    before = service.get(created.id).model_dump()
    # a round of another API process, half way through asking its next trial (the sweep's lease is its)
    lease = SweepLease(service.db, created.id)
    assert lease.take()
    url = service.settings.resolved_database_url
    optuna.load_study(study_name=created.study_name, storage=studies.storage(url)).ask()
    half = SweepStudy(created.study_name, url, body.space.model_dump()).trials()[-1]
    assert half.state == "running" and half.params == {} and half.missing == list(PARAMS)  # as yet no setting
    listed, _ = service.list()
    assert [item.model_dump() for item in listed] == [service.get(created.id).model_dump()] == [before]
    lease.release()


def trial_runs(service: SweepService, sweep_id: int) -> dict[int, list[Job]]:
    """The sweep's trial runs by trial number."""
    by_trial: dict[int, list[Job]] = {}
    for job in jobs_of(service, sweep_id):
        if job.sweep_role == "trial":
            by_trial.setdefault(job.trial_number, []).append(job)
    return by_trial


@pytest.mark.parametrize("strategy", ["grid", "tpe"])
@pytest.mark.parametrize("written", ["row", "p"])
def test_a_trial_whose_ask_was_cut_off_never_runs_and_costs_no_setting(service, tiny_model, sst2_dir, strategy,
                                                                       written, caplog):
    """An API process that dies while Optuna writes a new trial (its row, its grid point, then each parameter
    apart) leaves it running with part of its setting. The next round fails it, saying why, and gives it no run
    (reading the rest as the space's first values would run a setting Optuna never proposed); the sweep asks
    another in its place and still runs its whole budget of distinct settings: a grid every point, the cut-off
    trial's too, a search ``max_trials``."""
    body = sweep_body(tiny_model, sst2_dir, {"p": [0.2, 0.4], "q": [0.3, 0.5]}, strategy=strategy, parallel=1,
                      baseline=False, sampler_seed=7, **({"max_trials": 3} if strategy == "tpe" else {}))
    created = service.create(body)
    space = body.space.model_dump()
    url = service.settings.resolved_database_url
    # The round that tells trial 0 dies asking trial 1: right after the trial's row, or after its grid point (a
    # grid's) and p, as that round's own sampler writes them.
    sampler = STRATEGIES[strategy].sampler(space, body.sampler_seed, 1, body.trial_budget()) if written == "p" else None
    cut = optuna.load_study(study_name=created.study_name, storage=studies.storage(url), sampler=sampler).ask()
    if written == "p":
        cut.suggest_categorical("p", STRATEGIES[strategy].distributions(space)["p"].choices)
    half = SweepStudy(created.study_name, url, space).trials()[cut.number]
    assert half.state == "running" and half.missing == [name for name in PARAMS if written != name]
    assert (half.grid_id is not None) == (strategy == "grid" and written == "p")

    with caplog.at_level("WARNING", logger="backend.sweeps"):
        for _ in range(12):
            run_all(service, created.id)
            if service.get(created.id).state != RUNNING:
                break
    out = service.get(created.id)
    by_trial = trial_runs(service, created.id)
    trials = SweepStudy(created.study_name, url, space).trials()
    assert cut.number not in by_trial
    assert trials[cut.number].state == "failed" and trials[cut.number].outcome.startswith("ask interrupted")
    assert f"trial {cut.number} was asked only in part" in caplog.text
    # every run is of a trial asked in full, with the setting Optuna holds for it
    assert all(not trials[number].missing and all(job.spec["addrop"][name] == trials[number].params[name]
                                                  for job in runs for name in PARAMS)
               for number, runs in by_trial.items())
    assert out.state == SUCCEEDED and out.finished == out.budget == body.trial_budget()
    assert len({setting_key(trials[number].params) for number in by_trial}) == body.trial_budget()
    if strategy == "grid":  # every grid point ran, the one the cut-off trial was handed too
        assert len({trials[number].grid_id for number in by_trial}) == 4
        if written == "p":
            assert any(trials[number].grid_id == half.grid_id and trials[number].params["p"] == half.params["p"]
                       for number in by_trial)
    # neither the page nor the list shows the cut-off trial
    assert cut.number not in [trial.number for trial in out.trials]
    assert [item.model_dump() for item in service.list()[0]] == [out.model_dump()]


def test_a_cancel_waits_for_the_round_in_flight(service, tiny_model, sst2_dir):
    created = service.create(sweep_body(tiny_model, sst2_dir, {"p": [0.2, 0.4, 0.6], "q": [0.3]}, parallel=1))
    lease = SweepLease(service.db, created.id)
    assert lease.take()  # a round in flight
    cancelled = []
    canceller = threading.Thread(target=lambda: cancelled.append(service.cancel(created.id)))
    canceller.start()
    time.sleep(0.5)
    assert not cancelled and service.get(created.id).state == RUNNING
    lease.release()  # the round ends
    canceller.join(30)
    (out,) = cancelled
    assert out.state == CANCELLED and [trial.state for trial in out.trials] == ["cancelled"]
    assert [item.model_dump() for item in service.list()[0]] == [out.model_dump()]
    service.rounds.advance(created.id)  # no round takes a cancelled sweep: nothing more is asked
    assert service.get(created.id) == out


def test_a_sweep_from_before_snapshots_has_its_study_read(service, tiny_model, sst2_dir, monkeypatch):
    """A finished sweep's trials are read from its study once, then kept; a running one's come from its study
    until its next round keeps them."""
    finished = service.create(sweep_body(tiny_model, sst2_dir, {"p": [0.2, 0.4], "q": [0.3]}))
    run_all(service, finished.id)
    running = service.create(sweep_body(tiny_model, sst2_dir, {"p": [0.2, 0.4], "q": [0.3]}, parallel=1))
    pages = [service.get(sweep_id).model_dump() for sweep_id in (running.id, finished.id)]
    with service.db.session() as session:
        session.execute(update(Sweep).values(trials_snapshot=None))
    with studies_loaded(monkeypatch) as loaded:
        first, _ = service.list()
        second, _ = service.list()
        service.rounds.advance(running.id)
        third, _ = service.list()
    assert loaded == [running.study_name, finished.study_name, running.study_name]
    assert [item.model_dump() for item in first] == [item.model_dump() for item in second] == pages
    assert [item.model_dump() for item in third] == [service.get(sweep_id).model_dump()
                                                     for sweep_id in (running.id, finished.id)]
    assert [item.trials for item in third] == [item.trials for item in first]


@pytest.mark.parametrize("sampler_seed", [0, 7])
def test_a_grid_with_repeated_settings_finishes_without_a_failed_round(service, tiny_model, sst2_dir, sampler_seed,
                                                                       caplog):
    """Random attribution has no high or low end, so a grid over RD's modes hands out each setting twice. With one
    trial in flight, the round that hands out the last grid point hands it to a repeat of a setting that already
    finished, and tells the study so right away; that tell must not reach the grid sampler the round asked with
    (its ``after_trial`` stops an optimize loop once the grid is used up, and there is none: the round failed)."""
    space = {"p": [0.2, 0.4, 0.6], "q": [0.3], "method": ["RD"], "mode": ["high", "low"]}
    body = sweep_body(tiny_model, sst2_dir, space, parallel=1, baseline=False, sampler_seed=sampler_seed)
    with caplog.at_level("ERROR", logger="backend.sweeps"):
        created = service.create(body)
        for _ in range(8):
            for job in jobs_of(service, created.id):
                if job.state in (QUEUED, RUNNING):
                    run(service, job, SUCCEEDED, 0.7 + job.id / 100)
            service.rounds.advance_all()  # as the API runs its rounds: one that fails is logged, not raised
            if service.get(created.id).state != RUNNING:
                break
    assert [record.getMessage() for record in caplog.records if record.levelname == "ERROR"] == []
    out = service.get(created.id)
    assert out.state == SUCCEEDED and out.finished == out.budget == 6
    trials = SweepStudy(created.study_name, service.settings.resolved_database_url, body.space.model_dump()).trials()
    assert sorted(trial.grid_id for trial in trials) == list(range(6))  # every grid point, each once
    assert all(trial.state == "complete" for trial in trials)
    by_trial = trial_runs(service, created.id)
    originals = [trial for trial in trials if trial.same_as is None]
    assert sorted(trial.number for trial in originals) == sorted(by_trial)  # a repeat shares its original's runs
    assert sorted(trial.params["p"] for trial in originals) == [0.2, 0.4, 0.6]
    assert all(trial.value == trials[trial.same_as].value for trial in trials if trial.same_as is not None)
