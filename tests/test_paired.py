"""addrop.paired, the statistics of paired seeds: the paired difference against scipy's paired t test and numbers
computed by hand, and the detectable effect against a simulation of the t test it claims to describe."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ttest_1samp, ttest_rel

from addrop.paired import POWER, detectable_effect, paired_difference, seeds_needed, t_interval


def test_the_paired_difference_is_scipys_paired_t_interval():
    baseline = {1: 0.71, 2: 0.74, 3: 0.69, 4: 0.73, 5: 0.70}
    treated = {1: 0.725, 2: 0.735, 3: 0.71, 4: 0.745, 5: 0.70}
    paired = paired_difference(treated, baseline)
    seeds = sorted(baseline)
    scipy = ttest_rel([treated[s] for s in seeds], [baseline[s] for s in seeds]).confidence_interval(0.95)
    assert paired.seeds == seeds and paired.n == 5 and paired.level == 0.95
    assert paired.differences == pytest.approx([0.015, -0.005, 0.02, 0.015, 0.0])
    assert paired.mean == pytest.approx(0.009) and paired.std == pytest.approx(np.std(paired.differences, ddof=1))
    assert (paired.low, paired.high) == pytest.approx((scipy.low, scipy.high))
    assert paired.detectable == pytest.approx(detectable_effect(paired.std, 5))
    at_90 = paired_difference(treated, baseline, level=0.9)
    scipy_90 = ttest_rel([treated[s] for s in seeds], [baseline[s] for s in seeds]).confidence_interval(0.9)
    assert (at_90.low, at_90.high) == pytest.approx((scipy_90.low, scipy_90.high))
    assert at_90.detectable == pytest.approx(detectable_effect(paired.std, 5, level=0.9))
    assert at_90.detectable < paired.detectable


def test_the_paired_difference_by_hand():
    # differences 1, 2, 3, 0, 4 points: mean 2, sample std sqrt(2.5) = 1.5811, t(0.975, 4) = 2.7764,
    # half width 2.7764 * 1.5811 / sqrt(5) = 1.9632
    paired = paired_difference({s: 0.30 + d for s, d in zip((1, 2, 3, 4, 5), (0.01, 0.02, 0.03, 0.0, 0.04))},
                               {s: 0.30 for s in (1, 2, 3, 4, 5)})
    assert paired.mean == pytest.approx(0.02) and paired.std == pytest.approx(0.015811, abs=1e-6)
    assert (paired.low, paired.high) == pytest.approx((0.02 - 0.019632, 0.02 + 0.019632), abs=1e-6)
    assert t_interval(paired.differences) == pytest.approx((paired.mean, paired.low, paired.high))


def test_seeds_on_one_side_only_are_left_out():
    paired = paired_difference({3: 0.9, 1: 0.8, 2: 0.7, 7: 0.1}, {2: 0.6, 1: 0.75, 3: 0.85, 9: 0.5})
    assert paired.seeds == [1, 2, 3]  # sorted, whatever the mappings' order
    assert paired.differences == pytest.approx([0.05, 0.1, 0.05])
    assert paired == paired_difference({1: 0.8, 2: 0.7, 3: 0.9}, {1: 0.75, 2: 0.6, 3: 0.85})


def test_one_shared_seed_has_a_difference_but_no_spread_and_none_has_nothing():
    one = paired_difference({1: 0.8, 2: 0.7}, {2: 0.65, 3: 0.6})
    assert (one.seeds, one.n, one.mean) == ([2], 1, pytest.approx(0.05))
    assert (one.std, one.low, one.high, one.detectable) == (None, None, None, None)
    assert paired_difference({1: 0.8}, {2: 0.7}) is None
    assert paired_difference({}, {}) is None


def test_differences_that_do_not_spread_have_a_point_interval_and_no_detectable_effect():
    paired = paired_difference({1: 1.0, 2: 2.0, 3: 0.75}, {1: 0.5, 2: 1.5, 3: 0.25})
    assert paired.differences == [0.5, 0.5, 0.5] and paired.std == 0
    assert paired.low == paired.high == paired.mean == 0.5 and paired.detectable is None


def test_differences_equal_but_for_rounding_do_not_spread():
    # 0.3 - 0.25, 0.7 - 0.65 and 0.15 - 0.1 are 0.05 each, but the subtractions round differently
    paired = paired_difference({1: 0.3, 2: 0.7, 3: 0.15}, {1: 0.25, 2: 0.65, 3: 0.1})
    assert len(set(paired.differences)) > 1  # the rounding this is about
    assert paired.std == 0 and paired.detectable is None
    assert paired.low == paired.high == paired.mean == pytest.approx(0.05)
    # a real spread of a hundredth of a point is kept
    spread = paired_difference({1: 0.3, 2: 0.7, 3: 0.1501}, {1: 0.25, 2: 0.65, 3: 0.1})
    assert spread.std == pytest.approx(0.0001 / math.sqrt(3)) and spread.detectable > 0


def test_a_seed_without_a_finite_value_is_left_out():
    paired = paired_difference({1: math.nan, 2: 0.8, 3: 0.9, 4: math.inf}, {1: 0.7, 2: 0.7, 3: math.nan, 4: 0.1})
    assert paired.seeds == [2] and paired.differences == pytest.approx([0.1])
    assert paired_difference({1: math.nan}, {1: 0.5}) is None


@pytest.mark.parametrize("n", [3, 5, 12])
def test_the_detectable_effect_is_found_with_the_power_it_claims(n):
    # Independent of the noncentral t: simulate paired differences with the claimed effect as their true mean and
    # count how often a two-sided t test at 95% rejects "no difference".
    sd = 0.0158
    effect = detectable_effect(sd, n)
    draws = np.random.default_rng(n).normal(effect, sd, size=(20000, n))
    rejected = ttest_1samp(draws, 0.0, axis=1).pvalue < 0.05
    assert rejected.mean() == pytest.approx(POWER, abs=0.015)
    # a normal-approximation check of the size: (z_0.975 + z_0.8) sd / sqrt(n), which the t version exceeds
    assert effect > (1.96 + 0.8416) * sd / np.sqrt(n)
    # the paired difference states the same effect for differences of that spread
    differences = list(np.random.default_rng(n).normal(0.0, 1.0, n))
    paired = paired_difference(dict(enumerate(differences)), dict.fromkeys(range(n), 0.0))
    assert paired.detectable == pytest.approx(detectable_effect(paired.std, n))


def test_seeds_needed_is_the_first_count_that_reaches_the_effect():
    sd = 0.0158
    needed = seeds_needed(sd, 0.01)
    assert detectable_effect(sd, needed) <= 0.01 < detectable_effect(sd, needed - 1)
    assert 18 <= needed <= 25  # about ((1.96 + 0.84) * 1.58)^2 = 19.6, a little more with t
    assert seeds_needed(sd, 1e-6, most=50) is None
