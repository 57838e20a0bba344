"""A job the workers could only fail is refused before it is stored: a max_length past the model's positions,
``device: cuda`` while every live worker trains on the CPU (a CPU worker would take the job and fail it), and
``source: hub`` while the server is offline with no cached copy of the dataset.
In-process app, embedded broker, no worker: an accepted job is only queued."""

from __future__ import annotations

import time

import datasets
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


@pytest.fixture(scope="module")
def job(client, sst2_dir):
    def post(**training):
        data = {"source": "directory", "task": "sst2", "data_dir": str(sst2_dir)}
        return client.post("/api/jobs", json={"model": "minilm", "data": data, "training": {"epochs": 1, **training}})
    return post


def stored(client) -> int:
    with client.app.state.jobs.db.session() as session:
        return session.scalar(select(func.count()).select_from(Job))


def test_max_length_past_the_models_positions_is_refused(client, job):
    before = stored(client)
    answer = job(max_length=1024)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == "training.max_length: 'minilm' reads at most 512 positions; got 1024"
    assert stored(client) == before
    assert job(max_length=512).status_code == 201


def test_cuda_is_refused_while_every_live_worker_is_cpu_only(client, job):
    db = client.app.state.jobs.db
    # no worker seen at all: the job waits for one like any other
    assert job(device="cuda").status_code == 201
    with db.session() as session:
        session.add(WorkerSeen(name="cpu-box:1", queue=client.app.state.settings.job_queue, pid=2, gpus=0,
                               started_at=utcnow(), last_seen=utcnow()))
    time.sleep(CACHE_SECONDS)  # the registry's view of the live workers is this old at most
    before = stored(client)
    answer = job(device="cuda")
    assert answer.status_code == 422, answer.text
    assert "none of the 1 live job worker(s) has a GPU" in answer.json()["detail"]
    assert stored(client) == before
    assert job(device="cpu").status_code == 201
    with db.session() as session:
        session.execute(update(WorkerSeen).values(gpus=1))
    time.sleep(CACHE_SECONDS)
    assert job(device="cuda").status_code == 201
    with db.session() as session:
        session.execute(delete(WorkerSeen))


