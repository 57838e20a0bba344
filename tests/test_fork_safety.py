"""The worker's parent forks a fresh pool process for every job, so it must hold no database connection when it
forks: a connection (or SQLite's locks) inherited by the child hung a pool process at start-up about once in
66 starts, garbage-collected during ``import torch``. Here the parent queries the database for every message
(the stale-message check) and for the lost-job signal, yet between jobs, while it forks the next pool process
(one per job), it has no database file open."""

from __future__ import annotations

import os
from pathlib import Path

from tests.jobs_stack import Stack, job_request, make_sst2_slice, wait_for
from tests.tiny_models import save_tiny_model

JOBS = 4


def open_database_files(pid: int, folder: Path) -> list[str]:
    """The SQLite files of ``folder`` (database, journal, WAL) process ``pid`` has open."""
    names = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith(str(folder)) and "studio.db" in target:
            names.append(target)
    return names


def test_the_worker_parent_forks_with_no_database_connection(shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "model")
    data = make_sst2_slice(shared_data, tmp_path / "sst2", train=16, validation=8)
    (tmp_path / "stack").mkdir()
    stack = Stack("embedded", tmp_path / "stack")
    try:
        stack.start_api()
        stack.start_worker()
        client = stack.client()
        parent = stack.worker.pid
        for index in range(JOBS):
            job_id = client.post("/api/jobs", json=job_request(model, data, epochs=1)).json()["id"]
            wait_for(lambda: client.get(f"/api/jobs/{job_id}").json()["state"] == "succeeded", 180,
                     f"job {index + 1} of {JOBS} to succeed")
            # the next pool process is forked as soon as this job's is gone: look while it starts
            assert open_database_files(parent, stack.root) == [], f"after job {index + 1}"
        assert open_database_files(parent, stack.root) == []
    finally:
        stack.close()
