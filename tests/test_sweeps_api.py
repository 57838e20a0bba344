"""Sweeps end to end on a real stack (API server and Celery worker processes; Redis + PostgreSQL and the
embedded default): Optuna searches fan out as jobs, baseline twins run beside them, trials are pruned,
sweeps are cancelled and survive an API restart. Jobs train a tiny real BERT for a few epochs."""

from __future__ import annotations

import re
import statistics
import time

import httpx
import optuna
import pytest
from optuna.trial import TrialState

from addrop import viz
from jobstore.orm import FINISHED, SWEEP_FINISHED
from tests.jobs_stack import job_request, make_sst2_slice, running_stack, wait_for
from tests.tiny_models import save_tiny_model



@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def sst2(shared_data, tmp_path_factory):
    return make_sst2_slice(shared_data, tmp_path_factory.mktemp("sst2"), train=96, validation=48)


@pytest.fixture(scope="module", params=["redis-postgres", "embedded"])
def stack(request, tmp_path_factory):
    yield from running_stack(request.param, tmp_path_factory.mktemp(f"sweeps-{request.param}"),
                             {"ADDROP_SWEEP_MAX_TRIALS": "20", "ADDROP_SWEEP_POLL_SECONDS": "0.5"})


def database_url(stack) -> str:
    return stack.env.get("DATABASE_URL") or f"sqlite:///{stack.root / 'data' / 'studio.db'}"


def sweep_request(model, data, space: dict, **fields) -> dict:
    base = job_request(model, data, epochs=2)
    base["addrop"] = {"method": "GA", "layers": [0], "cross_tuning": True}
    return {"base": base, "space": space, "seeds": [1], "pruning": {"kind": "none"}, **fields}


