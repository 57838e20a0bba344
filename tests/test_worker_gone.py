"""A standalone job worker (``python -m worker``, no supervisor watching it) killed on the API's machine is seen
gone within seconds: the API finds neither its process nor its pool process in its own process table, drops it
from health and fails its job with the reason, long before the presence window (30 s) or the job's lease
(120 s here) would run out. Workers whose pids the API cannot look up (another machine, container or boot) are
never judged by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta

import psutil

from backend.workers import processes_gone
from jobstore.orm import WorkerSeen, utcnow
from jobstore.process_table import process_table
from tests.jobs_stack import Stack, job_request, make_sst2_slice, wait_for
from tests.tiny_models import save_tiny_model


def row(parent: int, pool: int, table: str | None, seen_ago: float = 0.0) -> WorkerSeen:
    return WorkerSeen(name=f"box:{parent}", queue="q", pid=pool, busy_job_id=None, gpus=0, process_table=table,
                      last_seen=utcnow() - timedelta(seconds=seen_ago))


def ended_pid() -> int:
    """The pid of a real process that has exited and been reaped."""
    process = subprocess.Popen(["sleep", "60"])
    process.kill()
    process.wait()
    return process.pid


def test_a_worker_is_gone_only_when_both_its_processes_are_gone_from_this_process_table():
    here, dead = process_table(), ended_pid()
    assert here is not None  # Linux
    assert processes_gone(row(dead, dead, here))
    assert not processes_gone(row(os.getpid(), dead, here))  # the worker forks its next pool process
    assert not processes_gone(row(dead, os.getpid(), here))  # a pool process outliving its worker still trains
    assert not processes_gone(row(dead, dead, "another-boot/4026531836"))  # pids elsewhere say nothing here
    assert not processes_gone(row(dead, dead, None))  # a worker that cannot say where it runs
    # this pid now belongs to a process started after the row was last renewed: the worker's pid was reused
    assert processes_gone(row(os.getpid(), os.getpid(), here,
                              seen_ago=time.time() - psutil.Process().create_time() + 5))


def test_a_killed_standalone_worker_leaves_health_and_fails_its_job_within_seconds(shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=256, validation=16)
    (tmp_path / "stack").mkdir()
    stack = Stack("embedded", tmp_path / "stack", {"ADDROP_JOB_LEASE_SECONDS": "120"})
    try:
        stack.start_api()
        stack.start_worker()
        client = stack.client()
        job = client.post("/api/jobs", json=job_request(model, data, epochs=50)).json()["id"]
        wait_for(lambda: (client.get(f"/api/jobs/{job}").json().get("progress") or {}).get("step", 0) > 0, 180,
                 "the job to train", interval=0.5)
        wait_for(lambda: [w["busy_job_id"] for w in client.get("/api/health").json()["workers"]] == [job], 30,
                 "health to show the worker busy with the job", interval=0.2)
        pool = psutil.Process(stack.worker.pid).children()
        assert pool, "the worker has no pool process"
        os.killpg(stack.worker.pid, signal.SIGKILL)  # the worker and its pool process, as an operator's kill -9
        stack.worker.wait()
        killed = time.monotonic()
        wait_for(lambda: client.get("/api/health").json()["workers"] == [], 10, "the dead worker to leave health",
                 interval=0.2)
        health_seconds = time.monotonic() - killed
        failed = wait_for(lambda: (j := client.get(f"/api/jobs/{job}").json())["state"] == "failed" and j, 10,
                          "the job to fail", interval=0.2)
        job_seconds = time.monotonic() - killed
        assert f"is gone: neither its process {stack.worker.pid} nor its pool process {pool[0].pid}" in failed["error"]
        print(f"standalone worker killed -> gone from health: {health_seconds:.1f} s, job failed: {job_seconds:.1f} s")
        assert health_seconds < 6 and job_seconds < 6
    finally:
        stack.close()
