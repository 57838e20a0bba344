"""Measures AD-DROP on GLUE with the product's own sweeps, resumably: every finished run is written to
``results/runs/<task>/<phase>/`` as soon as it ends, and a run already recorded is never run again.

Phases, per task:
  search   an adaptive (TPE) sweep of p and q on the paper's 9 x 9 grid, seed 42, beside its baseline twin;
           resumed with the recorded runs as the sweep's ``prior`` settings
  confirm  the best searched setting and the baseline at seeds the search did not use (1, 2, 3)
  prior    the paper's Figure 2 (MRPC): GA high vs low attribution vs RD vs no dropping, layer 0, p = q = 0.3,
           dropping in every epoch; its no-dropping run is a recorded seed-42 baseline of the same job when
           there is one
  lr       the baseline (AD-DROP off) at each of LEARNING_RATES, seed 42, for a task where MiniLM learns little at
           the paper's 2e-5 in 4 epochs (RTE); every later phase of the task trains at the best one, so AD-DROP
           and the baseline share a learning rate chosen for the baseline. Run it before the task's search
  grid     every setting of a 5 x 5 grid of p and q (Optuna's GridSampler), seed 42, beside its baseline twin,
           no pruning: the reference an adaptive search is measured against (report/adaptive.py replays the
           product's TPE search on the recorded values); it also counts as the task's search
  authors-search, authors-confirm
           the search and its confirmation under the authors' protocol (``addrop.presets``: lr 1e-5 held
           constant, batch 16, early stopping with patience 5, the task's max length and masked layers), epochs
           capped at AUTHORS_EPOCH_CAP; confirmed at AUTHORS_CONFIRM_SEEDS
  authors-baselines
           only the plain runs of authors-confirm, ``--parallel`` seeds at a time: they do not depend on the search's
           outcome, so they can train beside it (authors-confirm then runs only the AD-DROP side)
  dynamics the confirmed setting and the baseline at seed DYNAMICS_SEED with attribution dynamics recorded (the
           same probe set for both): per epoch, concentration, entropy, stability and reliance of the maps, in
           each run file's epochs

It talks to a running AD-DROP Studio (``bash scripts/start.sh``; the embedded worker trains the runs):

    python results/run_experiments.py --task rte --phase search
    python results/run_experiments.py --task mrpc --task stsb --phase search --phase confirm --parallel 2
    python results/build_results.py            # tables and plots from the run files
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import httpx

from report.runs import best_run  # the same run the results table reports

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from addrop.environment import cpu  # noqa: E402
from addrop.presets import authors_protocol  # noqa: E402
from report.authors_protocol import search_settings  # noqa: E402  (the search size the report counts as done)

RESULTS = Path(__file__).resolve().parent
RUNS = RESULTS / "runs"
ROOT = RESULTS.parent
PAPER_GRID = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
SEARCH_SEED = 42
CONFIRM_SEEDS = [1, 2, 3]
# The training every run shares: the paper's BERT setting (lr 2e-5, batch 16), cut to what a 2-core CPU can
# afford: 4 epochs, so that cross-tuning alternates plain, AD-DROP, plain, AD-DROP. The best epoch on the dev
# metric is kept; patience 3 lets every run reach its second AD-DROP epoch (with patience 2 a run whose plain
# first epoch was its best stopped after epoch 3, and every trial then scored that shared first epoch).
TRAINING = {"epochs": 4, "batch_size": 16, "learning_rate": 2e-5, "max_length": 128, "patience": 3,
            "device": "cpu", "logging_steps": 20}
SEARCH_BUDGET = 10
GRID = [0.1, 0.3, 0.5, 0.7, 0.9]
# SST-2's 67k training sentences are out of reach on this CPU: its runs train on a random subset of this size
# (drawn with the run's seed, so a baseline and AD-DROP run of the same seed see the same sentences).
TRAIN_SUBSET = {"sst2": 2000}
LEARNING_RATES = [2e-5, 5e-5, 1e-4]
PRIOR_VARIANTS = [("GA", "high"), ("GA", "low"), ("RD", "high")]
# The authors' protocol runs up to 50 epochs (patience 5); a MiniLM run on this CPU stops on patience after
# 14-18 epochs, so 30 rarely binds. The cap is recorded in every run's spec and said in the results.
AUTHORS_EPOCH_CAP = 30
AUTHORS_CONFIRM_SEEDS = [1, 2, 3, 4, 5]
MINILM_LAYERS = 6
DYNAMICS_SEED = 1
DYNAMICS = {"enabled": True, "probe_size": 64}


def base_job(task: str, data_root: Path, seed: int, learning_rate: float | None = None, **addrop: Any) -> dict:
    """The job every run of ``task`` starts from, at the task's learning rate unless one is given."""
    data = {"source": "directory", "task": task, "data_dir": str(data_root / task)}
    if task in TRAIN_SUBSET:
        data["max_train_samples"] = TRAIN_SUBSET[task]
    return {"model": "minilm", "data": data,
            "training": {**TRAINING, "seed": seed, "learning_rate": learning_rate or task_learning_rate(task)},
            "addrop": {"method": "GA", "layers": [0], "cross_tuning": True, **addrop}}


