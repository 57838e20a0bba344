"""Deleting jobs and sweeps, and checkpoint retention, against real files and a real database (SQLite and
PostgreSQL): what a delete or a prune removes is gone from disk and from every table, what it must keep stays,
and a delete killed half-way is finished by the next start."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import optuna
import pytest
from sqlalchemy import func, select, text

from jobstore import studies
from jobstore.database import Database
from jobstore.deletion import NotDeletable, delete_job, delete_sweep, finish_deletions
from jobstore.orm import Job, LogLine, MetricPoint, Sweep, utcnow
from jobstore.outputs import remove_if_empty
from jobstore.retention import prune_checkpoints, remove_failed_checkpoints
from jobstore.settings import StoreSettings
from tests.browser import ROOT
from tests.jobs_stack import postgres_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """(database, settings) on a fresh SQLite file or PostgreSQL schema, with job outputs under tmp_path."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'studio.db'}"
        db = Database(url)
        db.migrate()
        yield db, StoreSettings(data_dir=tmp_path / "data", database_url=url)
        db.dispose()
        return
    with postgres_schema("upkeep") as url:
        db = Database(url)
        db.migrate()
        yield db, StoreSettings(data_dir=tmp_path / "data", database_url=url)
        db.dispose()


def add_job(db: Database, settings: StoreSettings, state: str = "succeeded", finished_minutes_ago: float = 0,
            sweep_id: int | None = None, keep: bool = False, files: int = 0) -> int:
    """A job row with two metric points and a log line, and the files a finished run leaves: ``best/`` (the
    checkpoint), its zip, metrics.json, dynamics; ``files`` more small files under ``dynamics/``."""
    with db.session() as session:
        job = Job(name="j", state=state, spec={"model": "minilm", "data": {"source": "hub", "task": "sst2"}},
                  config={"epochs": 1}, task="sst2", model="m", metric_name="accuracy",
                  sweep_id=sweep_id, sweep_role="trial" if sweep_id else None, keep=keep,
                  finished_at=utcnow() - timedelta(minutes=finished_minutes_ago) if state != "running" else None)
        session.add(job)
        session.flush()
        job_id = job.id
        job.checkpoint = f"job-{job_id}/best"
        session.add_all([MetricPoint(job_id=job_id, kind="eval", step=s, epoch=1.0, values={"accuracy": 0.5})
                         for s in (1, 2)])
        session.add(LogLine(job_id=job_id, message="done"))
    folder = settings.job_dir(job_id)
    (folder / "best").mkdir(parents=True)
    (folder / "best" / "model.safetensors").write_bytes(os.urandom(4096))
    (folder / "best.zip").write_bytes(b"PK")
    (folder / "metrics.json").write_text("{}")
    (folder / "dynamics").mkdir()
    for index in range(files):
        (folder / "dynamics" / f"epoch-{index}.npz").write_bytes(b"x")
    return job_id


def rows(db: Database, job_ids: list[int]) -> dict[str, int]:
    """How many rows of these jobs each table holds."""
    with db.session() as session:
        return {table.__tablename__: session.scalar(select(func.count()).select_from(table).where(
            (table.id if table is Job else table.job_id).in_(job_ids))) for table in (Job, MetricPoint, LogLine)}


def test_a_finished_job_is_deleted_with_its_files_and_rows_and_others_stay(store):
    db, settings = store
    gone, other = add_job(db, settings), add_job(db, settings, state="failed")
    delete_job(db, settings, gone)
    assert not settings.job_dir(gone).exists()
    assert rows(db, [gone]) == {"jobs": 0, "metric_points": 0, "log_lines": 0}
    assert rows(db, [other]) == {"jobs": 1, "metric_points": 2, "log_lines": 1}
    assert (settings.job_dir(other) / "best" / "model.safetensors").is_file()
    with pytest.raises(LookupError):
        delete_job(db, settings, gone)


@pytest.mark.parametrize("state", ["queued", "running"])
def test_an_unfinished_job_or_a_sweeps_run_is_not_deleted(store, state):
    db, settings = store
    job_id = add_job(db, settings, state=state)
    with pytest.raises(NotDeletable, match="cancel it first"):
        delete_job(db, settings, job_id)
    sweep_id = add_sweep(db, settings, state="succeeded")
    run = add_job(db, settings, sweep_id=sweep_id)
    with pytest.raises(NotDeletable, match=f"delete the sweep"):
        delete_job(db, settings, run)
    assert rows(db, [job_id, run]) == {"jobs": 2, "metric_points": 4, "log_lines": 2}
    assert settings.job_dir(job_id).is_dir() and settings.job_dir(run).is_dir()


