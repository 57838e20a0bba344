"""One set of embedded job workers per data directory. After the API is killed (SIGKILL), its orphaned worker
finishes the job it runs (it was told to stop when the API died); a new API on the same data directory serves at
once but starts its own worker only when the orphan has exited, so the two never train at once, and the job the
new API was given runs after the orphan's. Here the orphan's job is long and is cancelled from the new API (as an
operator who does not want to wait would), which ends it after its current step.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from datetime import datetime

import psutil

from backend.worker_set_lock import LOCK_FILE
from tests.jobs_stack import api_client, job_request, make_sst2_slice, wait_for
from tests.tiny_models import save_tiny_model
from tests.test_worker_supervisor import start_server, worker_of

ENV = {"OMP_NUM_THREADS": "1", "ADDROP_JOB_LEASE_SECONDS": "60"}


def stop(server: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def holders(path) -> list[psutil.Process]:
    """The processes that have the lock file open."""
    found = []
    for process in psutil.process_iter():
        try:
            if any(f.path == str(path) for f in process.open_files()):
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_a_new_api_waits_for_the_orphaned_worker_and_never_trains_beside_it(shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=256, validation=16)
    first, url, _ = start_server(tmp_path, ENV, log_name="first.log")
    orphan = None
    second = None
    try:
        with api_client(url) as client:
            job = client.post("/api/jobs", json=job_request(model, data, epochs=200, patience=None)).json()["id"]
            wait_for(lambda: (client.get(f"/api/jobs/{job}").json().get("progress") or {}).get("step", 0) > 0, 180,
                     "the first job to train", interval=0.5)
        orphan = worker_of(first)
        pool = orphan.children()
        # the worker and its pool process hold the lock through the file the server handed them
        assert {orphan.pid, *(p.pid for p in pool)} <= {p.pid for p in holders(tmp_path / "data" / LOCK_FILE)}
        first.kill()  # the API alone, as a crash would
        first.wait()

        second, url, log = start_server(tmp_path, ENV, log_name="second.log")
        started = time.monotonic()
        with api_client(url) as client:
            assert client.get(f"/api/jobs/{job}").json()["state"] == "running"  # still the orphan's
            assert worker_of(second) is None and "still run" in log.read_text()
            warning = client.get("/api/health").json()["warning"]
            assert f"job workers that process {first.pid} started" in warning, warning
            later = client.post("/api/jobs", json=job_request(model, data, epochs=1)).json()["id"]
            most_running, cancelled_at = 0, None
            deadline = time.monotonic() + 300
            while (states := [client.get(f"/api/jobs/{i}").json()["state"] for i in (job, later)]) != ["cancelled",
                                                                                                       "succeeded"]:
                assert "failed" not in states, client.get(f"/api/jobs/{later}").json()
                most_running = max(most_running, states.count("running"))
                if cancelled_at is None and time.monotonic() - started > 10:  # seen waiting for 10 s: enough
                    assert worker_of(second) is None and states == ["running", "queued"]
                    assert client.post(f"/api/jobs/{job}/cancel").status_code == 200
                    cancelled_at = time.monotonic()
                assert time.monotonic() < deadline, f"the jobs did not end: {states}"
                time.sleep(0.2)
            first_job, later_job = (client.get(f"/api/jobs/{i}").json() for i in (job, later))
        assert most_running == 1
        assert (datetime.fromisoformat(later_job["started_at"]) >= datetime.fromisoformat(first_job["finished_at"]))
        assert not orphan.is_running() and worker_of(second) is not None  # the new server's own worker took over
        with api_client(url) as client:
            assert client.get("/api/health").json()["warning"] is None
    finally:
        if orphan is not None and orphan.is_running():
            os.killpg(orphan.pid, signal.SIGKILL)
        stop(first)
        if second is not None:
            stop(second)
