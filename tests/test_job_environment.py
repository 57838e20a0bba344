"""A job records the environment that trained it: the worker's ``run_job`` (in this process, embedded database) stores
addrop's, torch's and transformers' versions and the commit of the checkout it runs from, and ``GET /api/jobs/{id}``
shows them (null before the job starts). Asking git never fails a job: without git, outside a checkout, or when git
hangs, the commit is null."""

from __future__ import annotations

import platform
import stat
import subprocess
from pathlib import Path

import pytest
import torch
import transformers
from fastapi.testclient import TestClient

import addrop
from addrop import environment
from addrop.environment import training_environment
from backend.main import create_app
from backend.schemas.jobs import JobEnvironment
from backend.settings import Settings
from jobstore.orm import Job
from tests.jobs_stack import job_request, make_sst2_slice
from tests.tiny_models import save_tiny_model
from worker.runner import run_job

ROOT = Path(__file__).resolve().parents[1]


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_a_job_run_by_the_worker_records_the_code_and_libraries_that_trained_it(shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=16, validation=8)
    with TestClient(create_app(Settings(data_dir=tmp_path / "studio")), raise_server_exceptions=False) as client:
        answer = client.post("/api/jobs", json=job_request(model, data, epochs=1))
        assert answer.status_code == 201, answer.text
        job_id = answer.json()["id"]
        assert answer.json()["environment"] is None  # queued: nothing has trained it yet

        state = client.app.state
        assert run_job(job_id, state.settings, state.jobs.db) == "succeeded"
        shown = client.get(f"/api/jobs/{job_id}").json()["environment"]
        with state.jobs.db.session() as session:
            stored = session.get(Job, job_id).environment

    assert set(stored) == set(JobEnvironment.model_fields)  # the API describes every field the worker records
    assert shown == stored
    assert stored["addrop"] == addrop.__version__
    assert stored["torch"] == torch.__version__ and stored["transformers"] == transformers.__version__
    assert stored["python"] == platform.python_version()
    assert stored["commit"] == git(ROOT, "rev-parse", "--short", "HEAD")
    assert stored["dirty"] == bool(git(ROOT, "status", "--porcelain", "--untracked-files=no"))
    assert (stored["device"], stored["gpu"]) == ("cpu", None)  # the job asked for the CPU
    assert stored["torch_threads"] >= 1 and stored["cores"] >= 1


def test_the_commit_is_that_of_the_checkout_rooted_where_the_code_is(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("a = 1\n")
    git(tmp_path, "add", "code.py")
    git(tmp_path, "commit", "-q", "-m", "first")
    commit = git(tmp_path, "rev-parse", "--short", "HEAD")
    (tmp_path / "notes.txt").write_text("untracked\n")
    assert environment.git_commit(tmp_path) == (commit, False)  # an untracked file is no change to the code
    (tmp_path / "code.py").write_text("a = 2\n")
    assert environment.git_commit(tmp_path) == (commit, True)
    # an installed copy inside some other checkout (a virtual environment in a repository) is not that checkout
    (tmp_path / "site-packages").mkdir()
    assert environment.git_commit(tmp_path / "site-packages") == (None, None)


def fake_git(folder: Path, script: str) -> None:
    folder.mkdir()
    (folder / "git").write_text(f"#!/bin/sh\n{script}\n")
    (folder / "git").chmod(stat.S_IRWXU)


@pytest.mark.parametrize("case", ["no checkout", "no git", "git hangs"])
def test_a_commit_git_cannot_give_is_null_and_nothing_fails(case, tmp_path, monkeypatch):
    source = ROOT
    if case == "no checkout":
        source = tmp_path / "installed"
        source.mkdir()
    elif case == "no git":
        monkeypatch.setenv("PATH", str(tmp_path))  # no git on it
    else:
        fake_git(tmp_path / "bin", "exec sleep 10")
        monkeypatch.setenv("PATH", str(tmp_path / "bin"))
        monkeypatch.setattr(environment, "GIT_TIMEOUT_SECONDS", 0.2)
    found = training_environment("cpu", source=source)
    assert (found["commit"], found["dirty"]) == (None, None)
    assert found["addrop"] == addrop.__version__ and found["device"] == "cpu"


def test_the_device_of_a_job_left_on_auto_is_the_one_the_trainer_picks(tmp_path):
    picked = transformers.TrainingArguments(output_dir=str(tmp_path), report_to="none").device.type
    found = training_environment(None)
    assert found["device"] == picked
    assert found["gpu"] == (torch.cuda.get_device_name(0) if picked == "cuda" else None)