def test_a_hub_dataset_is_refused_while_offline_unless_cached(client, job, monkeypatch):
    import huggingface_hub.constants

    body = {"model": "minilm", "data": {"source": "hub", "task": "rte"}, "training": {"epochs": 1}}
    # the tests run offline (conftest) against an empty datasets cache: the worker could only fail this job
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", client.app.state.settings.data_dir / "no-cache")
    before = stored(client)
    answer = client.post("/api/jobs", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == ("data.source: this server is offline (HF_HUB_OFFLINE) and its datasets cache has "
                                       "no copy of nyu-mll/glue rte for task 'rte'; give a directory on the workers or upload files")
    assert stored(client) == before
    # the other checks still come first, so a bad model is named as such
    bad_model = client.post("/api/jobs", json={**body, "model": "no-such/model"})
    assert bad_model.status_code == 422 and bad_model.json()["detail"].startswith("model: unknown model")
    # the form marks the source unusable and says why
    form = client.get("/jobs/new").text
    assert 'data-value="hub" disabled' in form and "This server is offline (HF_HUB_OFFLINE)" in form
    assert 'value="rte" data-hub="no"' in form
    # online, the Hub is assumed reachable (nothing is fetched to check) and the job is queued
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    assert client.post("/api/jobs", json=body).status_code == 201
    form = client.get("/jobs/new").text
    assert 'data-value="hub">' in form and "HF_HUB_OFFLINE" not in form


def test_a_translation_job_is_checked_against_its_encoder_decoder(client, job, tmp_path_factory):
    """A translation job needs an encoder-decoder; its layers count among the layers of the chosen attention
    kind (read from the model's config), its attribution target must be one a generated sequence has, and it
    records no attribution dynamics; an accepted one stores its generation settings and kind. A classifier takes
    no attention kind."""
    from tests.tiny_translation import save_tiny_marian, write_parallel

    marian = save_tiny_marian(tmp_path_factory.mktemp("marian"), layers=2, decoder_layers=3)
    data = {"source": "directory", "task": "mine", "task_kind": "translation", "text_fields": ["en"],
            "label_field": "ro", "data_dir": str(write_parallel(tmp_path_factory.mktemp("toy"), 16, 4))}

    def post(model=str(marian), addrop=None, **sections):
        return client.post("/api/jobs", json={"model": model, "data": data, "training": {"max_length": 32},
                                              "addrop": {"layers": [0, 1], **(addrop or {})}, **sections})

    before = stored(client)
    refusals = [
        (post(model="minilm"), "model: 'minilm' is not an encoder-decoder; a translation job needs one"),
        (post(addrop={"layers": [2]}), "addrop.layers: the model has 2 encoder layers (0..1); got [2]"),
        (post(addrop={"kind": "cross", "layers": [3]}), "addrop.layers: the model has 3 cross layers (0..2); got [3]"),
        (post(addrop={"target": "logit"}), "addrop.target: a translation task's attribution target is one of auto, "
                                           "loss, pseudo_loss; got 'logit'"),
        (post(dynamics={"enabled": True}), "dynamics.enabled: attribution dynamics are recorded for classifiers"),
        (post(training={"max_length": 32, "num_beams": 17}), "less than or equal to 16"),
        (post(addrop={"kind": "sideways"}), "Input should be 'encoder', 'decoder' or 'cross'"),
        (client.post("/api/jobs", json={"model": "minilm", "data": {"source": "hub", "task": "sst2"},
                                         "addrop": {"kind": "encoder"}}),
         "addrop.kind: 'minilm' is not an encoder-decoder"),
    ]
    for answer, words in refusals:
        assert answer.status_code == 422 and words in answer.text, answer.text
    assert stored(client) == before

    answer = post(addrop={"kind": "cross", "layers": [2], "target": "pseudo_loss"},
                  training={"max_length": 32, "num_beams": 2, "max_new_tokens": 12})
    assert answer.status_code == 201, answer.text
    assert (answer.json()["metric"], answer.json()["task_kind"]) == ("bleu", "translation")
    with client.app.state.jobs.db.session() as session:
        config = session.get(Job, answer.json()["id"]).config
    assert (config["task_kind"], config["text_fields"], config["label_field"]) == ("translation", ["en"], "ro")
    assert (config["num_beams"], config["max_new_tokens"]) == (2, 12)
    assert {k: config["addrop"][k] for k in ("kind", "layers", "target")} == {
        "kind": "cross", "layers": [2], "target": "pseudo_loss"}
    # the known wmt16 tasks read the same layout from a directory
    known = client.post("/api/jobs", json={"model": str(marian), "training": {"max_length": 32},
                                           "data": {**data, "task": "wmt16-en-ro", "task_kind": None}})
    assert known.status_code == 201 and known.json()["task"] == "wmt16-en-ro", known.text
    assert client.get(f"/api/jobs/{answer.json()['id']}/predictions").json() == []  # none evaluated yet
    # a classifier's job says its kind too, and keeps no dev predictions
    sst2 = job()
    assert sst2.json()["task_kind"] == "classification"
    refused = client.get(f"/api/jobs/{sst2.json()['id']}/predictions")
    assert refused.status_code == 409 and "not a translation job" in refused.json()["detail"]
    assert client.get("/api/jobs/999999/predictions").status_code == 404


def test_a_job_that_records_dynamics_stores_its_probe_settings(client, sst2_dir):
    """The stored config records dynamics on the form's layers, a baseline too (as its AD-DROP twin masks them);
    probe ids the dev set lacks, repeated ids and layers the model lacks are refused before anything is stored."""
    data = {"source": "directory", "task": "sst2", "data_dir": str(sst2_dir)}  # 2 dev rows

    def post(dynamics, addrop=None):
        return client.post("/api/jobs", json={"model": "minilm", "data": data, "training": {"epochs": 1},
                                              "dynamics": dynamics, **({"addrop": addrop} if addrop else {})})

    def config(answer) -> dict:
        assert answer.status_code == 201, answer.text
        with client.app.state.jobs.db.session() as session:
            return session.get(Job, answer.json()["id"]).config

    assert config(post({"enabled": False, "probe_size": 8}))["dynamics"] is None
    recorded = config(post({"enabled": True, "probe_size": 8}, addrop={"enabled": False, "layers": [2, 4]}))
    assert recorded["addrop"] is None
    assert recorded["dynamics"] == {"probe_size": 8, "probe_ids": None, "layers": [2, 4], "p": 0.3}
    assert config(post({"enabled": True, "probe_ids": [1, 0]}))["dynamics"]["probe_ids"] == [1, 0]
    before = stored(client)
    answer = post({"enabled": True, "probe_ids": [0, 2]})
    assert answer.status_code == 422 and "the dev set has 2 examples (0..1); got [2]" in answer.json()["detail"]
    answer = post({"enabled": True, "probe_ids": [1, 1]})
    assert answer.status_code == 422 and "each dev example may be listed once" in answer.json()["detail"]
    answer = post({"enabled": True}, addrop={"enabled": False, "layers": [6]})
    assert answer.status_code == 422 and "the model has 6 layers" in answer.json()["detail"]
    assert stored(client) == before