def authors_job(task: str, data_root: Path, seed: int, **addrop: Any) -> dict:
    """The job of ``task`` under the authors' protocol (the preset), on MiniLM, epochs capped."""
    preset = authors_protocol(task)
    training = {**preset.training, "epochs": min(preset.training["epochs"], AUTHORS_EPOCH_CAP), "seed": seed,
                "device": "cpu", "logging_steps": 50}
    return {"model": "minilm", "data": {"source": "directory", "task": task, "data_dir": str(data_root / task)},
            "training": training,
            "addrop": {**{k: v for k, v in preset.addrop.items() if k != "enabled"},
                       "layers": preset.layers(MINILM_LAYERS), **addrop}}


@dataclass(frozen=True)
class Protocol:
    """How a search and its confirmation train: the job builder, the phase folders and the confirmation seeds."""

    name: str
    job: Callable[..., dict]
    search_phase: str
    confirm_phase: str
    confirm_seeds: list[int]
    pruning: dict


SHORT = Protocol("4 epochs", base_job, "search", "confirm", CONFIRM_SEEDS,
                 {"kind": "median", "warmup_epochs": 2, "startup_trials": 3})
# pruning only from epoch 6 on: the AD-DROP epochs dip and the plain ones recover, so a trial is judged after
# three of each
AUTHORS = Protocol("the authors' protocol", authors_job, "authors-search", "authors-confirm", AUTHORS_CONFIRM_SEEDS,
                   {"kind": "median", "warmup_epochs": 6, "startup_trials": 3})


def task_learning_rate(task: str) -> float:
    """The learning rate of the task's runs: the paper's (TRAINING), or the best baseline of its lr phase."""
    runs = [r for r in recorded(task, "lr") if r["best_metric"] is not None]
    if not runs:
        return TRAINING["learning_rate"]
    if {r["spec"]["training"]["learning_rate"] for r in runs} != set(LEARNING_RATES):
        raise SystemExit(f"{task}: the lr phase is part-way through; run --phase lr to finish it first")
    return max(runs, key=lambda r: r["best_metric"])["spec"]["training"]["learning_rate"]


def recorded(task: str, phase: str) -> list[dict]:
    """The runs of a phase written so far."""
    folder = RUNS / task / phase
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def run_name(run: dict) -> str:
    if run["role"] == "baseline" and run["phase"] == "lr":
        return f"baseline-lr{run['spec']['training']['learning_rate']:g}-seed{run['seed']}"
    if run["role"] == "baseline":
        return f"baseline-seed{run['seed']}"
    s = run["setting"]
    return f"{s['method']}-{s['mode']}-p{s['p']:g}-q{s['q']:g}-L{'-'.join(map(str, s['layers']))}-seed{run['seed']}"


