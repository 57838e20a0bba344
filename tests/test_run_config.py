"""A sweep's runs are configured as jobs are: every trial run and baseline twin a sweep queues has the config
that its own spec, submitted as a plain job, gets (``JobSpecs.prepare``), but for what the sweep adds (its
keep_checkpoints, and the base job's masked layers recorded by every run's dynamics, so that they compare);
the config is the one the sweep's base config gives with the run's seed and AD-DROP setting (what sweeps
queued before their runs were built from their specs); and a worker reads it back into a FinetuneConfig.
A sweep stored by an older release, whose base config lacks later fields, queues the same runs. In-process
app, embedded broker, no worker: jobs are only queued."""

from __future__ import annotations

import copy
import json
from dataclasses import asdict

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from addrop.finetune import FinetuneConfig
from backend.main import create_app
from backend.schemas.jobs import JobCreate
from backend.settings import Settings
from backend.sweeps.rounds import job_row
from jobstore.configs import readable_config
from jobstore.orm import Job, Sweep

BASE_LAYERS = [0, 1]
SPACE = {"p": [0.2, 0.4], "q": [0.3], "method": ["GA", "RD"], "layers": [BASE_LAYERS, [2]]}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("studio"), models=["minilm"])
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def data_spec(client: TestClient, source: str, folder) -> dict:
    if source == "directory":
        return {"source": "directory", "task": "sst2", "data_dir": str(folder)}
    ids = {}
    for split in ("train", "validation"):
        answer = client.post("/api/uploads", files={"file": (f"{split}.jsonl", (folder / f"{split}.jsonl").read_bytes(),
                                                             "application/json")})
        assert answer.status_code == 201, answer.text
        ids[f"{split}_upload"] = answer.json()["id"]
    return {"source": "upload", "task": "sst2", **ids}


@pytest.fixture(scope="module", params=["directory", "upload"])
def sweep(request, client, sst2_dir):
    """A sweep whose eight settings (a grid, all in flight at once) and baseline twins are queued at two seeds."""
    base = {"model": "minilm", "data": data_spec(client, request.param, sst2_dir),
            "training": {"epochs": 3, "batch_size": 4, "max_length": 64, "device": "cpu", "warmup_ratio": 0.1},
            "addrop": {"method": "GA", "layers": BASE_LAYERS, "target": "logit", "steps": 7, "cross_tuning": False},
            "dynamics": {"enabled": True, "probe_size": 2}}
    body = {"name": "equivalence", "base": base, "space": SPACE, "seeds": [1, 7], "parallel": 8,
            "keep_checkpoints": True, "pruning": {"kind": "none"}}
    answer = client.post("/api/sweeps", json=body)
    assert answer.status_code == 201, answer.text
    db = client.app.state.jobs.db
    with db.session() as session:
        row = session.get(Sweep, answer.json()["id"])
        jobs = session.scalars(select(Job).where(Job.sweep_id == row.id).order_by(Job.id)).all()
    assert sorted((job.sweep_role, job.seed_index) for job in jobs) == sorted(
        [("baseline", 0), ("baseline", 1)] + [("trial", index) for _ in range(8) for index in (0, 1)])
    return row, jobs


def as_stored(config: dict) -> dict:
    """A config as the database gives it back (tuples as lists)."""
    return json.loads(json.dumps(config))


def test_each_run_has_the_config_its_own_spec_gets_as_a_job(client, sweep):
    row, jobs = sweep
    for job in jobs:
        spec = JobCreate.model_validate(job.spec)
        assert spec.training.seed == [1, 7][job.seed_index] and spec.addrop.enabled == (job.sweep_role == "trial")
        alone = as_stored(client.app.state.jobs.specs.prepare(spec).config)
        # what the sweep adds: its checkpoints, and the base's masked layers in every run's dynamics record
        assert alone["save_checkpoint"] is True and job.config["save_checkpoint"] is True
        assert job.config == {**alone, "dynamics": {**alone["dynamics"], "layers": BASE_LAYERS}}, job.name
    trials = [job for job in jobs if job.sweep_role == "trial"]
    assert {tuple(job.config["addrop"]["layers"]) for job in trials} == {(0, 1), (2,)}
    assert all(job.config["dynamics"]["layers"] == BASE_LAYERS for job in jobs)


def test_each_run_is_the_base_job_with_its_seed_and_setting(sweep):
    row, jobs = sweep
    base = row.base_config
    assert base["addrop"]["steps"] == 7 and base["addrop"]["target"] == "logit" and base["warmup_ratio"] == 0.1
    grid = {(p, q, method, "high", tuple(layers)) for p in SPACE["p"] for q in SPACE["q"] for method in SPACE["method"]
            for layers in SPACE["layers"]}
    settings = []
    for job in jobs:
        seed = job.spec["training"]["seed"]
        setting = {key: job.spec["addrop"][key] for key in ("p", "q", "method", "mode", "layers")}
        trial = job.sweep_role == "trial"
        if trial:
            settings.append((setting["p"], setting["q"], setting["method"], setting["mode"], tuple(setting["layers"])))
        addrop = {**base["addrop"], **setting} if trial else None
        assert job.config == {**base, "seed": seed, "save_checkpoint": True, "addrop": addrop}, job.name
        # the spec as recorded (results/ matches run files by it): the base request's, seed and setting changed
        spec = copy.deepcopy(row.spec["base"])
        spec["training"]["seed"] = seed
        spec["addrop"].update(enabled=trial, **(setting if trial else {}))
        assert job.spec == {**spec, "name": job.name} and job.name.startswith("equivalence · ")
    assert sorted(settings) == sorted([*grid, *grid])  # every setting at both seeds


def test_a_worker_reads_each_runs_config_back(sweep, tmp_path):
    _, jobs = sweep
    for job in jobs:
        config = FinetuneConfig(**{**readable_config(job.config, job.config_version), "output_dir": str(tmp_path)})
        values = as_stored(asdict(config))
        del values["output_dir"]
        assert values == job.config


def test_a_sweep_stored_by_an_older_release_queues_the_same_runs(sweep):
    row, jobs = sweep
    # An older release's base config: fields added since are missing; only its data files are read.
    files = {key: row.base_config[key] for key in ("data_dir", "train_file", "validation_file")}
    older = Sweep(id=row.id, name=row.name, spec=row.spec, base_config={**files, "seed": 42, "addrop": {"p": 0.9}},
                  task=row.task, model=row.model, metric_name=row.metric_name)
    for job in jobs:
        trial = None if job.trial_number is None else (job.trial_number, {
            key: job.spec["addrop"][key] for key in ("p", "q", "method", "mode", "layers")})
        again = job_row(older, trial, job.seed_index, job.spec["training"]["seed"])
        assert (again.name, again.spec, as_stored(again.config)) == (job.name, job.spec, job.config)
