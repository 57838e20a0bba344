"""The schema moves forward only through migrations: a database made before migrations existed (tables from
create_all, no version) and one at the first revision are upgraded with their jobs, points and log intact."""

from __future__ import annotations

import uuid
from contextlib import nullcontext

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, select, text

from jobstore.database import MIGRATIONS, Database
from jobstore.orm import Base, Job, LogLine, MetricPoint, Sweep
from tests.jobs_stack import postgres_schema

# What the first release's create_all made on SQLite (read off a database it created).
PRE_MIGRATION_SQLITE = """
CREATE TABLE jobs (id INTEGER NOT NULL, name VARCHAR(200) NOT NULL, state VARCHAR(16) NOT NULL, spec JSON NOT NULL,
  config JSON NOT NULL, task VARCHAR(200) NOT NULL, model VARCHAR(500) NOT NULL, metric_name VARCHAR(64) NOT NULL,
  created_at DATETIME NOT NULL, started_at DATETIME, finished_at DATETIME, heartbeat_at DATETIME,
  cancel_requested BOOLEAN NOT NULL, worker VARCHAR(200), epoch FLOAT NOT NULL, step INTEGER NOT NULL,
  max_steps INTEGER NOT NULL, eta_seconds FLOAT, best_metric FLOAT, best_epoch FLOAT, final_metrics JSON,
  checkpoint VARCHAR(1000), error TEXT, revision INTEGER NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_jobs_state ON jobs (state);
CREATE TABLE uploads (id VARCHAR(32) NOT NULL, filename VARCHAR(300) NOT NULL, path VARCHAR(1000) NOT NULL,
  size BIGINT NOT NULL, columns JSON NOT NULL, rows INTEGER NOT NULL, created_at DATETIME NOT NULL, PRIMARY KEY (id));
CREATE TABLE metric_points (id INTEGER NOT NULL, job_id INTEGER NOT NULL, kind VARCHAR(8) NOT NULL, step INTEGER NOT NULL,
  epoch FLOAT NOT NULL, "values" JSON NOT NULL, created_at DATETIME NOT NULL, PRIMARY KEY (id),
  FOREIGN KEY(job_id) REFERENCES jobs (id) ON DELETE CASCADE);
CREATE INDEX ix_metric_points_job_id_id ON metric_points (job_id, id);
CREATE TABLE log_lines (id INTEGER NOT NULL, job_id INTEGER NOT NULL, created_at DATETIME NOT NULL, level VARCHAR(8) NOT NULL,
  message TEXT NOT NULL, PRIMARY KEY (id), FOREIGN KEY(job_id) REFERENCES jobs (id) ON DELETE CASCADE);
CREATE INDEX ix_log_lines_job_id_id ON log_lines (job_id, id);
"""
NOW = "2026-11-20 10:00:00"


def fill_old(connection) -> None:
    for number in (1, 2):
        job_id = connection.execute(text(
            "INSERT INTO jobs (name, state, spec, config, task, model, metric_name, created_at, cancel_requested, "
            "epoch, step, max_steps, best_metric, revision) VALUES (:name, 'succeeded', '{}', '{\"epochs\": 2}', "
            "'mrpc', 'minilm', 'f1', :now, false, 2.0, 460, 460, 0.82, 7) RETURNING id"),
            {"name": f"old {number}", "now": NOW}).scalar_one()
        for step in (10, 20):
            connection.execute(text("INSERT INTO metric_points (job_id, kind, step, epoch, \"values\", created_at) VALUES "
                                    "(:job, 'step', :step, 0.5, '{\"loss\": 0.6}', :now)"), {"job": job_id, "step": step, "now": NOW})
        connection.execute(text("INSERT INTO log_lines (job_id, created_at, level, message) VALUES (:job, :now, 'INFO', 'done')"),
                           {"job": job_id, "now": NOW})