def machine(environment: dict | None) -> dict:
    """Where a job trained: the environment its worker recorded (the commit of the code that trained it, not of
    this checkout), and this machine's 15-minute load average when the run was recorded (above the core count,
    the machine was shared). A job from before workers recorded it gets this machine's CPU and Python, and no
    commit: this checkout's need not be the one that trained it."""
    if environment is None:
        model, cores = cpu()
        environment = {"cpu": model, "cores": cores, "python": platform.python_version(), "commit": None}
    return {**environment, "load_15min": round(os.getloadavg()[2], 2)}


class Studio:
    """The parts of the REST API the experiments use."""

    def __init__(self, url: str, data_root: Path) -> None:
        self.http = httpx.Client(base_url=url, timeout=120)
        self.data_root = data_root

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, path, **kwargs)
        if answer.status_code >= 400:
            raise SystemExit(f"{method} {path}: {answer.status_code} {answer.text}")
        return answer.json()

    def record(self, task: str, phase: str, job_id: int) -> bool:
        """Write a finished job's run file (config, per-epoch metrics, result, wall time); True once the job
        needs no more looking at: recorded, or failed or cancelled (not recorded, so it runs again)."""
        job = self.call("GET", f"/api/jobs/{job_id}")
        if job["state"] in ("failed", "cancelled"):
            print(f"  job {job_id} {job['state']}: {job['error']}", file=sys.stderr)
            return True
        if job["state"] not in ("succeeded", "pruned"):
            return False
        points = self.call("GET", f"/api/jobs/{job_id}/metrics")
        losses: dict[int, list[float]] = {}
        for point in points:
            if point["kind"] == "step" and "loss" in point["values"]:
                losses.setdefault(int(point["epoch"] - 1e-9) + 1, []).append(point["values"]["loss"])
        # a job recording attribution dynamics: its summaries of each epoch's end, beside that epoch's dev metrics
        dynamics = {round(point["epoch"]): point["values"] for point in points if point["kind"] == "dynamics"}
        epochs = [{"epoch": round(point["epoch"]), "dev": point["values"],
                   "train_loss": statistics.fmean(losses.get(round(point["epoch"]), [float("nan")])),
                   **({"dynamics": dynamics[round(point["epoch"])]} if round(point["epoch"]) in dynamics else {})}
                  for point in points if point["kind"] == "eval"]
        spec = job["spec"]
        # a run file names its data relative to the shared data directory, never by this machine's path; a server
        # shows no directory outside its own data directory, so where it shows none, the run trained on the one
        # every job of this driver names (data_root / task)
        shown = spec["data"].get("data_dir") or (str(self.data_root / task) if spec["data"]["source"] == "directory"
                                                 else None)
        spec["data"]["data_dir"] = relative_data_dir(shown, self.data_root)
        enabled = spec["addrop"]["enabled"]
        run = {
            "task": task, "phase": phase, "role": "addrop" if enabled else "baseline",
            "setting": ({key: spec["addrop"][key] for key in ("p", "q", "method", "mode", "layers", "cross_tuning")}
                        if enabled else None),
            "seed": spec["training"]["seed"], "state": job["state"], "metric": job["metric"],
            "best_metric": job["best_metric"], "best_epoch": job["best_epoch"], "final_metrics": job["final_metrics"],
            "epochs": epochs, "spec": spec,
            "job": {"id": job_id, "sweep_id": job["sweep_id"], "started_at": job["started_at"],
                    "finished_at": job["finished_at"], "worker": job["worker"]},
            "wall_seconds": _seconds(job["started_at"], job["finished_at"]), "machine": machine(job.get("environment")),
        }
        path = RUNS / task / phase / f"{run_name(run)}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            return True
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(run, indent=1) + "\n")
        tmp.replace(path)
        print(f"  recorded {path.relative_to(RESULTS)}: best {run['metric']} {run['best_metric']} "
              f"({run['state']}, {run['wall_seconds']:.0f} s)")
        return True

    def running_sweep(self, name: str) -> int | None:
        """A sweep of this name still running (started by an earlier invocation): it is followed, not repeated."""
        items = self.call("GET", "/api/sweeps", params={"limit": 200})["items"]
        return next((s["id"] for s in items if s["name"] == name and s["state"] == "running"), None)

    def start(self, task: str, phase: str, body: dict) -> int:
        """Start the sweep, or pick up the running one of the same name; its id."""
        sweep_id = self.running_sweep(body["name"])
        if sweep_id is None:
            sweep_id = self.call("POST", "/api/sweeps", json=body)["id"]
            print(f"{task} {phase}: started sweep {sweep_id}")
        else:
            print(f"{task} {phase}: following sweep {sweep_id}, still running")
        return sweep_id

    def sweep(self, task: str, phase: str, body: dict) -> None:
        """Start the sweep (or pick up the running one of the same name) and record its runs."""
        self.follow(task, phase, sweep_ids=[self.start(task, phase, body)])

    def follow(self, task: str, phase: str, sweep_ids: list[int] = (), job_ids: list[int] = ()) -> None:
        """Record the sweeps' (and the jobs') runs as they finish, until everything has."""
        done: set[int] = set()
        while True:
            ids = list(job_ids)
            finished = True
            for sweep_id in sweep_ids:
                sweep = self.call("GET", f"/api/sweeps/{sweep_id}")
                ids += sweep["baseline_job_ids"] + [j for t in sweep["trials"] if t["same_as"] is None for j in t["job_ids"]]
                finished = finished and sweep["state"] != "running"
            for job_id in ids:
                if job_id not in done and self.record(task, phase, job_id):
                    done.add(job_id)
            if finished and done >= set(ids):
                return
            time.sleep(15)


