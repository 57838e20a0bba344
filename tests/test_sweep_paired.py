"""Each trial's runs paired with their baseline twins of the same seed (``TrialOut.paired``), in process on SQLite
and PostgreSQL with runs set by hand: the paired mean and 95% t interval against numbers computed by hand, the
same in the list of sweeps and on the sweep's page, and none without twins."""

from __future__ import annotations

import pytest
from scipy.stats import ttest_rel

from addrop.paired import detectable_effect
from backend.sweeps.service import SweepService
from jobstore.orm import CANCELLED, FAILED, PRUNED, SUCCEEDED
from tests.sweep_service import jobs_of, run, sweep_body

BASELINE = {1: 0.70, 2: 0.74, 3: 0.72, 4: (FAILED, None)}  # seed -> best metric, or (state, best metric)
TRIALS = {  # p -> seed -> the same
    0.2: {1: 0.73, 2: 0.75, 3: 0.70, 4: 0.78},
    0.4: {1: 0.72, 2: 0.80, 3: (FAILED, 0.9), 4: 0.5},  # a failed run's metric counts in neither value nor paired
    0.6: {1: (PRUNED, 0.60), 2: (CANCELLED, None), 3: 0.74, 4: 0.76},  # a pruned run's counts in both
    0.8: {1: 0.71, 2: (FAILED, None), 3: (FAILED, None), 4: 0.9},
}
# By hand, over the seeds both sides finished (the baseline's seed 4 failed): differences, mean, sample std,
# and mean -/+ t(0.975, n - 1) * std / sqrt(n), with t(0.975, 2) = 4.302653 and t(0.975, 1) = 12.706205.
HAND = {
    # 0.03, 0.01, -0.02: std sqrt(1.266667e-3 / 2) = 0.0251661, half width 4.302653 * 0.0251661 / sqrt(3) = 0.0625161
    0.2: {"seeds": [1, 2, 3], "mean": 0.0066667, "std": 0.0251661, "low": -0.0558494, "high": 0.0691828},
    # 0.02, 0.06: std 0.028284, half width 12.706205 * 0.02 = 0.254124
    0.4: {"seeds": [1, 2], "mean": 0.04, "std": 0.0282843, "low": -0.214124, "high": 0.294124},
    # -0.10, 0.02: std 0.084853, half width 12.706205 * 0.06 = 0.762372
    0.6: {"seeds": [1, 3], "mean": -0.04, "std": 0.0848528, "low": -0.802372, "high": 0.722372},
    # one seed: a difference, no spread
    0.8: {"seeds": [1], "mean": 0.01, "std": None, "low": None, "high": None},
}


def settle(service: SweepService, sweep_id: int, metrics: dict, role: str, p: float | None = None) -> None:
    """The sweep's runs of ``role`` (and setting ``p``) end as ``metrics`` says by seed."""
    for job in jobs_of(service, sweep_id):
        if job.sweep_role == role and (p is None or job.spec["addrop"]["p"] == p):
            outcome = metrics[job.spec["training"]["seed"]]
            state, metric = outcome if isinstance(outcome, tuple) else (SUCCEEDED, outcome)
            run(service, job, state, metric)


def test_each_trial_pairs_its_runs_with_the_baseline_twins_of_their_seeds(service, tiny_model, sst2_dir):
    created = service.create(sweep_body(tiny_model, sst2_dir, {"p": list(TRIALS), "q": [0.3]}, seeds=[1, 2, 3, 4],
                                        parallel=4))
    settle(service, created.id, BASELINE, "baseline")
    for p, metrics in TRIALS.items():
        settle(service, created.id, metrics, "trial", p)
    service.rounds.advance(created.id)
    page = service.get(created.id)
    (listed,), _ = service.list()
    assert listed.model_dump() == page.model_dump()

    trials = {trial.params["p"]: trial for trial in page.trials}
    assert set(trials) == set(TRIALS)
    for p, hand in HAND.items():
        paired = trials[p].paired
        assert paired is not None, p
        assert (paired.seeds, paired.n) == (hand["seeds"], len(hand["seeds"]))
        for name in ("mean", "std", "low", "high"):
            assert getattr(paired, name) == (None if hand[name] is None else pytest.approx(hand[name], abs=1e-6)), (p, name)
        # the interval is scipy's paired t test's too
        if paired.n > 1:
            treated = [TRIALS[p][seed] if not isinstance(TRIALS[p][seed], tuple) else TRIALS[p][seed][1]
                       for seed in paired.seeds]
            interval = ttest_rel(treated, [BASELINE[seed] for seed in paired.seeds]).confidence_interval(0.95)
            assert (paired.low, paired.high) == pytest.approx((interval.low, interval.high))
            assert paired.detectable == pytest.approx(detectable_effect(paired.std, paired.n))
        else:
            assert paired.detectable is None
    # the unpaired delta stays the difference of all finished runs' means (seed 4 of 0.2 counts there)
    assert trials[0.2].delta == pytest.approx((0.73 + 0.75 + 0.70 + 0.78) / 4 - (0.70 + 0.74 + 0.72) / 3)
    assert page.best is not None and page.best.paired == trials[page.best.params["p"]].paired


def test_a_sweep_without_twins_pairs_nothing(service, tiny_model, sst2_dir):
    plain = service.create(sweep_body(tiny_model, sst2_dir, {"p": [0.2], "q": [0.3]}, baseline=False))
    earlier = service.create(sweep_body(tiny_model, sst2_dir, {"p": [0.2], "q": [0.3]}, baseline=False,
                                        prior_baseline=[0.7, 0.72]))
    for sweep_id in (plain.id, earlier.id):
        settle(service, sweep_id, {1: 0.75, 2: 0.77}, "trial")
        service.rounds.advance(sweep_id)
    listed, _ = service.list()
    for sweep in listed:
        assert sweep.model_dump() == service.get(sweep.id).model_dump()
        assert [trial.value.n for trial in sweep.trials] == [2] and sweep.best is not None
        assert [trial.paired for trial in sweep.trials] == [None] and sweep.best.paired is None
    assert [sweep.baseline is not None for sweep in listed] == [True, False]  # earlier runs' baseline has no seeds
