"""The API's sweep service on a fresh SQLite or PostgreSQL database, with no queue and no background rounds, and
the helpers that move its runs as a worker would: fixtures (``service``, ``tiny_model``) shared by the sweep tests
through ``pytest_plugins`` in conftest.py."""

from __future__ import annotations

from typing import Iterator

import pytest
from sqlalchemy import update

from backend.job_specs import JobSpecs
from backend.jobs import JobService
from backend.schemas.sweeps import SweepCreate
from backend.settings import Settings
from backend.sweeps.service import SweepService
from backend.workers import WorkerRegistry
from jobstore.database import Database
from jobstore.orm import QUEUED, Job, MetricPoint
from tests.jobs_stack import migrated_postgres
from tests.tiny_models import save_tiny_model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, tmp_path) -> Iterator[SweepService]:
    """The API's sweep service on a fresh database; its jobs go to no queue (no worker runs them: the tests
    set their states as a worker would)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'studio.db'}"
        db = Database(url)
        db.migrate()
        yield sweeps_on(db, url, tmp_path)
        db.dispose()
        return
    with migrated_postgres("sweep_list") as db:
        yield sweeps_on(db, db.engine.url.render_as_string(hide_password=False), tmp_path)


def sweeps_on(db: Database, url: str, data_dir) -> SweepService:
    settings = Settings(data_dir=data_dir, database_url=url)
    specs = JobSpecs(db, settings, WorkerRegistry(db, settings))
    return SweepService(JobService(db, settings, specs, enqueue=lambda job_id: None))


def sweep_body(model, data, space: dict, **fields) -> SweepCreate:
    base = {"model": str(model), "data": {"source": "directory", "task": "sst2", "data_dir": str(data)},
            "training": {"epochs": 2, "device": "cpu"}, "addrop": {"method": "GA", "layers": [0]}}
    return SweepCreate.model_validate({"base": base, "space": space, "seeds": [1, 2], "pruning": {"kind": "none"},
                                       **fields})


def jobs_of(service: SweepService, sweep_id: int) -> list[Job]:
    with service.db.session() as session:
        return list(session.query(Job).filter(Job.sweep_id == sweep_id).order_by(Job.id))


def run(service: SweepService, job: Job, state: str, metric: float | None = None) -> None:
    """What a worker leaves of a run: its state, best dev metric and a dynamics point per epoch so far."""
    with service.db.session() as session:
        session.execute(update(Job).where(Job.id == job.id).values(state=state, best_metric=metric))
        for epoch in (1, 2) if state != QUEUED else ():
            session.add(MetricPoint(job_id=job.id, kind="dynamics", step=epoch, epoch=epoch,
                                    values={"concentration_L0": 0.1 * epoch + job.id / 1000, "reliance": 0.2 * epoch}))
