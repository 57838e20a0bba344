"""A job that records attribution dynamics: submitted through the API, run by the worker's ``run_job`` (in this
process, embedded database and broker), its per-epoch summaries are metric points of kind ``dynamics`` (JSON,
CSV, and the job's log), and its probe set and maps download as a zip that matches the run's files."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import get_args

import numpy as np
import pytest
from fastapi.testclient import TestClient

from addrop.callbacks import EventKind
from addrop.dynamics import probe_indices
from backend.main import create_app
from backend.settings import Settings
from jobstore.orm import MetricPoint
from tests.jobs_stack import job_request, make_sst2_slice
from tests.tiny_models import save_tiny_model
from worker.runner import run_job


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("studio"))
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_every_event_kind_fits_the_stored_column():
    assert all(len(kind) <= MetricPoint.__table__.c.kind.type.length for kind in get_args(EventKind))


def test_a_recording_job_streams_its_summaries_and_exports_its_maps(client, shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=32, validation=24)
    body = {**job_request(model, data, epochs=2), "dynamics": {"enabled": True, "probe_size": 5}}
    answer = client.post("/api/jobs", json=body)
    assert answer.status_code == 201, answer.text
    job_id = answer.json()["id"]
    assert client.get(f"/api/jobs/{job_id}/dynamics").status_code == 409  # nothing recorded yet

    app = client.app.state
    assert run_job(job_id, app.settings, app.jobs.db) == "succeeded"
    points = client.get(f"/api/jobs/{job_id}/metrics", params={"kind": "dynamics"}).json()
    assert [p["epoch"] for p in points] == [1.0, 2.0] and {p["kind"] for p in points} == {"dynamics"}
    evals = client.get(f"/api/jobs/{job_id}/metrics", params={"kind": "eval"}).json()
    assert [p["step"] for p in points] == [p["step"] for p in evals]
    assert {"concentration_L0", "concentration_L1", "concentration_L2", "entropy_L2", "reliance",
            "reliance_random"} <= set(points[0]["values"])
    assert "stability" in points[1]["values"] and "stability" not in points[0]["values"]
    table = list(csv.DictReader(io.StringIO(client.get(f"/api/jobs/{job_id}/metrics?format=csv").text)))
    assert [row["reliance"] for row in table if row["kind"] == "dynamics"] == [
        str(p["values"]["reliance"]) for p in points]
    log = client.get(f"/api/jobs/{job_id}/log").text
    assert "epoch 2: attribution dynamics on the probe set: reliance" in log and "stability" in log

    download = client.get(f"/api/jobs/{job_id}/dynamics")
    assert download.status_code == 200, download.text
    assert download.headers["content-disposition"] == f'attachment; filename="job-{job_id}-dynamics.zip"'
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert sorted(archive.namelist()) == ["epoch-1.npz", "epoch-2.npz", "probe.json"]
        probe = json.loads(archive.read("probe.json"))
        with np.load(io.BytesIO(archive.read("epoch-2.npz"))) as maps:
            shapes = [maps[f"example{i}"].shape for i in range(5)]
    assert probe["dev_indices"] == probe_indices(24, seed=42, size=5) and probe["layers"] == [0, 1, 2]
    assert shapes == [(3, 4, len(tokens), len(tokens)) for tokens in probe["tokens"]]


def test_a_job_without_dynamics_has_none_to_download(client, tmp_path, sst2_dir):
    answer = client.post("/api/jobs", json={"model": "minilm", "data": {"source": "directory", "task": "sst2",
                                                                        "data_dir": str(sst2_dir)}})
    assert answer.status_code == 201, answer.text
    missing = client.get(f"/api/jobs/{answer.json()['id']}/dynamics")
    assert missing.status_code == 409 and "it records none" in missing.json()["detail"]
    assert client.get("/api/jobs/999999/dynamics").status_code == 404
