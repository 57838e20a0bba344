"""A job the workers could only fail is refused before it is stored: a max_length past the model's positions,
and ``device: cuda`` while every live worker trains on the CPU (a CPU worker would take the job and fail it).
In-process app, embedded broker, no worker: an accepted job is only queued."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update

from backend.main import create_app
from backend.settings import Settings
from backend.workers import CACHE_SECONDS
from jobstore.orm import Job, WorkerSeen, utcnow


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("studio"), models=["minilm"])
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def job(client, **training):
    return client.post("/api/jobs", json={"model": "minilm", "data": {"task": "sst2"}, "training": {"epochs": 1, **training}})


def stored(client) -> int:
    with client.app.state.jobs.db.session() as session:
        return session.scalar(select(func.count()).select_from(Job))


def test_max_length_past_the_models_positions_is_refused(client):
    before = stored(client)
    answer = job(client, max_length=1024)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == "training.max_length: 'minilm' reads at most 512 positions; got 1024"
    assert stored(client) == before
    assert job(client, max_length=512).status_code == 201


def test_cuda_is_refused_while_every_live_worker_is_cpu_only(client):
    db = client.app.state.jobs.db
    # no worker seen at all: the job waits for one like any other
    assert job(client, device="cuda").status_code == 201
    with db.session() as session:
        session.add(WorkerSeen(name="cpu-box:1", queue=client.app.state.settings.job_queue, pid=2, gpus=0,
                               started_at=utcnow(), last_seen=utcnow()))
    time.sleep(CACHE_SECONDS)  # the registry's view of the live workers is this old at most
    before = stored(client)
    answer = job(client, device="cuda")
    assert answer.status_code == 422, answer.text
    assert "none of the 1 live job worker(s) has a GPU" in answer.json()["detail"]
    assert stored(client) == before
    assert job(client, device="cpu").status_code == 201
    with db.session() as session:
        session.execute(update(WorkerSeen).values(gpus=1))
    time.sleep(CACHE_SECONDS)
    assert job(client, device="cuda").status_code == 201
    with db.session() as session:
        session.execute(delete(WorkerSeen))
