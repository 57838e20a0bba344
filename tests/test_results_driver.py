"""results/run_experiments.py: a plain run recorded by one phase stands in for another phase's only when it is the
same job (same data and training), so the experiment never repeats a run and never borrows a different one; a
task's learning rate is the paper's until its lr phase has run every rate, then the best baseline's; a run file
credits the code that trained the job (the environment its worker recorded), never the driver's own checkout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "results"))
import run_experiments  # noqa: E402


def recorded_baseline(runs: Path, task: str, phase: str, seed: int, **changes) -> None:
    spec = run_experiments.base_job(task, Path("/elsewhere"), seed)
    for section, values in changes.items():
        spec[section] = {**spec[section], **values}
    run = {"task": task, "phase": phase, "role": "baseline", "setting": None, "seed": seed, "best_metric": 0.8,
           "spec": spec, "epochs": []}
    (runs / task / phase).mkdir(parents=True, exist_ok=True)
    (runs / task / phase / f"baseline-seed{seed}.json").write_text(json.dumps(run))


def test_a_recorded_baseline_is_reused_only_when_it_is_the_same_job(tmp_path, monkeypatch):
    monkeypatch.setattr(run_experiments, "RUNS", tmp_path)
    recorded_baseline(tmp_path, "mrpc", "search", 42)
    recorded_baseline(tmp_path, "rte", "search", 42, training={"learning_rate": 1e-4})
    recorded_baseline(tmp_path, "sst2", "grid", 42, data={"max_train_samples": None})

    assert run_experiments.reuse_baseline("mrpc", "prior", 42)
    copy = json.loads((tmp_path / "mrpc" / "prior" / "baseline-seed42.json").read_text())
    assert copy["phase"] == "prior" and copy["copied_from"] == "search/baseline-seed42.json"
    assert not run_experiments.reuse_baseline("mrpc", "prior", 1)  # no run of that seed
    assert not run_experiments.reuse_baseline("rte", "prior", 42)  # trained with another learning rate
    assert not run_experiments.reuse_baseline("sst2", "prior", 42)  # trained on all of SST-2, not the subset
    assert not (tmp_path / "rte" / "prior").exists() and not (tmp_path / "sst2" / "prior").exists()


def test_a_task_trains_at_the_best_baseline_learning_rate_once_its_lr_phase_is_complete(tmp_path, monkeypatch):
    monkeypatch.setattr(run_experiments, "RUNS", tmp_path)
    paper = run_experiments.TRAINING["learning_rate"]
    assert run_experiments.task_learning_rate("rte") == paper
    assert run_experiments.base_job("rte", tmp_path, 1)["training"]["learning_rate"] == paper
    folder = tmp_path / "rte" / "lr"
    folder.mkdir(parents=True)
    for rate, best in zip(run_experiments.LEARNING_RATES, (0.53, 0.61, 0.58)):
        run = {"task": "rte", "phase": "lr", "role": "baseline", "seed": 42, "best_metric": best,
               "spec": run_experiments.base_job("rte", tmp_path, 42, learning_rate=rate)}
        (folder / f"{run_experiments.run_name(run)}.json").write_text(json.dumps(run))
        if rate == run_experiments.LEARNING_RATES[0]:
            with pytest.raises(SystemExit, match="part-way"):  # never a rate chosen from half the candidates
                run_experiments.task_learning_rate("rte")
    assert sorted(p.name for p in folder.iterdir()) == ["baseline-lr0.0001-seed42.json", "baseline-lr2e-05-seed42.json",
                                                       "baseline-lr5e-05-seed42.json"]
    assert run_experiments.task_learning_rate("rte") == 5e-5
    assert run_experiments.base_job("rte", tmp_path, 1)["training"]["learning_rate"] == 5e-5
    assert run_experiments.base_job("mrpc", tmp_path, 1)["training"]["learning_rate"] == paper  # other tasks unmoved


def finished_job(seed: int, environment: dict | None) -> dict:
    """``GET /api/jobs/{id}`` of a finished baseline run of MRPC."""
    spec = run_experiments.base_job("mrpc", Path("/data/glue"), seed, enabled=False)
    return {"state": "succeeded", "error": None, "metric": "f1", "best_metric": 0.8, "best_epoch": 1.0,
            "final_metrics": {"f1": 0.8}, "spec": spec,
            "sweep_id": None, "started_at": "2026-01-01T10:00:00+00:00", "finished_at": "2026-01-01T10:05:00+00:00",
            "worker": "node:1", "environment": environment}


def test_a_run_file_names_the_commit_that_trained_the_job_not_the_drivers(tmp_path, monkeypatch):
    monkeypatch.setattr(run_experiments, "RESULTS", tmp_path)
    monkeypatch.setattr(run_experiments, "RUNS", tmp_path / "runs")
    driver = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                            text=True, check=True).stdout.strip()
    worker = {"addrop": "0.1.0", "commit": "0abc123", "dirty": True, "python": "3.12.1", "torch": "2.9.0",
              "transformers": "5.0.0", "device": "cuda", "torch_threads": 8, "cpu": "a worker's CPU", "cores": 64,
              "gpu": "NVIDIA H100"}
    jobs = {1: finished_job(1, worker), 2: finished_job(2, None)}  # job 2 ran before workers recorded it
    studio = run_experiments.Studio("http://studio.invalid", Path("/data/glue"))
    monkeypatch.setattr(studio, "call", lambda method, path, **_: (
        [] if path.endswith("/metrics") else jobs[int(path.rsplit("/", 1)[1])]))

    assert studio.record("mrpc", "confirm", 1) and studio.record("mrpc", "confirm", 2)
    recorded = {run["seed"]: run["machine"] for run in run_experiments.recorded("mrpc", "confirm")}
    load = recorded[1].pop("load_15min")  # this machine's, at recording: the only thing the driver adds
    assert recorded[1] == worker and isinstance(load, float)
    assert recorded[2]["commit"] is None and driver not in json.dumps(recorded[2])
    assert {"cpu", "cores", "python", "load_15min"} <= set(recorded[2])  # what the driver can still say of it


def test_a_run_file_names_its_data_relative_to_the_data_directory_also_when_the_server_hides_it(tmp_path,
                                                                                                monkeypatch):
    """A server shows no directory outside its own data directory (``data_dir`` null): the run file still names
    the data the driver's jobs train on, relative to the shared data directory, as it does when it is shown."""
    monkeypatch.setattr(run_experiments, "RESULTS", tmp_path)
    monkeypatch.setattr(run_experiments, "RUNS", tmp_path / "runs")
    shown, hidden = finished_job(1, None), finished_job(2, None)
    hidden["spec"]["data"]["data_dir"] = None
    jobs = {1: shown, 2: hidden}
    studio = run_experiments.Studio("http://studio.invalid", Path("/data/glue"))
    monkeypatch.setattr(studio, "call", lambda method, path, **_: (
        [] if path.endswith("/metrics") else jobs[int(path.rsplit("/", 1)[1])]))

    assert studio.record("mrpc", "confirm", 1) and studio.record("mrpc", "confirm", 2)
    assert {run["seed"]: run["spec"]["data"]["data_dir"] for run in run_experiments.recorded("mrpc", "confirm")} == {
        1: "glue/mrpc", 2: "glue/mrpc"}


