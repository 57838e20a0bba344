"""Disk upkeep with real workers, on Redis + PostgreSQL and on the embedded default: retention after several
jobs (the newest and the kept checkpoints stay), a cancelled job keeps no checkpoint, and a deleted sweep leaves
no file or row of its runs and no Optuna study."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select, text

from jobstore.database import Database
from jobstore.orm import FINISHED, Job, LogLine, MetricPoint, Sweep
from tests.jobs_stack import job_request, make_sst2_slice, running_stack, wait_for
from tests.tiny_models import save_tiny_model

KEEP = 2


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def sst2(shared_data, tmp_path_factory):
    return make_sst2_slice(shared_data, tmp_path_factory.mktemp("sst2"), train=48, validation=16)


@pytest.fixture(scope="module", params=["redis-postgres", "embedded"])
def stack(request, tmp_path_factory):
    yield from running_stack(request.param, tmp_path_factory.mktemp(request.param),
                             {"ADDROP_KEEP_CHECKPOINTS": str(KEEP)})


def database(stack) -> Database:
    return Database(stack.env.get("DATABASE_URL") or f"sqlite:///{stack.root / 'data' / 'studio.db'}")


def submit(client: httpx.Client, body: dict) -> int:
    answer = client.post("/api/jobs", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def finished(client: httpx.Client, job_id: int) -> dict | None:
    current = client.get(f"/api/jobs/{job_id}").json()
    return current if current["state"] in FINISHED else None


def test_retention_after_several_jobs_keeps_the_newest_and_the_kept(stack, tiny_model, sst2):
    client = stack.client()
    jobs_dir = stack.root / "data" / "jobs"
    ids = [submit(client, job_request(tiny_model, sst2, epochs=1)) for _ in range(5)]
    assert client.patch(f"/api/jobs/{ids[0]}", json={"keep": True}).json()["keep"]
    done = [wait_for(lambda: finished(client, job_id), 300, f"job {job_id}") for job_id in ids]
    assert {job["state"] for job in done} == {"succeeded"}
    pruned = ids[1:-KEEP]  # the kept one and the KEEP newest keep theirs
    wait_for(lambda: all(finished(client, job_id)["checkpoint_pruned_at"] for job_id in pruned), 60,
             "retention to prune the older checkpoints", interval=0.5)
    for job_id in ids:
        view = finished(client, job_id)
        removed = job_id in pruned
        assert view["checkpoint_available"] is not removed and (view["checkpoint_pruned_at"] is not None) is removed
        assert (jobs_dir / f"job-{job_id}" / "best").is_dir() is not removed
        assert (jobs_dir / f"job-{job_id}" / "metrics.json").is_file()  # the rest of its output stays
        assert [p for p in client.get(f"/api/jobs/{job_id}/metrics").json() if p["kind"] == "eval"]
    page = client.get(f"/jobs/{pruned[0]}").text
    assert "removed by retention" in page

    # deleting a job removes its folder, rows and answers; the others' stay
    assert client.delete(f"/api/jobs/{pruned[0]}").status_code == 204
    assert not (jobs_dir / f"job-{pruned[0]}").exists() and client.get(f"/api/jobs/{pruned[0]}").status_code == 404
    assert all((jobs_dir / f"job-{job_id}").is_dir() for job_id in ids if job_id != pruned[0])


def test_a_cancelled_job_keeps_no_checkpoint(stack, tiny_model, sst2):
    client = stack.client()
    jobs_dir = stack.root / "data" / "jobs"
    running = submit(client, job_request(tiny_model, sst2, epochs=300, patience=None))
    wait_for(lambda: [p for p in client.get(f"/api/jobs/{running}/metrics").json() if p["kind"] == "eval"], 180,
             "the first dev evaluation (a best model to keep)", interval=0.5)
    assert client.post(f"/api/jobs/{running}/cancel").status_code == 200
    cancelled = wait_for(lambda: finished(client, running), 120, "the job to stop")
    assert cancelled["state"] == "cancelled" and cancelled["best_metric"] is not None
    assert not cancelled["checkpoint_available"] and not (jobs_dir / f"job-{running}" / "best").exists()
    assert "no checkpoint is kept for a cancelled job" in client.get(f"/api/jobs/{running}/log").text


def test_a_deleted_sweep_leaves_no_file_or_row_of_its_runs(stack, tiny_model, sst2):
    client = stack.client()
    base = job_request(tiny_model, sst2, epochs=1)
    base["addrop"] = {"method": "GA", "layers": [0]}
    body = {"base": base, "space": {"p": [0.2, 0.4], "q": [0.3]}, "seeds": [1], "pruning": {"kind": "none"},
            "keep_checkpoints": True}
    created = client.post("/api/sweeps", json=body)
    assert created.status_code == 201, created.text
    sweep_id = created.json()["id"]
    refused = client.delete(f"/api/sweeps/{sweep_id}")
    assert refused.status_code == 409 and "cancel it first" in refused.json()["detail"]
    done = wait_for(lambda: (s := client.get(f"/api/sweeps/{sweep_id}").json())["state"] == "succeeded" and s, 600,
                    "the sweep to finish", interval=1)
    ids = [j for trial in done["trials"] for j in trial["job_ids"]] + done["baseline_job_ids"]
    assert len(ids) == 3
    jobs_dir = stack.root / "data" / "jobs"
    assert any((jobs_dir / f"job-{j}" / "best").is_dir() for j in ids)  # its runs kept checkpoints

    assert client.delete(f"/api/sweeps/{sweep_id}").status_code == 204
    assert client.get(f"/api/sweeps/{sweep_id}").status_code == 404
    assert not any((jobs_dir / f"job-{j}").exists() for j in ids)
    db = database(stack)
    try:
        with db.session() as session:
            for table, column in ((Job, Job.id), (MetricPoint, MetricPoint.job_id), (LogLine, LogLine.job_id)):
                assert session.scalar(select(func.count()).select_from(table).where(column.in_(ids))) == 0, table
            assert session.get(Sweep, sweep_id) is None
            assert session.scalar(text("SELECT count(*) FROM studies WHERE study_name = :name"),
                                  {"name": done["study_name"]}) == 0
            assert session.scalar(text("SELECT count(*) FROM trials")) == 0  # the stack's only study is gone
    finally:
        db.dispose()
