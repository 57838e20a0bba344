"""A stale job message (its job cancelled, already run, or sent twice) is discarded by the worker's parent
with one query: it costs no fresh pool process (which loads torch) and barely delays the jobs behind it."""

from __future__ import annotations

import re
import time
from datetime import datetime

from tests.jobs_stack import Stack, job_request, make_sst2_slice, wait_for
from tests.tiny_models import save_tiny_model

STALE = 6


def test_stale_messages_are_discarded_without_a_pool_process(shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=16, validation=8)
    (tmp_path / "stack").mkdir()
    stack = Stack("embedded", tmp_path / "stack")
    try:
        stack.start_api()
        client = stack.client()
        stale = [client.post("/api/jobs", json=job_request(model, data, epochs=1)).json()["id"] for _ in range(STALE)]
        for job_id in stale:
            assert client.post(f"/api/jobs/{job_id}/cancel").json()["state"] == "cancelled"
        wanted = client.post("/api/jobs", json=job_request(model, data, epochs=1)).json()["id"]
        started = time.monotonic()
        stack.start_worker()
        wait_for(lambda: client.get(f"/api/jobs/{wanted}").json()["state"] in ("running", "succeeded"), 120,
                 "the job behind the stale messages to start", interval=0.2)
        delay = time.monotonic() - started
        wait_for(lambda: client.get(f"/api/jobs/{wanted}").json()["state"] == "succeeded", 120, "it to succeed")
        log = (stack.root / "worker.log").read_text()
        # each stale message is discarded by the worker's parent (MainProcess) as it arrives
        discarded = re.findall(r"INFO/(\S+)\] job \d+ is not queued any more; its message is discarded", log)
        assert discarded == ["MainProcess"] * STALE, discarded
        assert "nothing to do" not in log  # no pool process ran a stale job only to skip it
        # and no pool process was spent on one: the job behind them runs in the worker's first pool process
        assert re.findall(r"/(ForkPoolWorker-\d+)\] started on ", log) == ["ForkPoolWorker-1"], log[-3000:]
        # the seven messages arrived together, not one per pool process (each loads torch: seconds apiece)
        received = [datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f") for stamp in
                    re.findall(r"^\[([\d-]+ [\d:,]+): INFO/MainProcess\] Task \S+ received$", log, re.MULTILINE)]
        assert len(received) == STALE + 1 and (received[-1] - received[0]).total_seconds() < 10, received
        # The delay includes the worker's start and its pool process's (torch, transformers): 24 s at load 6 on
        # two cores, so it is reported rather than bounded; six more pool processes would add half a minute or more.
        print(f"{STALE} stale messages ahead: the job started {delay:.1f} s after the worker")
    finally:
        stack.close()