def test_every_committed_run_file_names_its_data_by_a_relative_path():
    runs = sorted(run_experiments.RUNS.glob("*/*/*.json"))
    assert runs
    for path in runs:
        data = json.loads(path.read_text())["spec"]["data"]
        assert data["source"] != "directory" or data["data_dir"] == f"glue/{data['task']}", (path.name, data)


def test_a_confirmation_queues_all_its_sweeps_before_it_waits_for_any(tmp_path, monkeypatch):
    """A worker freed by one sweep's last run must find the other sweep's runs queued: the AD-DROP side of seeds
    whose baseline is recorded goes first (each of its runs completes a pair), then the seeds that lack both."""
    monkeypatch.setattr(run_experiments, "RUNS", tmp_path)
    setting = {"p": 0.7, "q": 0.1, "method": "GA", "mode": "high", "layers": [0, 1, 2, 3, 4, 5]}
    search = tmp_path / "rte" / "authors-search"
    search.mkdir(parents=True)
    (search / "chosen.json").write_text(json.dumps({"role": "addrop", "state": "succeeded", "setting": setting,
                                                   "seed": 42, "best_metric": 0.6}))
    for seed in (1, 2):
        recorded_baseline(tmp_path, "rte", "authors-confirm", seed)
    calls: list[tuple] = []

    class Recorder(run_experiments.Studio):
        def __init__(self):
            pass

        def start(self, task, phase, body):
            calls.append(("start", body["seeds"], body["baseline"]))
            return len(calls)

        def follow(self, task, phase, sweep_ids=(), job_ids=()):
            calls.append(("follow", list(sweep_ids)))

    run_experiments.confirm(Recorder(), "rte", tmp_path, run_experiments.AUTHORS)
    assert calls == [("start", [1, 2], False), ("start", [3, 4, 5], True), ("follow", [1, 2])]
