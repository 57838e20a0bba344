"""A job or sweep whose settings never reach an AD-DROP epoch (cross-tuning with one epoch) is accepted but
says so when submitted and on its pages; ``addrop_epochs`` lists the epochs that drop. In-process app,
embedded broker, no worker: an accepted job is only queued."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from backend.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("studio"), models=["minilm"])
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def base(sst2_dir):
    return {"model": "minilm", "data": {"source": "directory", "task": "sst2", "data_dir": str(sst2_dir)}}


def paper_epochs(epochs: int, cross_tuning: bool) -> list[int]:
    """The paper's cross-tuning: plain and AD-DROP epochs alternate, plain first (epochs 2, 4, ... drop)."""
    return [e for e in range(1, epochs + 1) if not cross_tuning or e % 2 == 0]


@pytest.mark.parametrize("epochs,cross_tuning", [(1, True), (2, True), (5, True), (1, False), (3, False)])
def test_the_epochs_that_drop_follow_cross_tuning(client, base, epochs, cross_tuning):
    answer = client.post("/api/jobs", json={**base, "training": {"epochs": epochs}, "addrop": {"cross_tuning": cross_tuning}})
    assert answer.status_code == 201, answer.text
    job = answer.json()
    assert job["addrop_epochs"] == paper_epochs(epochs, cross_tuning)
    never = not job["addrop_epochs"]
    assert bool(job["warnings"]) == never
    if never:
        assert "never drops" in job["warnings"][0] and "with 1 epoch" in job["warnings"][0]
    assert client.get(f"/api/jobs/{job['id']}").json()["warnings"] == job["warnings"]


def test_a_baseline_drops_in_no_epoch_and_is_not_warned_about(client, base):
    job = client.post("/api/jobs", json={**base, "training": {"epochs": 1}, "addrop": {"enabled": False}}).json()
    assert (job["addrop_epochs"], job["warnings"]) == ([], [])


def test_a_sweep_of_one_epoch_cross_tuned_trials_says_no_trial_drops(client, base):
    space = {"p": [0.1, 0.2], "q": [0.1]}
    short = client.post("/api/sweeps", json={"base": {**base, "training": {"epochs": 1}}, "space": space})
    assert short.status_code == 201, short.text
    assert len(short.json()["warnings"]) == 1 and "every trial never drops" in short.json()["warnings"][0]
    longer = client.post("/api/sweeps", json={"base": {**base, "training": {"epochs": 2}}, "space": space})
    assert longer.status_code == 201, longer.text
    assert longer.json()["warnings"] == []
    # a sweep's base may be a baseline (AD-DROP off); its trials still drop, so the warning holds for them
    off = client.post("/api/sweeps", json={"base": {**base, "training": {"epochs": 1}, "addrop": {"enabled": False}},
                                           "space": space})
    assert off.status_code == 201, off.text
    assert off.json()["warnings"] == short.json()["warnings"]