def relative_data_dir(data_dir: str | None, data_root: Path) -> str | None:
    """``data_dir`` relative to the data directory (``glue/<task>``), whatever machine ran the job."""
    if not data_dir:
        return data_dir
    path = Path(data_dir)
    try:
        return path.relative_to(data_root.parent).as_posix()
    except ValueError:
        return f"{path.parent.name}/{path.name}"


def _seconds(start: str | None, end: str | None) -> float:
    from datetime import datetime

    if not start or not end:
        return float("nan")
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def search(studio: Studio, task: str, data_root: Path, budget: int, parallel: int, protocol: Protocol = SHORT) -> None:
    phase = protocol.search_phase
    runs = recorded(task, phase)
    prior = [{"params": {"p": r["setting"]["p"], "q": r["setting"]["q"]}, "values": [r["best_metric"]],
              "state": "pruned" if r["state"] == "pruned" else "complete",
              "intermediate": {str(e["epoch"]): e["dev"][r["metric"]] for e in r["epochs"] if r["metric"] in e["dev"]}}
             for r in runs if r["role"] == "addrop" and r["best_metric"] is not None]
    baseline = [r["best_metric"] for r in runs if r["role"] == "baseline" and r["best_metric"] is not None]
    has_baseline = bool(baseline)
    if len(prior) >= budget and has_baseline:
        print(f"{task} {phase}: all {budget} settings and the baseline are recorded")
        return
    suffix = "" if protocol is SHORT else f", {protocol.name}"
    body = {"name": f"{task} · TPE search of p, q{suffix} (results/)", "base": protocol.job(task, data_root, SEARCH_SEED),
            "space": {"p": PAPER_GRID, "q": PAPER_GRID},  # method, mode and layers: the base job's
            "strategy": "tpe", "max_trials": budget,
            "seeds": [SEARCH_SEED], "baseline": not has_baseline, "parallel": parallel,
            "pruning": protocol.pruning, "prior": prior, "prior_baseline": baseline}
    print(f"{task} {phase}: {len(prior)} settings already recorded, baseline {'recorded' if has_baseline else 'runs too'}")
    studio.sweep(task, phase, body)