def check_upgraded(db: Database) -> None:
    assert db.schema_revision() == "0011"
    columns = {table: {c["name"] for c in inspect(db.engine).get_columns(table)} for table in Base.metadata.tables}
    for table in Base.metadata.sorted_tables:
        assert columns[table.name] == set(table.c.keys()), table.name
    with db.session() as session:
        jobs = session.scalars(select(Job).order_by(Job.id)).all()
        assert [(j.name, j.best_metric, j.sweep_id, j.config, j.config_version) for j in jobs] == [
            ("old 1", 0.82, None, {"epochs": 2}, 1), ("old 2", 0.82, None, {"epochs": 2}, 1)]
        # jobs from before retention and deletes: none kept, none pruned, none being deleted; nor do they say what
        # trained them
        assert {(j.keep, j.checkpoint_pruned_at, j.deleting, j.environment) for j in jobs} == {
            (False, None, False, None)}
        assert len(session.scalars(select(MetricPoint)).all()) == 4
        assert len(session.scalars(select(LogLine)).all()) == 2
        sweep = Sweep(name="s", state="running", spec={}, base_config={}, study_name=uuid.uuid4().hex, task="mrpc",
                      model="minilm", metric_name="f1")
        session.add(sweep)
        session.flush()
        session.add(Job(name="trial", spec={}, config={}, task="mrpc", model="minilm", metric_name="f1",
                        sweep_id=sweep.id, sweep_role="trial", trial_number=0, seed_index=0))
    db.migrate()  # a second start changes nothing
    assert db.schema_revision() == "0011"


def test_a_database_from_before_migrations_is_stamped_and_upgraded(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'studio.db'}")
    with db.engine.begin() as connection:
        for statement in PRE_MIGRATION_SQLITE.split(";"):
            if statement.strip():
                connection.execute(text(statement))
        fill_old(connection)
    assert db.schema_revision() is None
    db.migrate()
    check_upgraded(db)
    # Optuna keeps its own Alembic version table in the same database; ours is apart from it.
    assert "alembic_version" not in inspect(db.engine).get_table_names()


@pytest.fixture()
def postgres_url():
    with postgres_schema("migrate") as url:
        yield url


