"""The API's side of disk upkeep on a real database (SQLite and PostgreSQL) and real files: deleting jobs and
sweeps, the keep flag, what a job says once retention removed its checkpoint, and the data directory's size in
health."""

from __future__ import annotations

import os
import subprocess

import pytest
from fastapi.testclient import TestClient

from backend.disk_usage import DiskUsage, tree_bytes
from backend.main import create_app
from backend.settings import Settings
from tests.jobs_stack import postgres_schema
from tests.test_disk_upkeep import add_job, add_sweep


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request, tmp_path):
    """(client, app) on a fresh database, keeping the checkpoints of the newest finished job only."""
    def start(url: str | None):
        settings = Settings(data_dir=tmp_path / "data", database_url=url, keep_checkpoints=1, embedded_worker=False)
        return TestClient(create_app(settings))

    if request.param == "sqlite":
        with start(None) as client:
            yield client, client.app
        return
    with postgres_schema("diskapi") as url, start(url) as client:
        yield client, client.app
        client.app.state.jobs.db.dispose()


def test_a_finished_job_is_deleted_and_gone_from_every_answer(api):
    client, app = api
    db, settings = app.state.jobs.db, app.state.settings
    job_id = add_job(db, settings)
    assert client.get(f"/api/jobs/{job_id}").status_code == 200
    answer = client.delete(f"/api/jobs/{job_id}")
    assert answer.status_code == 204 and answer.content == b""
    assert client.get(f"/api/jobs/{job_id}").status_code == 404
    assert client.get(f"/api/jobs/{job_id}/log").status_code == 404
    assert job_id not in [job["id"] for job in client.get("/api/jobs").json()["items"]]
    assert not settings.job_dir(job_id).exists()
    again = client.delete(f"/api/jobs/{job_id}")
    assert again.status_code == 404 and again.json() == {"detail": f"there is no job {job_id}"}


def test_a_queued_or_running_job_is_refused_with_409_and_kept(api):
    client, app = api
    for state in ("queued", "running"):
        job_id = add_job(app.state.jobs.db, app.state.settings, state=state)
        answer = client.delete(f"/api/jobs/{job_id}")
        assert answer.status_code == 409 and "cancel it first" in answer.json()["detail"]
        assert client.get(f"/api/jobs/{job_id}").json()["state"] == state


def test_a_sweep_is_deleted_with_its_runs_and_a_run_alone_is_not(api):
    client, app = api
    db, settings = app.state.jobs.db, app.state.settings
    running = add_sweep(db, settings, state="running")
    refused = client.delete(f"/api/sweeps/{running}")
    assert refused.status_code == 409 and "cancel it first" in refused.json()["detail"]
    sweep_id = add_sweep(db, settings, state="cancelled", trials=1)
    run = add_job(db, settings, sweep_id=sweep_id)
    alone = client.delete(f"/api/jobs/{run}")
    assert alone.status_code == 409 and f"delete the sweep" in alone.json()["detail"]
    assert client.delete(f"/api/sweeps/{sweep_id}").status_code == 204
    assert client.get(f"/api/sweeps/{sweep_id}").status_code == 404
    assert client.get(f"/api/jobs/{run}").status_code == 404 and not settings.job_dir(run).exists()


def test_keep_survives_retention_and_a_pruned_job_says_so(api):
    client, app = api
    db, settings = app.state.jobs.db, app.state.settings
    # marked while it is still the newest job: the app's own upkeep loop runs retention every few seconds, and on
    # a loaded machine a round between adding the jobs and marking this one took its checkpoint first
    kept = add_job(db, settings, finished_minutes_ago=30)
    marked = client.patch(f"/api/jobs/{kept}", json={"keep": True})
    assert marked.status_code == 200 and marked.json()["keep"] is True
    for body in ({"keep": "yes"}, {"keep": True, "name": "x"}, {}):
        assert client.patch(f"/api/jobs/{kept}", json=body).status_code == 422, body
    pruned, newest = (add_job(db, settings, finished_minutes_ago=minutes) for minutes in (20, 10))
    app.state.jobs.tidy()  # the round the app's upkeep loop runs every few seconds
    views = {job_id: client.get(f"/api/jobs/{job_id}").json() for job_id in (kept, pruned, newest)}
    assert views[pruned]["checkpoint_pruned_at"] is not None and not views[pruned]["checkpoint_available"]
    assert views[pruned]["explorer_model"] is None
    assert client.get(f"/api/jobs/{pruned}/checkpoint").status_code == 409
    assert client.get(f"/api/jobs/{pruned}/metrics").json()  # its metrics stay
    for job_id in (kept, newest):
        assert views[job_id]["checkpoint_available"] and views[job_id]["checkpoint_pruned_at"] is None
    assert f"job-{pruned}" not in {model["name"] for model in client.get("/api/models").json()}


def test_health_reports_the_data_directory_size(api):
    client, app = api
    add_job(app.state.jobs.db, app.state.settings)
    health = client.get("/api/health").json()
    assert health["data_dir_bytes"] > 4096 and health["disk_free_bytes"] > 0


def test_the_size_is_what_du_counts_and_is_cached(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "weights").write_bytes(os.urandom(300_000))
    (tmp_path / "small").write_text("x")
    du = int(subprocess.run(["du", "-s", "-B1", str(tmp_path)], capture_output=True, text=True, check=True)
             .stdout.split()[0])
    assert tree_bytes(tmp_path) == du and tree_bytes(tmp_path / "missing") == 0
    usage = DiskUsage(tmp_path, cache_seconds=3600)
    first = usage.bytes()
    (tmp_path / "more").write_bytes(os.urandom(100_000))
    assert usage.bytes() == first  # cached: health does not walk the disk on every call
    assert DiskUsage(tmp_path, cache_seconds=0).bytes() >= first + 100_000
