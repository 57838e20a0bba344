"""A run that makes no progress is noticed by the system: the worker's watchdog fails it when no training
step or evaluation batch came for ADDROP_JOB_STALL_SECONDS (its heartbeat alone would keep it 'running'
forever), and the worker is free for the next job."""

from __future__ import annotations

import json

from tests.jobs_stack import job_request, make_sst2_slice, make_tiny_model, running_stack, wait_for

STALL = 4


def test_a_run_without_progress_is_failed_and_the_worker_moves_on(shared_data, tmp_path):
    model = make_tiny_model(tmp_path / "model")
    small = make_sst2_slice(shared_data, tmp_path / "small", train=16, validation=8)
    # Preparing this much data takes longer than the stall limit before the first training step.
    big = tmp_path / "big"
    big.mkdir()
    lines = (shared_data / "glue" / "sst2" / "train.jsonl").read_text().splitlines()
    (big / "train.jsonl").write_text("\n".join(lines * 6) + "\n")
    (big / "validation.jsonl").write_text("\n".join(lines[:8]) + "\n")
    (tmp_path / "stack").mkdir()
    for stack in running_stack("embedded", tmp_path / "stack", {"ADDROP_JOB_STALL_SECONDS": str(STALL)}):
        client = stack.client()
        stuck = client.post("/api/jobs", json=job_request(model, big, epochs=1)).json()["id"]
        after = client.post("/api/jobs", json=job_request(model, small, epochs=1)).json()["id"]
        failed = wait_for(lambda: (j := client.get(f"/api/jobs/{stuck}").json())["state"] == "failed" and j, 180,
                          "the watchdog to fail the stuck run", interval=0.5)
        assert f"no training progress for {STALL} s" in failed["error"]
        assert "no training progress" in client.get(f"/api/jobs/{stuck}/log").text
        done = wait_for(lambda: (j := client.get(f"/api/jobs/{after}").json())["state"] in ("succeeded", "failed") and j,
                        180, "the next job to finish", interval=0.5)
        assert done["state"] == "succeeded", json.dumps(done)
