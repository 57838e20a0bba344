"""A run that makes no progress is noticed by the system: the worker's watchdog fails it when no training
step or evaluation batch came for ADDROP_JOB_STALL_SECONDS (its heartbeat alone would keep it 'running'
forever), and the worker is free for the next job. Time the process was paused is not a stall."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.jobs_stack import job_request, make_sst2_slice, running_stack, wait_for
from tests.tiny_models import save_tiny_model
from worker import runner

STALL = 4


class Recorder:
    """Stands in for the job's database row: a heartbeat query takes ``query_seconds`` of the clock."""

    job_id = 1

    def __init__(self, clock: SimpleNamespace, query_seconds: float) -> None:
        self.clock, self.query_seconds, self.finished = clock, query_seconds, None

    def heartbeat(self) -> tuple[bool, bool]:
        self.clock.now += self.query_seconds
        return True, False

    def finish(self, state: str, error: str) -> None:
        self.finished = (self.clock.now, error)


def watch(monkeypatch, ticks: list[tuple[float, bool]], query_seconds: float = 0.0) -> float | None:
    """Run a heartbeat (1 s interval, 10 s stall limit) over scripted ticks on a fake monotonic clock: each tick
    is (how much later than asked its wait returns, whether the loop stepped just before it woke). Returns the
    clock time since the last step at which the run was failed as stalled, or None."""
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(runner, "time", SimpleNamespace(monotonic=lambda: clock.now))
    recorder = Recorder(clock, query_seconds)
    heartbeat = runner.Heartbeat(recorder, interval=1.0, stall_seconds=10.0)
    script = iter(ticks)

    def wait(timeout: float) -> bool:
        if heartbeat.stop.is_set():
            return True  # the stalled run's grace wait: it stopped
        tick = next(script, None)
        if tick is None:
            return True
        clock.now += timeout + tick[0]
        if tick[1]:
            heartbeat.touch()
        return False

    monkeypatch.setattr(heartbeat._done, "wait", wait)
    heartbeat.run()
    return None if recorder.finished is None else recorder.finished[0] - heartbeat._progress


@pytest.mark.parametrize("pause", [30.0, 3600.0])
def test_a_pause_is_not_a_stall(monkeypatch, pause):
    # Stepping every second, then a pause; after it the loop steps again, or is slow to (5 s): no stall.
    assert watch(monkeypatch, [(0, True)] * 5 + [(pause, False)] + [(0, False)] * 4 + [(0, True)] * 3) is None
    # Without a step after the pause, it stalls 10 s of running time after the last one, not at once.
    assert watch(monkeypatch, [(0, True)] * 5 + [(pause, False)] + [(0, False)] * 20) == pytest.approx(pause + 11)


def test_a_step_on_resume_does_not_carry_the_pause_into_a_later_hang(monkeypatch):
    # The loop stepped once as the process resumed, before the heartbeat woke, then hung: failed 11 s after
    # that step (the first tick past 10 s), not a pause later.
    assert watch(monkeypatch, [(0, True)] * 3 + [(600, True)] + [(0, False)] * 30) == pytest.approx(11)


def test_a_slow_heartbeat_query_is_not_a_pause(monkeypatch):
    # Each lease renewal takes 3 s (a slow database) while the loop hangs: it still stalls after 10 s.
    assert watch(monkeypatch, [(0, True)] + [(0, False)] * 10, query_seconds=3.0) == pytest.approx(12)


def test_a_run_without_progress_is_failed_and_the_worker_moves_on(shared_data, tmp_path):
    model = save_tiny_model(tmp_path / "model")
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