def run_baselines(studio: Studio, task: str, phase: str, data_root: Path, seeds: list[int],
                  learning_rates: list[float | None] = (None,), protocol: Protocol = SHORT) -> None:
    """Plain jobs (AD-DROP off) of ``task`` at ``seeds`` (and ``learning_rates``; None: the task's), outside any
    sweep, recorded under ``phase``."""
    def job(seed: int, rate: float | None) -> dict:
        return base_job(task, data_root, seed, learning_rate=rate) if protocol is SHORT else protocol.job(task, data_root, seed)

    jobs = [studio.call("POST", "/api/jobs", json={
        **job(seed, rate), "addrop": {"enabled": False},
        "name": f"{task} · baseline{f' · lr {rate:g}' if rate else ''} · seed {seed} (results/)"})["id"]
        for seed in seeds for rate in learning_rates]
    studio.follow(task, phase, job_ids=jobs)


def learning_rate_phase(studio: Studio, task: str, data_root: Path) -> None:
    have = {r["spec"]["training"]["learning_rate"] for r in recorded(task, "lr")}
    missing = [rate for rate in LEARNING_RATES if rate not in have]
    print(f"{task} lr: to run the baseline at {missing or 'none'}")
    if missing:
        run_baselines(studio, task, "lr", data_root, [SEARCH_SEED], missing)
    print(f"{task} lr: its runs train at {task_learning_rate(task):g}")


def grid(studio: Studio, task: str, data_root: Path) -> None:
    # a grid sweep left running by an earlier invocation is followed to its end before anything is missing
    for sweep in studio.call("GET", "/api/sweeps", params={"limit": 200})["items"]:
        if sweep["name"].startswith(f"{task} · grid of p, q") and sweep["state"] == "running":
            print(f"{task} grid: following sweep {sweep['id']}, still running")
            studio.follow(task, "grid", sweep_ids=[sweep["id"]])
    runs = recorded(task, "grid")
    have = {(r["setting"]["p"], r["setting"]["q"]) for r in runs if r["role"] == "addrop"}
    has_baseline = any(r["role"] == "baseline" for r in runs)
    missing = [(p, q) for p in GRID for q in GRID if (p, q) not in have]
    print(f"{task} grid: {len(have)} of {len(GRID) ** 2} settings recorded, baseline "
          f"{'recorded' if has_baseline else 'runs too'}")
    # a partly recorded grid is finished row by row (one grid sweep per p), so no recorded setting runs again
    rows: dict[float | None, list[float]] = {}
    for p, q in missing:
        rows.setdefault(p, []).append(q)
    if not have:
        rows = {None: GRID}
    for index, (p, qs) in enumerate(rows.items()):
        studio.sweep(task, "grid", {
            "name": f"{task} · grid of p, q{'' if p is None else f' (p = {p})'} (results/)",
            "base": base_job(task, data_root, SEARCH_SEED), "space": {"p": GRID if p is None else [p], "q": qs},
            "strategy": "grid", "seeds": [SEARCH_SEED], "baseline": not has_baseline and index == 0, "parallel": 2,
            "pruning": {"kind": "none"}})
    if not rows and not has_baseline:
        run_baselines(studio, task, "grid", data_root, [SEARCH_SEED])


def chosen_setting(task: str, protocol: Protocol = SHORT) -> dict:
    """The searched (or grid) setting with the best dev metric (seed 42)."""
    phases = ("search", "grid") if protocol is SHORT else (protocol.search_phase,)
    runs = [r for phase in phases for r in recorded(task, phase) if r["role"] == "addrop" and r["state"] == "succeeded"]
    if not runs:
        raise SystemExit(f"{task}: no finished {protocol.search_phase} run yet; run --phase {protocol.search_phase} first")
    return best_run(runs)["setting"]


