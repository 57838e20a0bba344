"""A paused machine (a suspended laptop, a snapshotted VM) fails no job whose worker is alive.

Seen in a CI run: the VM was paused for about 70 s; on resume every running job's heartbeat was 70 s old,
the API's reaper failed a job whose worker renewed its lease a moment later, and the run was thrown away.
The worker's own stall watchdog must not count the pause either.
"""

from __future__ import annotations

import signal
import time

import psutil

from backend.jobs import PauseGuard
from jobstore.orm import FINISHED
from tests.jobs_stack import Stack, job_request, make_sst2_slice, wait_for
from tests.tiny_models import save_tiny_model


def test_the_reaper_holds_back_for_a_lease_after_its_own_loop_was_held_up():
    guard = PauseGuard(interval=2.5, lease=10, now=1000.0)
    assert guard.may_reap(1002.5) and guard.may_reap(1005.0)
    assert guard.may_reap(1012.0)  # 7 s apart: late, but within half a lease of the interval
    assert not guard.may_reap(1090.0)  # 78 s apart: a pause; the workers get a lease to renew
    assert not guard.may_reap(1092.5) and not guard.may_reap(1097.5)
    assert guard.may_reap(1100.0) and guard.may_reap(1102.5)


def _pause(processes: list[psutil.Process], sig: signal.Signals) -> None:
    for process in processes:
        process.send_signal(sig)


def test_a_job_survives_a_pause_of_the_whole_machine(shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=64, validation=16)
    (tmp_path / "stack").mkdir()
    # A 10 s job lease, a heartbeat every second, and a stall watchdog shorter than the pause.
    stack = Stack("embedded", tmp_path / "stack", {"ADDROP_JOB_STALL_SECONDS": "12"})
    try:
        stack.start_api()
        stack.start_worker()
        client = stack.client()
        job_id = client.post("/api/jobs", json=job_request(model, data, epochs=30, patience=None)).json()["id"]
        wait_for(lambda: client.get(f"/api/jobs/{job_id}").json()["progress"]["step"] > 0, 180, "the job to train")
        worker = psutil.Process(stack.worker.pid)
        workers = [worker, *worker.children(recursive=True)]
        api = psutil.Process(stack.api.pid)
        _pause([api, *workers], signal.SIGSTOP)
        time.sleep(16)  # longer than the lease and its half, and than the stall limit: every heartbeat is stale now
        # The API wakes first, so its reaper sees the stale heartbeat before the worker can renew it.
        _pause([api], signal.SIGCONT)
        time.sleep(3)
        _pause(workers, signal.SIGCONT)
        done = wait_for(lambda: (job := client.get(f"/api/jobs/{job_id}").json())["state"] in FINISHED
                        and job, 300, "the job to finish")
        log = client.get(f"/api/jobs/{job_id}/log").text
        assert done["state"] == "succeeded", (done["state"], done["error"])
        assert "stopped responding" not in log and "no training progress" not in log
        assert "the job reaper was held up" in (stack.root / "api.log").read_text()
    finally:
        stack.close()