def test_a_postgresql_database_at_the_first_revision_is_upgraded(postgres_url):
    db = Database(postgres_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.commit()
    with db.engine.begin() as connection:
        fill_old(connection)
    assert db.schema_revision() == "0001"
    db.migrate()
    check_upgraded(db)
    db.dispose()


def alembic(db: Database, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)
        connection.commit()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_going_back_past_0008_gives_sweep_runs_their_optuna_trial_ids_again(backend, tmp_path):
    # the code before 0008 prunes a sweep's run through jobs.trial_id: a downgrade must not leave it empty
    import optuna

    from jobstore import studies

    with (postgres_schema("downgrade") if backend == "postgresql" else nullcontext(f"sqlite:///{tmp_path / 's.db'}")) as url:
        db = Database(url)
        db.migrate()
        alembic(db, "downgrade", "0007")  # no study in the database yet: nothing to fill in
        alembic(db, "upgrade", "head")
        name = uuid.uuid4().hex
        study = optuna.create_study(study_name=name, storage=studies.storage(url), direction="maximize")
        for _ in range(3):
            study.ask({"p": optuna.distributions.FloatDistribution(0.1, 0.9)})
        with db.session() as session:
            sweep = Sweep(name="s", state="running", spec={}, base_config={}, study_name=name, task="mrpc",
                          model="minilm", metric_name="f1")
            session.add(sweep)
            session.flush()
            for number, role in ((2, "trial"), (0, "trial"), (None, "baseline")):
                session.add(Job(name=role, spec={}, config={}, task="mrpc", model="minilm", metric_name="f1",
                                sweep_id=sweep.id, sweep_role=role, trial_number=number, seed_index=0))
        alembic(db, "downgrade", "0007")
        with db.engine.connect() as connection:
            got = connection.execute(text("SELECT trial_number, trial_id FROM jobs ORDER BY id")).all()
            expected = {row.number: row.trial_id for row in connection.execute(text(
                "SELECT number, trial_id FROM trials JOIN studies ON studies.study_id = trials.study_id "
                "WHERE study_name = :name"), {"name": name})}
        assert [tuple(row) for row in got] == [(2, expected[2]), (0, expected[0]), (None, None)]
        assert len(set(expected.values())) == 3
        alembic(db, "upgrade", "head")
        assert "trial_id" not in {c["name"] for c in inspect(db.engine).get_columns("jobs")}
        db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_going_back_past_0009_drops_the_trials_snapshot_and_keeps_every_sweep_and_job(backend, tmp_path):
    # a copy of the sweeps table (SQLite's batch mode) would cascade to every job of every sweep
    with (postgres_schema("snapshot") if backend == "postgresql" else nullcontext(f"sqlite:///{tmp_path / 's.db'}")) as url:
        db = Database(url)
        db.migrate()
        with db.session() as session:
            sweep = Sweep(name="s", state="succeeded", spec={}, base_config={}, study_name=uuid.uuid4().hex,
                          task="mrpc", model="minilm", metric_name="f1", trials_snapshot=[{"number": 0}])
            session.add(sweep)
            session.flush()
            session.add(Job(name="trial", spec={}, config={}, task="mrpc", model="minilm", metric_name="f1",
                            sweep_id=sweep.id, sweep_role="trial", trial_number=0, seed_index=0))
        alembic(db, "downgrade", "0008")
        assert "trials_snapshot" not in {c["name"] for c in inspect(db.engine).get_columns("sweeps")}
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM sweeps")).scalar_one() == 1
            assert connection.execute(text("SELECT count(*) FROM jobs WHERE sweep_id IS NOT NULL")).scalar_one() == 1
        alembic(db, "upgrade", "head")
        with db.session() as session:
            assert session.scalars(select(Sweep.trials_snapshot)).all() == [None]  # read from the study again
        db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_going_back_past_0010_drops_the_cancel_mark_and_keeps_every_sweep_and_job(backend, tmp_path):
    with (postgres_schema("cancelmark") if backend == "postgresql" else nullcontext(f"sqlite:///{tmp_path / 's.db'}")) as url:
        db = Database(url)
        db.migrate()
        with db.session() as session:
            sweep = Sweep(name="s", state="running", spec={}, base_config={}, study_name=uuid.uuid4().hex,
                          task="mrpc", model="minilm", metric_name="f1", cancel_requested=True)
            session.add(sweep)
            session.flush()
            session.add(Job(name="trial", spec={}, config={}, task="mrpc", model="minilm", metric_name="f1",
                            sweep_id=sweep.id, sweep_role="trial", trial_number=0, seed_index=0))
        alembic(db, "downgrade", "0009")
        assert "cancel_requested" not in {c["name"] for c in inspect(db.engine).get_columns("sweeps")}
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM sweeps")).scalar_one() == 1
            assert connection.execute(text("SELECT count(*) FROM jobs WHERE sweep_id IS NOT NULL")).scalar_one() == 1
        alembic(db, "upgrade", "head")
        with db.session() as session:
            assert session.scalars(select(Sweep.cancel_requested)).all() == [False]  # as a sweep from before it
        db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_going_back_past_0011_drops_the_environment_and_keeps_every_job_with_its_points(backend, tmp_path):
    # a copy of the jobs table (SQLite's batch mode) would cascade to every metric point and log line
    with (postgres_schema("environment") if backend == "postgresql" else nullcontext(f"sqlite:///{tmp_path / 's.db'}")) as url:
        db = Database(url)
        db.migrate()
        with db.session() as session:
            job = Job(name="ran", spec={}, config={}, task="mrpc", model="minilm", metric_name="f1",
                      environment={"addrop": "0.1.0", "commit": "abc1234"})
            session.add(job)
            session.flush()
            session.add(MetricPoint(job_id=job.id, kind="step", step=1, epoch=0.1, values={"loss": 0.7}))
        alembic(db, "downgrade", "0010")
        assert "environment" not in {c["name"] for c in inspect(db.engine).get_columns("jobs")}
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM jobs")).scalar_one() == 1
            assert connection.execute(text("SELECT count(*) FROM metric_points")).scalar_one() == 1
        alembic(db, "upgrade", "head")
        with db.session() as session:
            assert session.scalars(select(Job.environment)).all() == [None]  # as a job from before it
        db.dispose()


def test_an_older_sqlite_keeps_the_environment_going_back_and_takes_it_up_again(tmp_path, monkeypatch):
    import sqlite3

    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))  # before DROP COLUMN
    db = Database(f"sqlite:///{tmp_path / 's.db'}")
    db.migrate()
    alembic(db, "downgrade", "0010")
    assert "environment" in {c["name"] for c in inspect(db.engine).get_columns("jobs")}
    alembic(db, "upgrade", "head")
    assert db.schema_revision() == "0011"
    db.dispose()