def confirm(studio: Studio, task: str, data_root: Path, protocol: Protocol = SHORT) -> None:
    setting = chosen_setting(task, protocol)
    phase, seeds_wanted = protocol.confirm_phase, protocol.confirm_seeds
    runs = recorded(task, phase)
    have = {(r["role"], r["seed"]) for r in runs if r["role"] == "baseline" or r["setting"] == setting}
    both = [s for s in seeds_wanted if ("addrop", s) not in have and ("baseline", s) not in have]
    addrop_only = [s for s in seeds_wanted if ("addrop", s) not in have and s not in both]
    baseline_only = [s for s in seeds_wanted if ("baseline", s) not in have and s not in both]
    print(f"{task} {phase}: p={setting['p']} q={setting['q']}; to run: both {both}, AD-DROP {addrop_only}, "
          f"baseline {baseline_only}")
    space = {"p": [setting["p"]], "q": [setting["q"]], "method": [setting["method"]], "mode": [setting["mode"]],
             "layers": [setting["layers"]]}
    suffix = "" if protocol is SHORT else f", {protocol.name}"
    # Both sweeps are queued before either is followed, so that no worker waits for the other sweep's last run;
    # the AD-DROP side of seeds with a recorded baseline goes first, since each of its runs completes a pair.
    sweep_ids = [studio.start(task, phase, {
        "name": f"{task} · AD-DROP vs baseline{'' if baseline else ' (AD-DROP only)'}{suffix} (results/)",
        "base": protocol.job(task, data_root, seeds[0]), "space": space, "seeds": seeds, "baseline": baseline,
        "parallel": 1, "pruning": {"kind": "none"}}) for seeds, baseline in ((addrop_only, False), (both, True)) if seeds]
    studio.follow(task, phase, sweep_ids=sweep_ids)
    if baseline_only:
        run_baselines(studio, task, phase, data_root, baseline_only, protocol=protocol)


def confirm_baselines(studio: Studio, task: str, data_root: Path, protocol: Protocol, parallel: int = 1) -> None:
    """The confirmation's plain runs, ``parallel`` at a time (queued together, so that they take the workers a
    search leaves free without crowding it out), recorded under the confirm phase."""
    phase = protocol.confirm_phase
    have = {r["seed"] for r in recorded(task, phase) if r["role"] == "baseline"}
    missing = [seed for seed in protocol.confirm_seeds if seed not in have]
    print(f"{task} {phase}: baselines to run: {missing or 'none'}, {parallel} at a time")
    for start in range(0, len(missing), parallel):
        run_baselines(studio, task, phase, data_root, missing[start:start + parallel], protocol=protocol)


def reuse_baseline(task: str, phase: str, seed: int) -> bool:
    """Copy a recorded plain run of ``task`` at ``seed`` from another phase into ``phase``, when its data and
    training are those the phase would run: AD-DROP off, nothing else differs, so running it again would only
    repeat the same numbers. The copy names its source."""
    wanted = base_job(task, Path(), seed)
    for source in ("search", "grid", "confirm"):
        for run in recorded(task, source):
            spec = run["spec"]
            same_data = all(spec["data"].get(key) == value for key, value in wanted["data"].items() if key != "data_dir")
            same_training = all(spec["training"].get(key) == value for key, value in wanted["training"].items())
            if run["role"] == "baseline" and run["seed"] == seed and same_data and same_training:
                path = RUNS / task / phase / f"{run_name(run)}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({**run, "phase": phase, "copied_from": f"{source}/{path.name}"}, indent=1) + "\n")
                print(f"  {task} {phase}: the baseline of seed {seed} is the one recorded by {source}")
                return True
    return False


