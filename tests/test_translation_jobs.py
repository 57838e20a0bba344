"""Translation jobs end to end on a real stack (API server and Celery worker processes; Redis + PostgreSQL and the
embedded default): a tiny random Marian, saved in the test's directory and named by its path, fine-tuned with
AD-DROP on a toy parallel corpus uploaded in the Hub's wmt16 layout; BLEU and chrF on its curves, its kept dev
predictions per epoch, its page; and a tiny sweep of p over translation runs."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

from jobstore.orm import FINISHED, SWEEP_FINISHED
from tests.jobs_stack import running_stack, wait_for
from tests.tiny_translation import save_tiny_marian, toy_pairs, write_parallel



@pytest.fixture(scope="module")
def marian(tmp_path_factory):
    return save_tiny_marian(tmp_path_factory.mktemp("tiny-marian"))


@pytest.fixture(scope="module")
def parallel(tmp_path_factory):
    return write_parallel(tmp_path_factory.mktemp("toy-en-ro"), train=64, validation=12)


@pytest.fixture(scope="module", params=["redis-postgres", "embedded"])
def stack(request, tmp_path_factory):
    yield from running_stack(request.param, tmp_path_factory.mktemp(f"translation-{request.param}"),
                             {"ADDROP_SWEEP_POLL_SECONDS": "0.5"})


def translation_job(model, data: dict, **training) -> dict:
    """A job on the tiny Marian: AD-DROP in both encoder layers, greedy dev generation."""
    return {"model": str(model), "data": data,
            "training": {"epochs": 2, "batch_size": 16, "learning_rate": 3e-3, "max_length": 32, "num_beams": 1,
                         "logging_steps": 2, "patience": None, "device": "cpu", **training},
            "addrop": {"method": "GA", "p": 0.3, "q": 0.3, "layers": [0, 1], "kind": "encoder"}}


def finished_job(client: httpx.Client, job_id: int) -> dict | None:
    job = client.get(f"/api/jobs/{job_id}").json()
    return job if job["state"] in FINISHED else None


def test_an_uploaded_translation_job_runs_with_bleu_on_its_curves(stack, marian, parallel):
    client = stack.client()
    ids = {}
    for split in ("train", "validation"):
        answer = client.post("/api/uploads", files={"file": (f"{split}.jsonl", (parallel / f"{split}.jsonl").read_bytes(),
                                                               "application/json")})
        assert answer.status_code == 201, answer.text
        assert answer.json()["columns"] == ["en", "ro"]  # the wmt16 layout's languages, as the form maps them
        ids[split] = answer.json()["id"]
    data = {"source": "upload", "task": "toy-en-ro", "task_kind": "translation", "text_fields": ["en"],
            "label_field": "ro", "train_upload": ids["train"], "validation_upload": ids["validation"]}
    created = client.post("/api/jobs", json=translation_job(marian, data))
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    assert created.json()["metric"] == "bleu" and created.json()["task_kind"] == "translation"

    job = wait_for(lambda: finished_job(client, job_id), 300, "the translation job to finish", interval=0.5)
    assert job["state"] == "succeeded", job["error"]
    evaluations = client.get(f"/api/jobs/{job_id}/metrics", params={"kind": "eval"}).json()
    assert [round(p["epoch"]) for p in evaluations] == [1, 2]
    assert all({"bleu", "chrf", "gen_words", "loss"} <= set(p["values"]) for p in evaluations)
    assert job["best_metric"] == max(p["values"]["bleu"] for p in evaluations)
    steps = client.get(f"/api/jobs/{job_id}/metrics", params={"kind": "step"}).json()
    assert {p["values"]["addrop"] for p in steps if p["epoch"] > 1.05} == {1.0}  # cross-tuning: epoch 2 drops
    table = list(csv.DictReader(io.StringIO(client.get(f"/api/jobs/{job_id}/metrics?format=csv").text)))
    assert [row["bleu"] for row in table if row["kind"] == "eval"] == [str(p["values"]["bleu"]) for p in evaluations]

    predictions = client.get(f"/api/jobs/{job_id}/predictions").json()
    assert [record["epoch"] for record in predictions] == [1.0, 2.0]
    first = toy_pairs(5, seed=1)  # write_parallel's validation split
    for record in predictions:
        assert [(e["source"], e["reference"]) for e in record["examples"]] == [(p["en"], p["ro"]) for p in first]
        assert all(isinstance(e["prediction"], str) for e in record["examples"])
    assert [r["step"] for r in predictions] == [p["step"] for p in evaluations]

    log = client.get(f"/api/jobs/{job_id}/log").text
    assert "epoch 2 of 2 begins (AD-DROP)" in log and "dev bleu" in log and "chrf" in log
    assert "best dev bleu" in log
    page = client.get(f"/jobs/{job_id}").text
    assert 'id="predictions-panel"' in page and "dev metric <b>bleu</b>" in page
    assert json.loads(client.get(f"/api/jobs/{job_id}").text)["final_metrics"]["bleu"] == evaluations[-1]["values"]["bleu"]


def test_a_tiny_translation_sweep_searches_p(stack, marian, parallel):
    """Two settings of p over translation runs (one epoch each) and a baseline twin: the trials' values are
    their runs' best BLEU, and every run keeps the base's attention kind and generation settings."""
    client = stack.client()
    base = translation_job(marian, {"source": "directory", "task": "wmt16-en-ro", "data_dir": str(parallel)},
                           epochs=1, num_beams=2)
    body = {"base": base, "space": {"p": [0.2, 0.5], "q": [0.3]}, "seeds": [1], "pruning": {"kind": "none"},
            "baseline": True}
    answer = client.post("/api/sweeps", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["metric"] == "bleu" and answer.json()["budget"] == 2
    sweep_id = answer.json()["id"]

    def finished() -> dict | None:
        sweep = client.get(f"/api/sweeps/{sweep_id}").json()
        return sweep if sweep["state"] in SWEEP_FINISHED else None

    done = wait_for(finished, 600, "the translation sweep to finish", interval=1)
    assert done["state"] == "succeeded", done
    assert sorted(t["params"]["p"] for t in done["trials"]) == [0.2, 0.5]
    runs = [job for trial in done["trials"] for job in trial["job_ids"]] + done["baseline_job_ids"]
    assert len(runs) == 3
    for job_id in runs:
        job = client.get(f"/api/jobs/{job_id}").json()
        assert job["state"] == "succeeded" and job["metric"] == "bleu", job["error"]
        best = max(p["values"]["bleu"] for p in client.get(f"/api/jobs/{job_id}/metrics", params={"kind": "eval"}).json())
        assert job["best_metric"] == best
        if job["sweep_role"] == "trial":
            assert job["spec"]["addrop"]["kind"] == "encoder" and job["spec"]["training"]["num_beams"] == 2
            trial = next(t for t in done["trials"] if job_id in t["job_ids"])
            assert trial["value"]["values"] == [best]
    assert done["baseline"]["values"] and done["baseline"]["n"] == 1
    # the compare view's data: the runs' dev BLEU per epoch
    curves = client.get(f"/api/sweeps/{sweep_id}/curves").json()
    assert curves["metric"] == "bleu" and sorted(map(int, curves["jobs"])) == sorted(runs)
    assert all(len(series) == 1 and series[0]["value"] is not None for series in curves["jobs"].values())
