"""Jobs end to end on a real stack: API server and Celery worker processes, on Redis + PostgreSQL and on
the embedded default (SQLite database and SQLite broker, no Redis). Jobs train a tiny real BERT."""

from __future__ import annotations

import csv
import io
import os
import signal

import httpx
import pytest
import redis

from addrop import viz
from jobstore.orm import FINISHED
from tests.jobs_stack import (
    REDIS,
    Stack,
    job_request,
    make_sst2_slice,
    running_stack,
    sse_events,
    wait_for,
)
from tests.tiny_models import save_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def sst2(shared_data, tmp_path_factory):
    return make_sst2_slice(shared_data, tmp_path_factory.mktemp("sst2"), train=160, validation=48)


@pytest.fixture(scope="module", params=["redis-postgres", "embedded"])
def stack(request, tmp_path_factory):
    yield from running_stack(request.param, tmp_path_factory.mktemp(request.param))


def job(client: httpx.Client, job_id: int) -> dict:
    answer = client.get(f"/api/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def submit(client: httpx.Client, body: dict) -> dict:
    answer = client.post("/api/jobs", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == f"/api/jobs/{answer.json()['id']}"
    return answer.json()


def finished(client: httpx.Client, job_id: int) -> dict | None:
    current = job(client, job_id)
    return current if current["state"] in FINISHED else None


def step_points(client: httpx.Client, job_id: int) -> list[dict]:
    return client.get(f"/api/jobs/{job_id}/metrics", params={"kind": "step"}).json()


def test_a_job_runs_streams_live_and_survives_an_api_restart(stack, tiny_model, sst2):
    client = stack.client()
    created = submit(client, job_request(tiny_model, sst2, epochs=4))
    job_id = created["id"]
    assert created["state"] == "queued" and created["progress"]["percent"] == 0

    seen: list[dict] = []
    states_with_points: set[str] = set()
    state, last_id = "queued", None
    with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for event, event_id, data in sse_events(response):
            last_id = event_id
            if event == "status":
                state = data["state"]
            elif event == "metrics":
                seen.extend(data)
                states_with_points.add(state)
            if sum(point["kind"] == "step" for point in seen) >= 2:
                break
    assert "running" in states_with_points  # points arrive while the job runs, not only at the end

    stack.kill_api()  # SIGKILL: no shutdown of any kind
    stack.start_api()
    with stack.client().stream("GET", f"/api/jobs/{job_id}/events", headers={"Last-Event-ID": last_id}) as response:
        for event, _, data in sse_events(response):
            if event == "metrics":
                seen.extend(data)
            elif event == "status":
                state = data["state"]
            elif event == "end":
                assert data == {"state": "succeeded"}
                break
    client = stack.client()
    final = job(client, job_id)
    assert final["state"] == state == "succeeded", final["error"]
    assert final["progress"]["percent"] == 100 and final["best_metric"] is not None
    assert final["checkpoint_available"] and final["explorer_model"] == f"job-{job_id}"

    # every point exactly once across the two connections, and the same as the database holds
    stored = client.get(f"/api/jobs/{job_id}/metrics").json()
    assert [p["id"] for p in seen] == [p["id"] for p in stored]
    evaluations = [p for p in stored if p["kind"] == "eval"]
    assert [round(p["epoch"]) for p in evaluations] == [1, 2, 3, 4] and "accuracy" in evaluations[0]["values"]
    phases = {round(p["epoch"] + 0.49): p["values"]["addrop"] for p in stored if p["kind"] == "step" and p["step"] > 0}
    assert {phases[1], phases[2], phases[3], phases[4]} == {0.0, 1.0} and phases[1] == 0.0 and phases[2] == 1.0
    assert final["best_metric"] == max(p["values"]["accuracy"] for p in evaluations)

    table = list(csv.DictReader(io.StringIO(client.get(f"/api/jobs/{job_id}/metrics?format=csv").text)))
    assert len(table) == len(stored) and {"loss", "accuracy", "addrop", "kind", "epoch"} <= set(table[0])
    log = client.get(f"/api/jobs/{job_id}/log").text
    assert "epoch 2 of 4 begins (AD-DROP)" in log and "succeeded after" in log
    models = {entry["name"]: entry for entry in client.get("/api/models").json()}
    assert models[f"job-{job_id}"]["kind"] == "checkpoint"
    archive = client.get(f"/api/jobs/{job_id}/checkpoint")
    assert archive.status_code == 200 and archive.content[:2] == b"PK"
    listed = client.get("/api/jobs", params={"state": "succeeded"}).json()
    assert job_id in [item["id"] for item in listed["items"]] and listed["total"] >= 1

    # a notebook's view of the same job, read over HTTP by addrop.viz: the stored evaluations, and the epochs
    # whose steps logged addrop = 1 (0-based) shaded
    curves = viz.JobCurves.from_api(stack.url, job_id)
    assert curves.epochs == [p["epoch"] for p in evaluations]
    assert curves.dev_metric == [p["values"]["accuracy"] for p in evaluations] and curves.metric == "accuracy"
    assert curves.addrop_epochs == [1, 3] and "GA high p=0.3 q=0.3 L0,1 · cross-tuning" in curves.setting


def test_cancel_stops_a_running_job_and_a_queued_one_never_starts(stack, tiny_model, sst2):
    client = stack.client()
    running = submit(client, job_request(tiny_model, sst2, epochs=300, patience=None, precision="bf16"))
    wait_for(lambda: step_points(client, running["id"]), 120, "the first training points")
    waiting = submit(client, job_request(tiny_model, sst2, epochs=1))
    assert job(client, waiting["id"])["state"] == "queued"  # one job at a time per worker

    cancelled = client.post(f"/api/jobs/{waiting['id']}/cancel").json()
    assert cancelled["state"] == "cancelled" and cancelled["started_at"] is None

    asked = client.post(f"/api/jobs/{running['id']}/cancel")
    assert asked.status_code == 200 and asked.json()["cancel_requested"]
    done = wait_for(lambda: finished(client, running["id"]), 120, "the running job to stop")
    assert done["state"] == "cancelled" and done["progress"]["percent"] < 50
    points = len(step_points(client, running["id"]))
    again = client.post(f"/api/jobs/{running['id']}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    assert len(step_points(client, running["id"])) == points  # nothing trains after the stop
    log = client.get(f"/api/jobs/{running['id']}/log").text
    assert "cancel requested" in log and "device cpu, precision bf16" in log  # trained under bf16 autocast
    assert job(client, waiting["id"])["state"] == "cancelled"


def test_a_job_whose_worker_process_dies_is_failed_with_the_reason(stack, tiny_model, sst2):
    client = stack.client()
    first = submit(client, job_request(tiny_model, sst2, epochs=300, patience=None))
    wait_for(lambda: step_points(client, first["id"]), 120, "the first training points")
    child = int(job(client, first["id"])["worker"].rsplit(":", 1)[1])
    os.kill(child, signal.SIGKILL)  # the pool process running the job; the worker's parent survives
    failed = wait_for(lambda: finished(client, first["id"]), 120, "the job to fail")
    assert failed["state"] == "failed"
    # the job is named by its id, not by billiard's own task counter ("Job: 1.")
    died = f"worker process running job {first['id']} died" in failed["error"] and "SIGKILL" in failed["error"]
    assert "Job:" not in failed["error"], failed["error"]
    if stack.kind == "redis-postgres":  # Celery's parent reports the lost child at once
        assert died, failed["error"]
    else:  # kombu's SQL transport reports it too, but on a busy machine the lease may come first
        assert died or "stopped responding" in failed["error"], failed["error"]

    second = submit(client, job_request(tiny_model, sst2, epochs=300, patience=None))
    wait_for(lambda: step_points(client, second["id"]), 120, "the second job's first points")
    stack.kill_worker()  # the whole worker, parent and child, as when its machine is lost
    # The worker ran on the API's machine: the API sees its processes gone within seconds and fails its job with
    # that reason (a worker on another machine is failed when its lease runs out, "stopped responding").
    failed = wait_for(lambda: finished(client, second["id"]), 120, "the job to fail")
    gone = "is gone: neither its process"
    assert failed["state"] == "failed" and gone in failed["error"] and "killed or crashed" in failed["error"], failed["error"]
    assert gone in client.get(f"/api/jobs/{second['id']}/log").text
    stack.start_worker()


BAD_JOBS = [
    ({"data": {"task": "nope"}}, 422, "unknown task 'nope'"),
    ({"data": {"task": "sst2"}, "addrop": {"p": 1.5}}, 422, "addrop.p"),
    ({"data": {"task": "sst2"}, "addrop": {"layers": [9]}}, 422, "the model has 6 layers"),
    ({"data": {"task": "sst2"}, "addrop": {"method": "XX"}}, 422, "addrop.method"),
    ({"data": {"task": "sst2"}, "training": {"learning_rate": 0}}, 422, "training.learning_rate"),
    ({"data": {"task": "sst2"}, "training": {"epochs": "many"}}, 422, "training.epochs"),
    ({"data": {"task": "sst2"}, "training": {"lr": 0.1}}, 422, "training.lr: Extra inputs are not permitted"),
    ({"data": {"task": "sst2"}, "training": {"precision": "fp8"}}, 422, "training.precision"),
    ({"data": {"task": "sst2"}, "training": {"device": "cpu", "precision": "fp16"}}, 422, "fp16 needs a CUDA device"),
    ({"model": "no-such/model", "data": {"task": "sst2"}}, 422, "unknown model 'no-such/model'"),
    ({"data": {"source": "directory", "task": "sst2"}}, 422, "data_dir is required"),
    ({"data": {"source": "directory", "task": "sst2", "data_dir": "/nowhere"}}, 422, "data.data_dir: no train and validation files"),
    # a relative directory is one under the server's data directory
    ({"data": {"source": "directory", "task": "sst2", "data_dir": "relative/dir"}}, 422, "data.data_dir: no train and validation files"),
    ({"data": {"source": "upload", "task": "mine", "task_kind": "classification", "text_fields": ["text"],
               "label_names": ["a", "b"], "train_upload": "x", "validation_upload": "y"}}, 422, "unknown upload id 'x'"),
    ({"data": {"task": "mine", "task_kind": "classification"}}, 422, "needs files"),
]


@pytest.mark.parametrize("body, status, message", BAD_JOBS)
def test_bad_job_requests_get_a_clear_4xx_and_queue_nothing(stack, body, status, message):
    client = stack.client()
    before = client.get("/api/jobs").json()["total"]
    answer = client.post("/api/jobs", json=body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["detail"]
    assert client.get("/api/jobs").json()["total"] == before


def test_wrong_data_in_a_directory_is_refused_before_queueing(stack, tmp_path):
    (tmp_path / "train.jsonl").write_text('{"sentence": "fine", "label": 1}\n{"sentence": "bad", "label": 7}\n')
    (tmp_path / "validation.jsonl").write_text('{"sentence": "ok", "label": 0}\n')
    answer = stack.client().post("/api/jobs", json={"data": {"source": "directory", "task": "sst2",
                                                             "data_dir": str(tmp_path)}})
    assert answer.status_code == 422 and "line 2" in answer.json()["detail"] and "label 7" in answer.json()["detail"]


def test_missing_jobs_and_finished_jobs(stack):
    client = stack.client()
    for method, path in [("GET", "/api/jobs/999999"), ("POST", "/api/jobs/999999/cancel"),
                         ("GET", "/api/jobs/999999/metrics"), ("GET", "/api/jobs/999999/events"),
                         ("GET", "/api/jobs/999999/log"), ("GET", "/api/jobs/999999/checkpoint")]:
        answer = client.request(method, path)
        assert answer.status_code == 404 and answer.json()["detail"] == "there is no job 999999", path
    assert client.get("/api/jobs", params={"state": "sleeping"}).status_code == 422
    assert client.get("/api/jobs", params={"limit": 0}).status_code == 422
    assert client.get("/jobs/999999").status_code == 404


def test_uploads_are_parsed_mapped_and_bad_ones_leave_nothing_behind(stack, tiny_model):
    client = stack.client()
    train = "review,stars\n" + "".join(f"\"a good film, {i}\",pos\n\"a bad film {i}\",neg\n" for i in range(12))
    dev = "review,stars\n\"great fun\",pos\n\"dull mess\",neg\n"
    train_up = client.post("/api/uploads", files={"file": ("train.csv", train, "text/csv")})
    assert train_up.status_code == 201, train_up.text
    assert train_up.json()["columns"] == ["review", "stars"] and train_up.json()["rows"] == 24
    assert train_up.json()["distinct"]["stars"] == ["pos", "neg"]
    dev_up = client.post("/api/uploads", files={"file": ("dev.csv", dev, "text/csv")}).json()
    body = {"model": str(tiny_model), "name": "my reviews",
            "data": {"source": "upload", "task": "reviews", "task_kind": "classification", "text_fields": ["review"],
                     "label_field": "stars", "label_names": ["neg", "pos"], "train_upload": train_up.json()["id"],
                     "validation_upload": dev_up["id"]},
            "training": {"epochs": 1, "device": "cpu"}, "addrop": {"enabled": False}}
    wrong_column = {**body, "data": {**body["data"], "text_fields": ["text"]}}
    answer = client.post("/api/jobs", json=wrong_column)
    assert answer.status_code == 422 and "missing column 'text'" in answer.json()["detail"]
    created = submit(client, body)
    assert created["name"] == "my reviews" and created["metric"] == "accuracy"
    assert client.post(f"/api/jobs/{created['id']}/cancel").status_code == 200  # no need to train it here

    uploads = stack.root / "data" / "uploads"
    before = sorted(p.name for p in uploads.iterdir())
    bad = [
        (("train.csv", "a,b\n1,2,3\n", "text/csv"), 422, "line 2: 3 fields, but the header has 2"),
        (("train.jsonl", '{"a": 1}\n{oops\n', "application/json"), 422, "line 2: malformed JSON"),
        (("train.csv", "", "text/csv"), 422, "the file is empty"),
        (("train.xlsx", "PK", "application/octet-stream"), 415, "unsupported file type"),
        (("big.csv", "text,label\n" + "x" * (300 * 1024), "text/csv"), 413, "larger than this server accepts"),
    ]
    for file, status, message in bad:
        answer = client.post("/api/uploads", files={"file": file})
        assert answer.status_code == status and message in answer.json()["detail"], answer.text
    answer = client.post("/api/uploads", data={"other": "x"})
    assert answer.status_code in (400, 422) and "field 'file'" in answer.json()["detail"]
    assert sorted(p.name for p in uploads.iterdir()) == before


def test_jobs_whose_messages_the_broker_lost_are_sent_again(tmp_path, tiny_model, sst2):
    stack = Stack("redis-postgres", tmp_path)
    broker = redis.Redis.from_url(REDIS)
    try:
        stack.start_api()
        client = stack.client()
        queued = submit(client, job_request(tiny_model, sst2, epochs=1))
        assert broker.llen(stack.queue) == 1
        broker.delete(stack.queue)  # what a Redis restart without persistence does to a waiting message
        wait_for(lambda: broker.llen(stack.queue) == 1, 120, "the API to send the lost job again")
        assert "fewer job messages than the 1 queued job" in (stack.root / "api.log").read_text()
        stack.start_worker()
        done = wait_for(lambda: finished(client, queued["id"]), 180, "the re-sent job to run")
        assert done["state"] == "succeeded"
    finally:
        stack.close()
