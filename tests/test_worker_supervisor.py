"""The embedded worker is supervised: killed (parent and pool), it is started again and the next job runs
without anyone restarting the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.browser import ROOT, free_port, wait_until_healthy
from tests.jobs_stack import api_client, job_request, make_sst2_slice, wait_for
from tests.tiny_models import save_tiny_model


def worker_of(server: subprocess.Popen) -> psutil.Process | None:
    """The server's embedded worker process (``python -m worker``), if one runs."""
    for child in psutil.Process(server.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "worker" in " ".join(child.cmdline()):
                return child
        except psutil.Error:  # it died (or was reaped) while we looked
            continue
    return None


def start_server(tmp_path, settings: dict[str, str], unset: tuple[str, ...] = (),
                 log_name: str = "server.log") -> tuple[subprocess.Popen, str, Path]:
    """``python -m backend`` on the embedded default with its own data directory (``tmp_path``/data) and
    ``settings``; returns the process, its URL and its log (``log_name``) once it answers."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "ADDROP_DATA_DIR": str(tmp_path / "data"), **settings}
    for name in ("DATABASE_URL", "ADDROP_DATABASE_URL", "ADDROP_BROKER_URL", "CELERY_BROKER_URL", *unset):
        env.pop(name, None)
    log = tmp_path / log_name
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "backend", "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(server, url, log, 120)
    except BaseException:
        os.killpg(server.pid, signal.SIGKILL)
        raise
    return server, url, log


def test_a_killed_embedded_worker_is_replaced_and_the_next_job_runs(shared_data, tmp_path):
    server, url, log = start_server(tmp_path, {"OMP_NUM_THREADS": "1", "ADDROP_JOB_LEASE_SECONDS": "5",
                                               "ADDROP_JOB_HEARTBEAT_SECONDS": "1"})
    try:
        first = wait_for(lambda: worker_of(server), 60, "the embedded worker to start")
        os.killpg(first.pid, signal.SIGKILL)  # the worker's parent and its pool child together
        killed = time.monotonic()
        second = wait_for(lambda: (w := worker_of(server)) and w.pid != first.pid and w, 60, "a new worker")
        model = save_tiny_model(tmp_path / "model")
        data = make_sst2_slice(shared_data, tmp_path / "sst2", train=32, validation=16)
        with api_client(url) as client:
            job = client.post("/api/jobs", json=job_request(model, data, epochs=1)).json()
            wait_for(lambda: client.get(f"/api/jobs/{job['id']}").json()["state"] == "succeeded", 180,
                     "the job after the restart to succeed", interval=0.5)
        elapsed = time.monotonic() - killed
        assert second.is_running()
        assert "the job worker exited" in log.read_text()
        print(f"worker killed -> new worker in the process table -> job done: {elapsed:.1f} s")
    finally:
        descendants = psutil.Process(server.pid).children(recursive=True)
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(descendants, timeout=15)
    assert not alive, f"left running after the server stopped: {alive}"  # the supervisor stopped its worker


def test_several_embedded_workers_share_the_cores_and_run_jobs_at_once(shared_data, tmp_path):
    server, url, log = start_server(tmp_path, {"ADDROP_EMBEDDED_WORKERS": "2"},
                                    unset=("OMP_NUM_THREADS", "MKL_NUM_THREADS"))
    try:
        model = save_tiny_model(tmp_path / "model")
        data = make_sst2_slice(shared_data, tmp_path / "sst2", train=64, validation=16)
        with api_client(url) as client:
            wait_for(lambda: len(client.get("/api/health").json()["workers"]) == 2, 120, "two live workers")
            workers = [w for w in psutil.Process(server.pid).children() if "worker" in " ".join(w.cmdline())]
            threads = str(max(1, (os.cpu_count() or 1) // 2))
            assert sorted(w.environ().get("OMP_NUM_THREADS") for w in workers) == [threads, threads]
            ids = [client.post("/api/jobs", json=job_request(model, data, epochs=2)).json()["id"] for _ in range(2)]
            # one on each worker
            wait_for(lambda: {client.get(f"/api/jobs/{i}").json()["state"] for i in ids} <= {"running", "succeeded"}
                     and len({client.get(f"/api/jobs/{i}").json()["worker"] for i in ids} - {None}) == 2, 180,
                     "both jobs to be taken, by two workers")
            wait_for(lambda: all(client.get(f"/api/jobs/{i}").json()["state"] == "succeeded" for i in ids), 240,
                     "both jobs to succeed", interval=0.5)
        # Workers that start together race to declare the queue on a new broker file; none may lose and exit.
        assert "the job worker exited" not in log.read_text()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def test_a_worker_killed_mid_job_fails_its_job_and_leaves_health_at_once(shared_data, tmp_path):
    """SIGKILL of the worker's main process alone, while its pool process trains: the supervisor kills the
    orphaned pool process (no training beside the next worker's), fails the job with the reason and drops the
    worker from health within seconds, long before the job's 60 s lease or the presence window would."""
    server, url, log = start_server(tmp_path, {"OMP_NUM_THREADS": "1", "ADDROP_JOB_LEASE_SECONDS": "60"})
    try:
        model = save_tiny_model(tmp_path / "model")
        data = make_sst2_slice(shared_data, tmp_path / "sst2", train=256, validation=16)
        with api_client(url) as client:
            job = client.post("/api/jobs", json=job_request(model, data, epochs=50)).json()
            wait_for(lambda: (client.get(f"/api/jobs/{job['id']}").json().get("progress") or {}).get("step", 0) > 0, 180,
                     "the job to train")
            worker = worker_of(server)
            pool = worker.children()
            wait_for(lambda: [w["busy_job_id"] for w in client.get("/api/health").json()["workers"]] == [job["id"]], 10,
                     "health to show the worker busy with the job", interval=0.2)
            os.kill(worker.pid, signal.SIGKILL)  # the parent only: its pool process would train on
            killed = time.monotonic()
            failed = wait_for(lambda: (j := client.get(f"/api/jobs/{job['id']}").json())["state"] == "failed" and j,
                              20, "the job to fail", interval=0.2)
            job_seconds = time.monotonic() - killed
            assert f"(process {worker.pid}) was killed by SIGKILL" in failed["error"]
            # health reads the live workers at most CACHE_SECONDS old
            wait_for(lambda: not any(w["name"].endswith(f":{worker.pid}")
                                     for w in client.get("/api/health").json()["workers"]), 10,
                     "the dead worker to leave health", interval=0.2)
            health_seconds = time.monotonic() - killed
            _, alive = psutil.wait_procs(pool, timeout=5)
            assert not alive, f"the pool process outlived its worker: {alive}"
        print(f"worker killed -> job failed: {job_seconds:.1f} s, gone from health: {health_seconds:.1f} s")
        assert job_seconds < 10
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