def add_sweep(db: Database, settings: StoreSettings, state: str = "succeeded", trials: int = 0) -> int:
    """A sweep row with its Optuna study in the same database, ``trials`` of them finished."""
    study_name = f"test-{uuid.uuid4().hex}"
    study = optuna.create_study(study_name=study_name, storage=studies.storage(settings.resolved_database_url),
                                direction="maximize")
    for number in range(trials):
        trial = study.ask({"p": optuna.distributions.FloatDistribution(0.1, 0.9)})
        study.tell(trial, 0.5 + number / 100)
    with db.session() as session:
        sweep = Sweep(name="s", state=state, spec={}, base_config={}, study_name=study_name, task="sst2", model="m",
                      metric_name="accuracy")
        session.add(sweep)
        session.flush()
        return sweep.id


def study_rows(db: Database, study_name: str) -> dict[str, int]:
    """Rows of Optuna's own tables that belong to the study."""
    with db.engine.connect() as connection:
        study_id = connection.execute(text("SELECT study_id FROM studies WHERE study_name = :name"),
                                      {"name": study_name}).scalar()
        counts = {"studies": int(study_id is not None)}
        for table in ("trials", "study_directions"):
            counts[table] = connection.execute(text(f"SELECT count(*) FROM {table} WHERE study_id = :id"),
                                               {"id": study_id}).scalar()
        counts["trial_values"] = connection.execute(text(
            "SELECT count(*) FROM trial_values JOIN trials ON trials.trial_id = trial_values.trial_id "
            "WHERE trials.study_id = :id"), {"id": study_id}).scalar()
    return counts


def test_a_sweep_is_deleted_with_every_run_its_files_and_its_study(store):
    db, settings = store
    sweep_id, kept_sweep = add_sweep(db, settings, trials=3), add_sweep(db, settings, trials=2)
    runs = [add_job(db, settings, sweep_id=sweep_id) for _ in range(3)]
    others = [add_job(db, settings, sweep_id=kept_sweep), add_job(db, settings)]
    with db.session() as session:
        name, kept_name = (session.get(Sweep, i).study_name for i in (sweep_id, kept_sweep))
    assert study_rows(db, name) == {"studies": 1, "trials": 3, "study_directions": 1, "trial_values": 3}

    delete_sweep(db, settings, sweep_id)
    assert rows(db, runs) == {"jobs": 0, "metric_points": 0, "log_lines": 0}
    assert not any(settings.job_dir(job_id).exists() for job_id in runs)
    with db.session() as session:
        assert session.get(Sweep, sweep_id) is None
    assert study_rows(db, name) == {"studies": 0, "trials": 0, "study_directions": 0, "trial_values": 0}
    assert name not in optuna.get_all_study_names(studies.storage(settings.resolved_database_url))
    # the other sweep, its study and run, and a job of no sweep are untouched
    assert study_rows(db, kept_name) == {"studies": 1, "trials": 2, "study_directions": 1, "trial_values": 2}
    assert rows(db, others) == {"jobs": 2, "metric_points": 4, "log_lines": 2}
    assert all((settings.job_dir(job_id) / "best").is_dir() for job_id in others)


def test_a_running_sweep_or_one_with_jobs_still_stopping_is_not_deleted(store):
    db, settings = store
    running = add_sweep(db, settings, state="running")
    with pytest.raises(NotDeletable, match="cancel it first"):
        delete_sweep(db, settings, running)
    cancelled = add_sweep(db, settings, state="cancelled")
    stopping = add_job(db, settings, state="running", sweep_id=cancelled)
    with pytest.raises(NotDeletable, match="1 of sweep .* jobs have not stopped yet"):
        delete_sweep(db, settings, cancelled)
    assert rows(db, [stopping])["jobs"] == 1 and settings.job_dir(stopping).is_dir()


def test_a_delete_killed_half_way_is_finished_by_the_next_start(store):
    db, settings = store
    job_id = add_job(db, settings, files=30000)  # enough files that removing them takes a while
    env = {**os.environ, "ADDROP_DATA_DIR": str(settings.data_dir), "ADDROP_DATABASE_URL": settings.resolved_database_url}
    script = ("from jobstore.deletion import delete_job; from jobstore.database import Database; "
              "from jobstore.settings import get_store_settings as s; "
              f"delete_job(Database(s().resolved_database_url), s(), {job_id})")
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            with db.session() as session:
                if session.scalar(select(Job.deleting).where(Job.id == job_id)):
                    break
            assert time.monotonic() < deadline and process.poll() is None, "the delete never marked the job"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)  # mid-delete: marked, its files going
    finally:
        process.wait()
    assert settings.job_dir(job_id).is_dir(), "the delete finished before it was killed: kill it earlier"
    assert rows(db, [job_id])["jobs"] == 1  # still there, marked: every read already treats it as gone

    assert finish_deletions(db, settings) == 1
    assert not settings.job_dir(job_id).exists()
    assert rows(db, [job_id]) == {"jobs": 0, "metric_points": 0, "log_lines": 0}
    assert finish_deletions(db, settings) == 0


