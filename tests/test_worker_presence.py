"""Whether jobs can run is visible: /api/health lists the job workers alive (idle or busy with which job);
when the worker is gone, a queued job and the health answer say so, and it runs once a worker is back."""

from __future__ import annotations

from tests.jobs_stack import job_request, make_sst2_slice, running_stack, wait_for
from tests.tiny_models import save_tiny_model


def test_workers_alive_and_jobs_waiting_without_one(shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "model")
    # long enough (several seconds) that health, which reads workers at most every 2 s, sees it running
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=320, validation=8)
    (tmp_path / "stack").mkdir()
    for stack in running_stack("embedded", tmp_path / "stack", {"ADDROP_WORKER_PRESENCE_SECONDS": "1"}):
        client = stack.client()
        health = wait_for(lambda: (h := client.get("/api/health").json())["workers"] and h, 120, "a worker to be seen")
        assert health["workers"][0]["busy_job_id"] is None and health["warning"] is None
        job = client.post("/api/jobs", json=job_request(model, data, epochs=6)).json()["id"]
        wait_for(lambda: any(w["busy_job_id"] == job for w in client.get("/api/health").json()["workers"]), 60,
                 "the worker to show the job it runs", interval=0.2)
        wait_for(lambda: client.get(f"/api/jobs/{job}").json()["state"] == "succeeded", 120, "the job to succeed")

        stack.kill_worker()
        wait_for(lambda: client.get("/api/health").json()["workers"] == [], 30, "the dead worker to drop out")
        waiting = client.post("/api/jobs", json=job_request(model, data, epochs=1)).json()["id"]
        view = wait_for(lambda: (j := client.get(f"/api/jobs/{waiting}").json())["waiting_reason"] and j, 10,
                        "the queued job to say why it waits")
        # "has been seen for N s" until the API drops the dead worker's row (within 2 s), "is alive" after
        assert view["state"] == "queued" and view["waiting_reason"].startswith("no job worker ")
        health = client.get("/api/health").json()
        assert health["status"] == "ok" and health["queued_jobs"] == 1 and "no job worker" in health["warning"]

        stack.start_worker()
        wait_for(lambda: client.get(f"/api/jobs/{waiting}").json()["state"] == "succeeded", 180,
                 "the waiting job to run once a worker is back")
        assert client.get(f"/api/jobs/{waiting}").json()["waiting_reason"] is None
