"""The dashboard's reads of a job's recorded attribution dynamics: its probe set, and one probe example's map
at one epoch, layer and head as stored, with its top-p candidate region (checked against a definition written
here); bad values get a 4xx that names the good ones, and the reads need the token like every other."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from backend.settings import Settings
from tests.jobs_stack import job_request, make_sst2_slice
from tests.tiny_models import save_tiny_model
from worker.runner import run_job

TOKEN = "maps-secret"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, shared_data):
    """A client and an AD-DROP job (p 0.2, layers 0 and 1) that recorded 2 epochs of a 4-example probe set."""
    root = tmp_path_factory.mktemp("maps")
    settings = Settings(data_dir=root / "studio", api_token=TOKEN)
    with TestClient(create_app(settings), raise_server_exceptions=False,
                    headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        model = save_tiny_model(root / "model")
        data = make_sst2_slice(shared_data, root / "sst2", train=24, validation=16)
        body = {**job_request(model, data, epochs=2), "dynamics": {"enabled": True, "probe_size": 4}}
        body["addrop"]["p"] = 0.2  # the region shown is the job's p, not the 0.3 its summaries measure
        job_id = client.post("/api/jobs", json=body).json()["id"]
        state = client.app.state
        assert run_job(job_id, state.settings, state.jobs.db) == "succeeded"
        yield client, job_id, settings.job_dir(job_id) / "dynamics", data


def top_p_region(values: np.ndarray, p: float, mode: str = "high") -> np.ndarray:
    """Each row's ceil(p * n) highest (lowest) keys, every key tied with the last of them included."""
    n = values.shape[-1]
    k = math.ceil(p * n)
    scores = values if mode == "high" else -values
    threshold = -np.sort(-scores, axis=-1)[:, k - 1:k]
    return scores >= threshold


def test_the_probe_lists_what_was_recorded(recorded):
    client, job_id, directory, data = recorded
    probe = client.get(f"/api/jobs/{job_id}/dynamics/probe")
    assert probe.status_code == 200, probe.text
    body = probe.json()
    assert body["epochs"] == [1, 2] and body["layers"] == [0, 1, 2] and body["heads"] == 4
    assert (body["region_p"], body["region_mode"], body["measured_p"]) == (0.2, "high", 0.3)
    assert len(body["dev_indices"]) == len(body["tokens"]) == len(body["texts"]) == 4
    dev = (data / "validation.jsonl").read_text().splitlines()
    for index, (text,) in zip(body["dev_indices"], body["texts"]):
        assert json.loads(dev[index])["sentence"] == text


@pytest.mark.parametrize(("example", "epoch", "layer", "head"), [(0, 1, 0, 0), (3, 2, 2, 3), (1, 2, 1, 2)])
def test_a_map_is_the_stored_one_with_its_top_p_region(recorded, example, epoch, layer, head):
    client, job_id, directory, _ = recorded
    answer = client.get(f"/api/jobs/{job_id}/dynamics/maps",
                        params={"example": example, "epoch": epoch, "layer": layer, "head": head})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    with np.load(directory / f"epoch-{epoch}.npz") as saved:
        stored = saved[f"example{example}"][[0, 1, 2].index(layer), head]
    values = np.array(body["values"])
    assert values.shape == stored.shape == (len(body["tokens"]),) * 2
    assert np.array_equal(values.astype(np.float16), stored) and np.array_equal(values, stored.astype(np.float64))
    assert np.array_equal(np.array(body["region"]), top_p_region(stored.astype(np.float64), 0.2))
    assert (body["p"], body["mode"], body["epoch"], body["layer"], body["head"]) == (0.2, "high", epoch, layer, head)


def test_the_region_takes_another_p_and_mode(recorded):
    client, job_id, directory, _ = recorded
    body = client.get(f"/api/jobs/{job_id}/dynamics/maps",
                      params={"example": 2, "epoch": 1, "layer": 1, "p": 0.5, "mode": "low"}).json()
    with np.load(directory / "epoch-1.npz") as saved:
        stored = saved["example2"][1, 0].astype(np.float64)
    assert np.array_equal(np.array(body["region"]), top_p_region(stored, 0.5, "low"))
    assert (body["p"], body["mode"]) == (0.5, "low")


@pytest.mark.parametrize(("params", "status", "says"), [
    ({"example": 4, "epoch": 1, "layer": 0}, 422, "the probe set has 4 examples (0..3); got 4"),
    ({"example": 0, "epoch": 3, "layer": 0}, 404, "the recorded epochs are [1, 2]; got 3"),
    ({"example": 0, "epoch": 1, "layer": 3}, 422, "the recorded layers are [0, 1, 2]; got 3"),
    ({"example": 0, "epoch": 1, "layer": 0, "head": 4}, 422, "the layer has 4 heads (0..3); got 4"),
    ({"example": -1, "epoch": 1, "layer": 0}, 422, "example"),
    ({"example": "one", "epoch": 1, "layer": 0}, 422, "example"),
    ({"epoch": 1, "layer": 0}, 422, "example"),
    ({"example": 0, "epoch": 1, "layer": 0, "p": 1}, 422, "p"),
    ({"example": 0, "epoch": 1, "layer": 0, "mode": "middle"}, 422, "mode"),
])
def test_bad_values_are_refused_with_the_good_ones(recorded, params, status, says):
    client, job_id, directory, _ = recorded
    answer = client.get(f"/api/jobs/{job_id}/dynamics/maps", params=params)
    assert answer.status_code == status, answer.text
    assert says in answer.text and str(directory) not in answer.text


def test_jobs_without_maps_and_reads_without_the_token(recorded, sst2_dir):
    client, job_id, _, _ = recorded
    assert client.get("/api/jobs/999999/dynamics/probe").status_code == 404
    assert client.get("/api/jobs/999999/dynamics/maps", params={"example": 0, "epoch": 1, "layer": 0}).status_code == 404
    plain = client.post("/api/jobs", json={"model": "minilm", "data": {"source": "directory", "task": "sst2",
                                                                       "data_dir": str(sst2_dir)}}).json()["id"]
    for path in ("probe", "maps?example=0&epoch=1&layer=0"):
        refused = client.get(f"/api/jobs/{plain}/dynamics/{path}")
        assert refused.status_code == 409 and "it records none" in refused.json()["detail"]
    for path in ("probe", "maps?example=0&epoch=1&layer=0"):
        assert client.get(f"/api/jobs/{job_id}/dynamics/{path}", headers={"Authorization": ""}).status_code == 401
        assert client.get(f"/api/jobs/{job_id}/dynamics/{path}",
                          headers={"Authorization": "Bearer guess"}).status_code == 401
