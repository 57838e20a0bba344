"""The list of sweeps, in process on SQLite and PostgreSQL: it answers as each sweep's own page does, in a fixed
number of SQL statements whatever the page's size, and reads the trials from each sweep's snapshot of them, not
its Optuna study (a sweep from before snapshots has its study read once and its snapshot filled)."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest
from sqlalchemy import event

import backend.sweeps.views
from backend.sweeps.views import SweepViews
from jobstore.database import Database
from jobstore.orm import CANCELLED, PRUNED, QUEUED, RUNNING, SUCCEEDED, Job, MetricPoint, Sweep
from jobstore.strategies import STRATEGIES
from jobstore.studies import SweepStudy, snapshot
from tests.jobs_stack import migrated_postgres

SPACE = {"p": [0.2, 0.4], "q": [0.3, 0.5], "method": ["GA"], "mode": ["high"], "layers": [[0]]}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> Iterator[tuple[Database, str]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'studio.db'}"
        db = Database(url)
        db.migrate()
        yield db, url
        db.dispose()
        return
    with migrated_postgres("sweep_list") as db:
        yield db, db.engine.url.render_as_string(hide_password=False)


def sweep_spec(data_dir, **fields) -> dict:
    base = {"model": "bert-base-uncased", "data": {"source": "directory", "task": "sst2", "data_dir": str(data_dir)},
            "training": {"epochs": 2, "device": "cpu"}, "addrop": {"method": "GA", "layers": [0]}}
    return {"base": base, "space": SPACE, "seeds": [1, 2], "strategy": "tpe", "max_trials": 3, **fields}


def add_sweep(db: Database, url: str, data_dir, state: str, prior: list[dict] | None = None,
              keep_snapshot: bool = True) -> int:
    """A sweep in ``state`` with a study of a completed, a pruned and (while it runs) a running trial, each
    with its runs on two seeds and their last dynamics points, and baseline twins."""
    name = f"addrop-sweep-{uuid.uuid4().hex}"
    spec = sweep_spec(data_dir, prior=prior or [])
    study = SweepStudy.create(name, url, SPACE, STRATEGIES["tpe"], prior or [])
    numbers = [study.ask(STRATEGIES["tpe"], 0, n, 3).number for n in range(3)]
    study.complete(numbers[0], 0.8)
    study.prune(numbers[1])
    if state == CANCELLED:
        study.fail(numbers[2], "cancelled")
    elif state == SUCCEEDED:
        study.complete(numbers[2], 0.7)
    trials = study.trials()
    job_states = {numbers[0]: [SUCCEEDED, SUCCEEDED], numbers[1]: [PRUNED, SUCCEEDED],
                  numbers[2]: {RUNNING: [RUNNING, QUEUED], CANCELLED: [CANCELLED, CANCELLED],
                               SUCCEEDED: [SUCCEEDED, SUCCEEDED]}[state]}
    with db.session() as session:
        sweep = Sweep(name=f"{state} sweep", state=state, spec=spec, base_config={}, study_name=name, task="sst2",
                      model="bert-base-uncased", metric_name="accuracy",
                      trials_snapshot=snapshot(trials) if keep_snapshot else None)
        session.add(sweep)
        session.flush()
        runs = [(("trial", number), states) for number, states in job_states.items()]
        runs.append((("baseline", None), [SUCCEEDED, SUCCEEDED if state != RUNNING else QUEUED]))
        for (role, number), states in runs:
            for index, job_state in enumerate(states):
                job = Job(name=f"{role} {number} seed {index}", state=job_state, task="sst2",
                          spec={**spec["base"], "training": {"seed": index + 1}}, config={},
                          model="bert-base-uncased", metric_name="accuracy", sweep_id=sweep.id, sweep_role=role,
                          trial_number=number, seed_index=index,
                          best_metric=0.6 + 0.05 * index if job_state in (SUCCEEDED, PRUNED) else None)
                session.add(job)
                session.flush()
                for epoch in (1, 2) if job_state != QUEUED else ():
                    session.add(MetricPoint(job_id=job.id, kind="dynamics", step=epoch, epoch=epoch,
                                            values={"concentration_L0": 0.1 * epoch + 0.01 * index,
                                                    "reliance": 0.2 * epoch}))
        return sweep.id


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


PRIOR = [{"params": {"p": 0.4, "q": 0.5}, "values": [0.9, 0.92]}]


def test_the_list_answers_as_each_sweeps_page(database, sst2_dir, tmp_path):
    db, url = database
    views = SweepViews(db, url, tmp_path)
    ids = [add_sweep(db, url, sst2_dir, RUNNING), add_sweep(db, url, sst2_dir, SUCCEEDED, prior=PRIOR),
           add_sweep(db, url, sst2_dir, CANCELLED), add_sweep(db, url, sst2_dir, RUNNING, prior=PRIOR)]
    listed, total = views.list()
    assert total == 4 and [item.id for item in listed] == ids[::-1]
    assert [item.model_dump() for item in listed] == [views.get(sweep_id).model_dump() for sweep_id in ids[::-1]]
    # what the sweeps hold: trials in each state, prior ones, runs with their dynamics, baseline twins
    states = {item.state: sorted(trial.state for trial in item.trials) for item in listed}
    assert states == {RUNNING: ["complete", "pruned", "running"], SUCCEEDED: ["complete", "complete", "complete", "pruned"],
                      CANCELLED: ["cancelled", "complete", "pruned"]}
    assert sum(trial.prior for item in listed for trial in item.trials) == 2
    assert all(item.baseline_dynamics is not None and any(trial.dynamics for trial in item.trials) for item in listed)
    page, _ = views.list(limit=2, offset=1)
    assert [item.model_dump() for item in page] == [item.model_dump() for item in listed[1:3]]


def test_the_list_costs_the_same_statements_for_1_or_10_sweeps_and_loads_no_study(database, sst2_dir, tmp_path,
                                                                                    monkeypatch):
    db, url = database
    views = SweepViews(db, url, tmp_path)
    states = [RUNNING, SUCCEEDED, CANCELLED]
    ids = [add_sweep(db, url, sst2_dir, states[n % 3], prior=PRIOR if n % 2 else None) for n in range(10)]
    with studies_loaded(monkeypatch) as loaded:
        with statements(db) as one:
            (single,), total = views.list(limit=1)
        with statements(db) as ten:
            page, _ = views.list(limit=10)
    assert total == 10 and single.id == ids[-1] and [item.id for item in page] == ids[::-1]
    assert len(one) == len(ten) and loaded == []
    assert all(len(item.trials) >= 3 and item.counts for item in page)


def test_a_sweep_without_a_snapshot_has_its_study_read_once(database, sst2_dir, tmp_path, monkeypatch):
    db, url = database
    views = SweepViews(db, url, tmp_path)
    old = add_sweep(db, url, sst2_dir, SUCCEEDED, prior=PRIOR, keep_snapshot=False)
    kept = add_sweep(db, url, sst2_dir, CANCELLED)
    with studies_loaded(monkeypatch) as loaded:
        first, _ = views.list()
        second, _ = views.list()
    with db.session() as session:
        study_name = session.get(Sweep, old).study_name
    assert loaded == [study_name]  # the old sweep's, on the first list only
    assert [item.model_dump() for item in first] == [item.model_dump() for item in second] == [
        views.get(kept).model_dump(), views.get(old).model_dump()]