def test_retention_keeps_the_newest_and_the_kept_checkpoints_and_nothing_else_goes(store):
    db, settings = store
    # six finished jobs, oldest first; the oldest is marked keep; one failed job holds no checkpoint
    jobs = [add_job(db, settings, finished_minutes_ago=60 - minute, keep=minute == 0) for minute in range(6)]
    settings.keep_checkpoints = 2
    pruned = prune_checkpoints(db, settings)
    assert sorted(pruned) == jobs[1:4]
    with db.session() as session:
        by_id = {job.id: job for job in session.scalars(select(Job).where(Job.id.in_(jobs)))}
    for job_id in jobs:
        folder = settings.job_dir(job_id)
        removed = job_id in pruned
        assert (folder / "best").exists() is not removed and (folder / "best.zip").exists() is not removed
        assert (by_id[job_id].checkpoint is None) is removed
        assert (by_id[job_id].checkpoint_pruned_at is not None) is removed
        assert (folder / "metrics.json").is_file() and (folder / "dynamics").is_dir()  # only the checkpoint goes
    assert rows(db, jobs) == {"jobs": 6, "metric_points": 12, "log_lines": 6}

    assert prune_checkpoints(db, settings) == []  # nothing more to do
    newest = add_job(db, settings)  # a new job pushes the older of the two newest out
    assert prune_checkpoints(db, settings) == [jobs[4]]
    settings.keep_checkpoints = None  # unset: nothing is pruned
    add_job(db, settings, finished_minutes_ago=-1)
    assert prune_checkpoints(db, settings) == [] and settings.job_dir(newest).joinpath("best").is_dir()


def test_a_prune_cut_short_is_finished_by_the_next_round(store):
    db, settings = store
    job_id = add_job(db, settings)
    with db.session() as session:  # what a round that died after its mark leaves
        session.get(Job, job_id).checkpoint_pruned_at = utcnow()
    assert prune_checkpoints(db, settings) == [job_id]
    assert not (settings.job_dir(job_id) / "best").exists()


def with_epoch_checkpoints(settings: StoreSettings, job_id: int, only: bool = False) -> Path:
    """Give job ``job_id`` the epoch checkpoints a run killed mid-way leaves (``only``: nothing else)."""
    folder = settings.job_dir(job_id)
    if only:
        shutil.rmtree(folder)
    (folder / "checkpoints" / "checkpoint-3").mkdir(parents=True)
    (folder / "checkpoints" / "checkpoint-3" / "model.safetensors").write_bytes(os.urandom(4096))
    return folder / "checkpoints"


def test_the_epoch_checkpoints_a_dead_workers_job_left_go_once_nothing_can_resume_them(store):
    db, settings = store
    settings.job_lease_seconds = 60
    plain, fresh, succeeded = (add_job(db, settings, state=state, finished_minutes_ago=minutes)
                               for state, minutes in (("failed", 10), ("failed", 0), ("succeeded", 10)))
    bare = add_job(db, settings, state="failed", finished_minutes_ago=10)
    going, ended = add_sweep(db, settings, state="running"), add_sweep(db, settings, state="succeeded")
    in_going, in_ended = (add_job(db, settings, state="failed", finished_minutes_ago=10, sweep_id=sweep)
                          for sweep in (going, ended))
    left = {job: with_epoch_checkpoints(settings, job, only=job == bare)
            for job in (plain, fresh, succeeded, bare, in_going, in_ended)}

    assert sorted(remove_failed_checkpoints(db, settings, "checkpoints")) == sorted([plain, bare, in_ended])
    for job, checkpoints in left.items():
        assert checkpoints.exists() is (job in (fresh, succeeded, in_going)), job
    assert (settings.job_dir(plain) / "metrics.json").is_file()  # only the checkpoints go
    assert not settings.job_dir(bare).exists()  # nothing else was there: no empty folder stays
    assert rows(db, list(left)) == {"jobs": 6, "metric_points": 12, "log_lines": 6}
    assert remove_failed_checkpoints(db, settings, "checkpoints") == []


def test_only_an_empty_folder_is_removed(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "predictions.jsonl").write_text("{}")
    assert remove_if_empty(tmp_path / "empty") and not (tmp_path / "empty").exists()
    assert not remove_if_empty(tmp_path / "full") and (tmp_path / "full" / "predictions.jsonl").is_file()
    assert remove_if_empty(tmp_path / "never-made")
