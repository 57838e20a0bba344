"""A worker's pool process that does not finish starting within ``ADDROP_POOL_PROCESS_TIMEOUT_SECONDS`` writes
its Python stacks to the worker's log and exits, and the worker starts another: a process frozen at start-up
(seen once in about 200 starts, in a C lock during ``import torch``) no longer holds the queue forever.

A real start opens the database and starts the presence thread (torch and transformers come imported from the
worker's parent), which takes far longer than a millisecond, so with a 1 ms limit every pool process here is one
that has not finished starting in time."""

from __future__ import annotations

import re
import time

import psutil

from tests.jobs_stack import Stack, wait_for


def test_a_pool_process_that_does_not_start_in_time_is_ended_and_replaced(tmp_path):
    stack = Stack("embedded", tmp_path, {"ADDROP_POOL_PROCESS_TIMEOUT_SECONDS": "0.001"})
    log = tmp_path / "worker.log"
    try:
        stack.start_worker()
        seen: set[int] = set()

        def replaced() -> bool:
            for child in psutil.Process(stack.worker.pid).children(recursive=True):
                seen.add(child.pid)
            text = log.read_text(errors="replace") if log.exists() else ""
            return len(re.findall(r"Timeout \(0:00:00\.001000\)!", text)) >= 2 and len(seen) >= 2

        wait_for(replaced, 240, "two pool processes ended at their start-up limit and replaced", interval=0.2)
        # each one left its stack where it was in its start-up (faulthandler keeps the innermost 100 frames, so
        # an `import torch` deep in importlib may cut the outer frames such as Celery's _prepare_child); the
        # header is written before the stack, so the last dump may still be under way: give it a moment
        dump = r"Timeout \(0:00:00\.001000\)!\nThread 0x[0-9a-f]+ \(most recent call first\):\n  File "
        deadline = time.monotonic() + 10
        while len(re.findall(dump, text := log.read_text(errors="replace"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        dumps = re.findall(dump, text)
        assert len(dumps) >= 2, text[-3000:]
        assert stack.worker.poll() is None  # the worker itself lives on and keeps starting pool processes
    finally:
        stack.close()