def dynamics_pair(studio: Studio, task: str, data_root: Path) -> None:
    """The confirmed setting and its baseline twin at DYNAMICS_SEED, both recording attribution dynamics."""
    setting = chosen_setting(task)
    have = {r["role"] for r in recorded(task, "dynamics")}
    jobs = []
    for role in ("baseline", "addrop"):
        if role in have:
            continue
        addrop = ({"enabled": False} if role == "baseline" else
                  {k: setting[k] for k in ("p", "q", "method", "mode", "layers", "cross_tuning")})
        body = {**base_job(task, data_root, DYNAMICS_SEED), "addrop": addrop, "dynamics": DYNAMICS,
                "name": f"{task} · {role} · seed {DYNAMICS_SEED} · dynamics (results/)"}
        jobs.append(studio.call("POST", "/api/jobs", json=body)["id"])
    print(f"{task} dynamics: p={setting['p']} q={setting['q']}; started jobs {jobs or 'none (both recorded)'}")
    studio.follow(task, "dynamics", job_ids=jobs)


def prior_experiment(studio: Studio, task: str, data_root: Path) -> None:
    runs = recorded(task, "prior")
    have = {(r["setting"]["method"], r["setting"]["mode"]) if r["setting"] else "baseline" for r in runs}
    if "baseline" not in have and reuse_baseline(task, "prior", SEARCH_SEED):
        have.add("baseline")
    missing = [variant for variant in PRIOR_VARIANTS if variant not in have]
    need_baseline = "baseline" not in have
    print(f"{task} prior experiment: to run {missing} {'and the baseline' if need_baseline else ''}")
    # every variant's sweep is started before any is followed, so the variants train side by side
    started = [studio.start(task, "prior", {
        "name": f"{task} · prior experiment {method} {mode} (results/)",
        "base": base_job(task, data_root, SEARCH_SEED, cross_tuning=False),
        "space": {"p": [0.3], "q": [0.3], "method": [method], "mode": [mode]}, "seeds": [SEARCH_SEED],
        "baseline": need_baseline and index == 0, "parallel": 1, "pruning": {"kind": "none"}})
        for index, (method, mode) in enumerate(missing)]
    for sweep_id in started:
        studio.follow(task, "prior", sweep_ids=[sweep_id])
    if need_baseline and not missing:
        run_baselines(studio, task, "prior", data_root, [SEARCH_SEED])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="http://127.0.0.1:8000")
    parser.add_argument("--task", required=True, action="append", choices=["rte", "mrpc", "cola", "stsb", "sst2"],
                        help="repeat for several tasks: each runs its phases before the next task starts")
    parser.add_argument("--phase", required=True, action="append",
                        choices=["lr", "search", "confirm", "prior", "grid", "authors-search", "authors-confirm",
                                 "authors-baselines", "dynamics"],
                        help="repeat for several phases, run in the order given")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "glue")
    parser.add_argument("--budget", type=int, default=None,
                        help=f"settings the search runs in all (default: {SEARCH_BUDGET}; the authors' protocol's: the "
                             "task's in report.authors_protocol.SEARCH_SETTINGS)")
    parser.add_argument("--parallel", type=int, default=1,
                        help="search trials (or authors-baselines runs) at once, one per worker; see "
                             "benchmarks/worker_layout.py")
    args = parser.parse_args()
    data_root = args.data.resolve()
    studio = Studio(args.server, data_root)
    for task in args.task:
        for phase in args.phase:
            if phase == "lr":
                learning_rate_phase(studio, task, data_root)
            elif phase == "search":
                search(studio, task, data_root, args.budget or SEARCH_BUDGET, args.parallel)
            elif phase == "confirm":
                confirm(studio, task, data_root)
            elif phase == "grid":
                grid(studio, task, data_root)
            elif phase == "authors-search":
                search(studio, task, data_root, args.budget or search_settings(task), args.parallel, AUTHORS)
            elif phase == "authors-confirm":
                confirm(studio, task, data_root, AUTHORS)
            elif phase == "authors-baselines":
                confirm_baselines(studio, task, data_root, AUTHORS, args.parallel)
            elif phase == "dynamics":
                dynamics_pair(studio, task, data_root)
            else:
                prior_experiment(studio, task, data_root)


if __name__ == "__main__":
    main()