def create(client: httpx.Client, body: dict) -> dict:
    answer = client.post("/api/sweeps", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == f"/api/sweeps/{answer.json()['id']}"
    return answer.json()


def sweep(client: httpx.Client, sweep_id: int) -> dict:
    answer = client.get(f"/api/sweeps/{sweep_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def finished_sweep(client: httpx.Client, sweep_id: int) -> dict | None:
    current = sweep(client, sweep_id)
    return current if current["state"] in SWEEP_FINISHED else None


def job(client: httpx.Client, job_id: int) -> dict:
    return client.get(f"/api/jobs/{job_id}").json()


def notebook_maps_are_the_apis(stack, done: dict) -> None:
    """addrop.viz's p x q map of a finished sweep, read over HTTP: per slice (method, mode, layers) one cell per
    trial, its value the trial's mean best metric as the API states it, with the API's baseline and space."""
    slices: dict[str, list[dict]] = {}
    for trial in done["trials"]:
        params = trial["params"]
        slices.setdefault(f"{params['method']} {params['mode']} L{','.join(map(str, params['layers']))}", []).append(trial)
    for name, trials in slices.items():
        cells = viz.SweepCells.from_api(stack.url, done["id"], slice=name)
        assert cells.cells == {(t["params"]["p"], t["params"]["q"]): t["value"]["mean"] for t in trials}, name
        assert cells.states == {(t["params"]["p"], t["params"]["q"]): t["state"] for t in trials}, name
        assert cells.baseline == done["baseline"]["mean"] and cells.metric == done["metric"]
        assert cells.grid == (sorted(done["spec"]["space"]["p"]), sorted(done["spec"]["space"]["q"]))
        heat = viz.sweep_map(cells).data[0]
        for t in trials:
            row, column = list(heat.y).index(f"{t['params']['p']:g}"), list(heat.x).index(f"{t['params']['q']:g}")
            assert heat.z[row][column] == pytest.approx(t["value"]["mean"] - done["baseline"]["mean"])


def test_a_grid_fans_out_with_baseline_twins_and_shares_equal_settings(stack, tiny_model, sst2):
    client = stack.client()
    # The paper's prior experiment in small: GA and RD, high and low. RD has no high or low end, so its low
    # trial shares the high trial's runs: four trials, three runs, plus the baseline.
    created = create(client, sweep_request(tiny_model, sst2, {"p": [0.3], "q": [0.3], "method": ["GA", "RD"],
                                                               "mode": ["high", "low"]}, seeds=[1, 2], parallel=2))
    assert created["state"] == "running" and created["budget"] == 4 and len(created["baseline_job_ids"]) == 2
    done = wait_for(lambda: finished_sweep(client, created["id"]), 600, "the grid sweep to finish", interval=1)
    assert done["state"] == "succeeded", done
    trials = done["trials"]
    assert sorted((t["params"]["method"], t["params"]["mode"]) for t in trials) == [
        ("GA", "high"), ("GA", "low"), ("RD", "high"), ("RD", "low")]
    assert all(t["state"] == "complete" for t in trials)
    rd = {t["params"]["mode"]: t for t in trials if t["params"]["method"] == "RD"}
    assert (rd["low"]["same_as"] is None) != (rd["high"]["same_as"] is None)
    assert rd["low"]["job_ids"] == rd["high"]["job_ids"] and rd["low"]["value"] == rd["high"]["value"]

    runs = {job_id for t in trials for job_id in t["job_ids"]}
    assert len(runs) == 3 * 2  # three distinct settings, two seeds each
    for trial in trials:
        jobs = [job(client, job_id) for job_id in trial["job_ids"]]
        assert sorted(j["spec"]["training"]["seed"] for j in jobs) == [1, 2]
        assert trial["seeds"] == [j["spec"]["training"]["seed"] for j in jobs]  # each run's seed, in its order
        for j in jobs:
            assert j["state"] == "succeeded" and j["sweep_id"] == done["id"] and j["sweep_role"] == "trial"
            assert j["spec"]["addrop"]["enabled"] is True
            if trial["same_as"] is None:
                assert {k: j["spec"]["addrop"][k] for k in ("p", "q", "method", "mode", "layers")} == trial["params"]
            assert not j["checkpoint_available"]  # sweeps keep no checkpoints unless asked
        values = [j["best_metric"] for j in jobs]
        assert trial["value"]["mean"] == pytest.approx(statistics.fmean(values))
        assert trial["value"]["std"] == pytest.approx(statistics.stdev(values))
    baseline = [job(client, job_id) for job_id in done["baseline_job_ids"]]
    assert all(j["spec"]["addrop"]["enabled"] is False and j["sweep_role"] == "baseline" for j in baseline)
    assert sorted(j["spec"]["training"]["seed"] for j in baseline) == [1, 2]
    base_values = [j["best_metric"] for j in baseline]
    assert done["baseline"]["mean"] == pytest.approx(statistics.fmean(base_values))
    assert done["baseline"]["std"] == pytest.approx(statistics.stdev(base_values))
    for trial in trials:
        assert trial["delta"] == pytest.approx(trial["value"]["mean"] - done["baseline"]["mean"])
    assert done["best"]["value"]["mean"] == max(t["value"]["mean"] for t in trials)
    assert done["counts"]["complete"] == 4 and done["counts"]["jobs.succeeded"] == 8
    assert done["finished"] == done["budget"] == 4  # a grid's shared point is one of its settings

    # Optuna's own record agrees: every trial told with the mean of its runs.
    study = optuna.load_study(study_name=done["study_name"], storage=database_url(stack))
    told = {t.number: t for t in study.get_trials()}
    assert all(t.state == TrialState.COMPLETE for t in told.values()) and len(told) == 4
    for trial in trials:
        assert told[trial["number"]].value == pytest.approx(trial["value"]["mean"])

    curves = client.get(f"/api/sweeps/{done['id']}/curves").json()
    assert set(map(int, curves["jobs"])) == runs | set(done["baseline_job_ids"])
    assert all(len(points) == 2 for points in curves["jobs"].values())  # one dev evaluation per epoch
    importance = client.get(f"/api/sweeps/{done['id']}/importance").json()
    assert set(importance["params"]) <= {"method", "mode"} and importance["trials"] == 3  # distinct runs
    assert importance["message"].startswith("needs 4 or more completed trials (3 so far;")
    listed = client.get("/api/sweeps").json()
    assert done["id"] in [item["id"] for item in listed["items"]]
    notebook_maps_are_the_apis(stack, done)  # RD low's cell too, which shares RD high's runs


def test_an_adaptive_search_runs_its_budget_of_distinct_settings(stack, tiny_model, sst2):
    if stack.kind != "embedded":
        pytest.skip("the search logic is the same on both stacks; one is enough for its runtime")
    client = stack.client()
    grid = [0.1, 0.3, 0.5, 0.7, 0.9]
    created = create(client, sweep_request(tiny_model, sst2, {"p": grid, "q": grid}, strategy="tpe", max_trials=3,
                                           baseline=False, parallel=1))
    assert created["budget"] == 3 and created["baseline"] is None
    done = wait_for(lambda: finished_sweep(client, created["id"]), 600, "the TPE sweep to finish", interval=1)
    own = [t for t in done["trials"] if t["same_as"] is None]
    assert done["state"] == "succeeded" and len(own) == 3
    assert done["finished"] == 3  # TPE's proposals of settings already run cost none of the budget
    settings = {(t["params"]["p"], t["params"]["q"]) for t in own}
    assert len(settings) == 3 and all(p in grid and q in grid for p, q in settings)


def test_a_search_resumed_from_prior_settings_runs_only_the_rest(stack, tiny_model, sst2):
    if stack.kind != "embedded":
        pytest.skip("the search logic is the same on both stacks")
    client = stack.client()
    done_before = [((0.2, 0.3), [0.91]), ((0.2, 0.5), [0.5, 0.52]), ((0.4, 0.3), [0.55])]
    prior = [{"params": {"p": p, "q": q}, "values": values, "intermediate": {"1": values[0]}}
             for (p, q), values in done_before]
    created = create(client, sweep_request(tiny_model, sst2, {"p": [0.2, 0.4], "q": [0.3, 0.5]}, strategy="tpe",
                                           max_trials=4, baseline=False, parallel=2, prior=prior,
                                           prior_baseline=[0.6, 0.62]))
    done = wait_for(lambda: finished_sweep(client, created["id"]), 300, "the resumed sweep to finish", interval=1)
    assert done["state"] == "succeeded" and done["budget"] == done["finished"] == 4
    ran = [t for t in done["trials"] if not t["prior"] and t["same_as"] is None]
    assert [(t["params"]["p"], t["params"]["q"]) for t in ran] == [(0.4, 0.5)]  # only the setting not run before
    assert len(ran[0]["job_ids"]) == 1 and job(client, ran[0]["job_ids"][0])["state"] == "succeeded"
    recorded = {(t["params"]["p"], t["params"]["q"]): t for t in done["trials"] if t["prior"]}
    assert set(recorded) == {setting for setting, _ in done_before}
    assert recorded[(0.2, 0.5)]["value"]["mean"] == pytest.approx(0.51) and recorded[(0.2, 0.5)]["job_ids"] == []
    assert done["best"]["params"]["p"] == 0.2 and done["best"]["value"]["mean"] == pytest.approx(0.91)
    # the baseline of the runs before the sweep is its reference: no twin ran, the deltas are against it
    assert done["baseline_job_ids"] == [] and done["baseline"]["mean"] == pytest.approx(0.61)
    assert done["best"]["delta"] == pytest.approx(0.91 - 0.61)
    notebook_maps_are_the_apis(stack, done)  # the settings run before and the one run now, in one map


def test_a_trial_clearly_behind_is_pruned(stack, tiny_model, sst2):
    if stack.kind != "embedded":
        pytest.skip("pruning runs through the same code on both stacks")
    client = stack.client()
    stack.kill_worker()  # the sweep's study gets a strong earlier trial before any run starts
    body = sweep_request(tiny_model, sst2, {"p": [0.2, 0.4], "q": [0.3]}, baseline=False, parallel=1,
                         pruning={"kind": "median", "warmup_epochs": 1, "startup_trials": 1})
    body["base"]["training"]["epochs"] = 4
    created = create(client, body)
    study = optuna.load_study(study_name=created["study_name"], storage=database_url(stack))
    # An earlier trial (not of this sweep) that reached accuracy 1.0 at every epoch: any real run is behind it.
    study.add_trial(optuna.trial.create_trial(
        params={"p": 0.2}, distributions={"p": optuna.distributions.CategoricalDistribution([0.2, 0.4])}, value=1.0,
        intermediate_values={epoch: 1.0 for epoch in range(1, 5)}))
    stack.start_worker()
    done = wait_for(lambda: finished_sweep(client, created["id"]), 600, "the pruned sweep to finish", interval=1)
    assert done["state"] == "succeeded" and [t["state"] for t in done["trials"]] == ["pruned", "pruned"]
    for trial in done["trials"]:
        (run,) = [job(client, job_id) for job_id in trial["job_ids"]]
        assert run["state"] == "pruned" and run["error"] is None
        evals = client.get(f"/api/jobs/{run['id']}/metrics", params={"kind": "eval"}).json()
        assert [round(point["epoch"]) for point in evals] == [1]  # stopped after the first epoch, not 4
        log = client.get(f"/api/jobs/{run['id']}/log").text
        assert "pruned after epoch 1" in log
        assert "no checkpoint is kept for this run" in log  # explains transformers' warning about the best model
    assert done["best"] is None and done["counts"]["pruned"] == 2
    states = {t.number: t.state for t in study.get_trials()}
    assert sorted(states.values(), key=str) == sorted([TrialState.COMPLETE, TrialState.PRUNED, TrialState.PRUNED], key=str)


def test_cancelling_a_sweep_stops_its_jobs_and_asks_nothing_more(stack, tiny_model, sst2):
    client = stack.client()
    # One worker: of the first trial's two runs one trains while the other waits in the queue.
    body = sweep_request(tiny_model, sst2, {"p": [0.2, 0.4, 0.6], "q": [0.3]}, parallel=1, seeds=[1, 2],
                         baseline=False)
    body["base"]["training"].update(epochs=200, patience=None)
    created = create(client, body)
    wait_for(lambda: any(job(client, j)["state"] == "running"
                         for t in sweep(client, created["id"])["trials"] for j in t["job_ids"]), 120,
             "a trial's run to start", interval=0.5)
    answer = client.post(f"/api/sweeps/{created['id']}/cancel")
    assert answer.status_code == 200 and answer.json()["state"] == "cancelled"
    ids = [j for t in answer.json()["trials"] for j in t["job_ids"]] + answer.json()["baseline_job_ids"]
    wait_for(lambda: all(job(client, j)["state"] in FINISHED for j in ids), 120, "the sweep's jobs to stop", interval=0.5)
    assert {job(client, j)["state"] for j in ids} == {"cancelled"}
    time.sleep(2)  # a few controller rounds: nothing new is asked
    after = sweep(client, created["id"])
    assert len(after["trials"]) == 1 and after["trials"][0]["state"] == "cancelled"
    again = client.post(f"/api/sweeps/{created['id']}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]


def test_a_run_whose_worker_died_is_run_again(stack, tiny_model, sst2):
    if stack.kind != "embedded":
        pytest.skip("the jobs tests kill workers on both stacks; the sweep's retry is the same code")
    client = stack.client()
    body = sweep_request(tiny_model, sst2, {"p": [0.3], "q": [0.3]}, baseline=False, parallel=1)
    body["base"]["training"].update(epochs=30, patience=None)
    created = create(client, body)
    first = wait_for(lambda: (ids := sweep(client, created["id"])["trials"][0]["job_ids"])
                     and job(client, ids[0])["state"] == "running" and ids[0], 120, "the run to start", interval=0.5)
    wait_for(lambda: len(client.get(f"/api/sweeps/{created['id']}/curves").json()["jobs"].get(str(first), [])) >= 2,
             120, "the run's second dev evaluation", interval=0.5)
    stack.kill_worker()
    cut = [p for p in client.get(f"/api/jobs/{first}/metrics").json() if p["kind"] == "eval"]
    # the worker ran on the API's machine: its processes are seen gone within seconds (elsewhere, its lease)
    failed = wait_for(lambda: (j := job(client, first))["state"] == "failed" and j, 60, "the run to be failed")
    assert "is gone" in failed["error"] and "killed or crashed" in failed["error"], failed["error"]
    stack.start_worker()
    done = wait_for(lambda: finished_sweep(client, created["id"]), 300, "the sweep to finish", interval=1)
    (trial,) = done["trials"]
    assert trial["state"] == "complete" and trial["job_ids"][0] == first and len(trial["job_ids"]) == 2
    again = job(client, trial["job_ids"][1])
    assert again["state"] == "succeeded" and again["spec"]["training"]["seed"] == 1
    # the retry resumed from the dead attempt's last epoch checkpoint (this machine holds it): the epochs before
    # it are the dead attempt's, carried over, and every epoch is there once
    log = client.get(f"/api/jobs/{again['id']}/log").text
    assert f"resuming job {first}'s run from its checkpoint after epoch" in log, log
    evals = [p for p in client.get(f"/api/jobs/{again['id']}/metrics").json() if p["kind"] == "eval"]
    assert [p["epoch"] for p in evals] == [float(e) for e in range(1, 31)]
    resumed_at = int(re.search(r"after epoch (\d+)", log).group(1))
    assert 1 <= resumed_at <= len(cut)
    assert [p["values"] for p in evals[:resumed_at]] == [p["values"] for p in cut[:resumed_at]]
    assert trial["value"]["n"] == 1 and trial["value"]["mean"] == pytest.approx(again["best_metric"])
    # the curves show the attempt that counts, not the dead one's partial curve under the same seed
    curves = client.get(f"/api/sweeps/{created['id']}/curves").json()
    assert list(curves["jobs"]) == [str(again["id"])]
    importance = client.get(f"/api/sweeps/{created['id']}/importance").json()
    assert importance == {"params": {}, "trials": 1, "message": "no setting is searched: each has one value"}


def test_a_sweep_survives_an_api_restart(stack, tiny_model, sst2):
    if stack.kind != "embedded":
        pytest.skip("restarts are tested on the embedded default; the jobs tests restart both")
    client = stack.client()
    created = create(client, sweep_request(tiny_model, sst2, {"p": [0.2, 0.4, 0.6], "q": [0.3]}, baseline=False,
                                           parallel=1))
    wait_for(lambda: job(client, sweep(client, created["id"])["trials"][0]["job_ids"][0])["state"] == "running",
             120, "the first trial to run", interval=0.5)
    stack.kill_api()
    time.sleep(3)  # the first trial finishes while no API is there to tell Optuna
    stack.start_api()
    client = stack.client()
    done = wait_for(lambda: finished_sweep(client, created["id"]), 600, "the sweep to finish after the restart",
                    interval=1)
    assert done["state"] == "succeeded"
    assert sorted(t["params"]["p"] for t in done["trials"]) == [0.2, 0.4, 0.6]
    assert all(t["state"] == "complete" and len(t["job_ids"]) == 1 for t in done["trials"])


def listed_as_pages(client: httpx.Client) -> dict[int, dict]:
    """The list of sweeps by id, each item checked against its sweep's page. The pages are read just before and
    just after the list: where they differ, the sweep changed meanwhile (a round ended, a run moved on) and all
    is read again, so that each item is compared with its page as it was when the list was read."""
    for _ in range(20):
        ids = [item["id"] for item in client.get("/api/sweeps", params={"limit": 200}).json()["items"]]
        before = {sweep_id: sweep(client, sweep_id) for sweep_id in ids}
        listed = {item["id"]: item for item in client.get("/api/sweeps", params={"limit": 200}).json()["items"]}
        after = {sweep_id: sweep(client, sweep_id) for sweep_id in listed}
        if before == after:
            assert listed == after
            return listed
        time.sleep(0.5)
    pytest.fail("the sweeps kept changing while they were listed")


def test_the_list_shows_each_sweep_as_its_page_does(stack, tiny_model, sst2):
    """The list and a sweep's page read the same trials, those the sweep's last round (or its cancel) kept:
    also right after the sweep is created, while a round may still be asking its first trial (Optuna writes
    the trial, then each parameter: read half way, it showed the space's first p), and once it is cancelled.
    With the sweeps of the tests above (succeeded, cancelled, pruned, with prior settings) where they ran."""
    client = stack.client()
    stack.kill_worker()  # the new sweep's runs stay queued: once its first trial is asked, it holds still
    try:
        created = create(client, sweep_request(tiny_model, sst2, {"p": [0.2, 0.4], "q": [0.3]}, parallel=1))
        assert listed_as_pages(client)[created["id"]]["state"] == "running"
        wait_for(lambda: sweep(client, created["id"])["trials"], 60, "the first trial to be asked", interval=0.2)
        (trial,) = listed_as_pages(client)[created["id"]]["trials"]
        study = optuna.load_study(study_name=created["study_name"], storage=database_url(stack))
        (asked,) = study.trials
        assert trial["number"] == asked.number and trial["params"]["p"] == asked.params["p"]
        assert trial["state"] == "queued" and len(trial["job_ids"]) == 1
        assert client.post(f"/api/sweeps/{created['id']}/cancel").status_code == 200
        cancelled = listed_as_pages(client)[created["id"]]
        assert cancelled["state"] == "cancelled" and [t["state"] for t in cancelled["trials"]] == ["cancelled"]
    finally:
        stack.start_worker()


@pytest.mark.parametrize("change, status, message", [
    ({"space": {"p": []}}, 422, "space.p"),
    ({"space": {"p": [0.0, 0.5]}}, 422, "each value must be in (0, 1)"),
    ({"space": {"q": [1.5]}}, 422, "each value must be in (0, 1)"),
    ({"space": {"p": [0.3, 0.3]}}, 422, "listed once"),
    ({"space": {"layers": [[0, 7]]}}, 422, "space.layers: the model has 3 layers"),
    ({"space": {"p": [i / 10 for i in range(1, 10)], "q": [i / 10 for i in range(1, 10)]}}, 422,
     "would run 81 settings; this server allows at most 20"),
    ({"strategy": "tpe", "max_trials": 21, "space": {"p": [0.1, 0.2, 0.3, 0.4, 0.5], "q": [0.1, 0.2, 0.3, 0.4, 0.5]}},
     422, "would run 21 settings"),
    ({"strategy": "tpe", "max_trials": 9, "space": {"p": [0.1, 0.2], "q": [0.1, 0.2]}}, 422, "exceeds the 4 settings"),
    ({"max_trials": 3, "space": {"p": [0.1, 0.2], "q": [0.1]}}, 422, "a grid sweep runs all 2 settings"),
    ({"seeds": []}, 422, "seeds"),
    ({"seeds": [1, 1]}, 422, "listed once"),
    ({"parallel": 0}, 422, "parallel"),
    ({"pruning": {"kind": "hyperband"}}, 422, "pruning.kind"),
    ({"prior": [{"params": {"p": 0.2, "q": 0.3}, "values": [0.5]}]}, 422, "prior settings resume an adaptive search"),
    ({"strategy": "tpe", "prior": [{"params": {"p": 0.9, "q": 0.3}, "values": [0.5]}]}, 422,
     "prior.0.params.p: 0.9 is not in the space"),
    ({"strategy": "tpe", "prior": [{"params": {"p": 0.2}, "values": [0.5]}]}, 422, "prior.0.params: q missing"),
    ({"strategy": "tpe", "prior": [{"params": {"p": 0.2, "q": 0.3}, "values": []}]}, 422, "prior.0.values"),
    ({"strategy": "tpe", "prior": [{"params": {"p": 0.2, "q": 0.3}, "values": [0.5],
                                    "intermediate": {"99999999999999999999": 0.5}}]}, 422, "epochs must be in"),
    ({"prior_baseline": [0.5]}, 422, "prior_baseline stands in for baseline twins"),
    ({"baseline": False, "prior_baseline": [0.5, "high"]}, 422, "prior_baseline.1"),
    ({"seeds": [2**32]}, 422, "seeds"),
    ({"max_trials": 10**30, "strategy": "tpe"}, 422, "max_trials"),
    ({"colour": "red"}, 422, "colour: Extra inputs are not permitted"),
    ({"base": {"data": {"source": "hub", "task": "sst2"}, "training": {"lr": 1}}}, 422, "base.training.lr"),
])
def test_bad_sweep_requests_are_refused(stack, tiny_model, sst2, change, status, message):
    if stack.kind != "embedded":
        pytest.skip("validation does not depend on the stack")
    client = stack.client()
    before = client.get("/api/sweeps").json()["total"]
    body = sweep_request(tiny_model, sst2, {"p": [0.2], "q": [0.3]})
    for key, value in change.items():
        body[key] = {**body[key], **value} if key == "space" else value
    answer = client.post("/api/sweeps", json=body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["detail"]
    assert client.get("/api/sweeps").json()["total"] == before  # nothing stored


def test_unknown_sweeps(stack):
    if stack.kind != "embedded":
        pytest.skip("routing does not depend on the stack")
    client = stack.client()
    for path in ("/api/sweeps/999999", "/api/sweeps/999999/curves", "/api/sweeps/999999/importance"):
        answer = client.get(path)
        assert answer.status_code == 404 and answer.json()["detail"] == "there is no sweep 999999"
    assert client.post("/api/sweeps/999999/cancel").status_code == 404
    for huge in ("9223372036854775808", "99999999999999999999999", "0", "-1"):
        assert client.get(f"/api/sweeps/{huge}").status_code == 422
    assert client.get("/sweeps/9223372036854775808").status_code == 422
