"""Paired seeds: an AD-DROP run and its baseline twin of the same seed see the same batches in the same order
(DESIGN.md, "Random draws"), so the difference per seed is the unit of the comparison. Its mean, the mean's t
interval, and the smallest true effect a t test over these seeds finds with 80% power: one place for the
statistics the product's sweeps and the offline report (results/report) both show."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

from scipy.optimize import brentq
from scipy.stats import nct, t

POWER = 0.8  # the power at which `PairedDifference.detectable` is stated
ROUNDING = 1e-12  # a spread of the differences below this (relative to the values) is rounding, not a spread


@dataclass(frozen=True)
class PairedDifference:
    """Treated minus baseline over the seeds both ran, with the mean's two-sided t interval at ``level`` and the
    smallest true mean difference a two-sided t test at ``level`` over these seeds finds with :data:`POWER`."""

    seeds: list[int]  # the shared seeds, sorted
    differences: list[float]  # treated - baseline, per seed in ``seeds``
    n: int
    mean: float
    std: float | None  # sample standard deviation (n - 1); None under 2 seeds
    low: float | None  # the t interval's bounds; None under 2 seeds
    high: float | None
    level: float
    detectable: float | None  # None under 2 seeds or when the differences do not spread


def paired_difference(treated: Mapping[int, float], baseline: Mapping[int, float],
                      level: float = 0.95) -> PairedDifference | None:
    """The paired difference of two runs' results by seed (seed -> best metric); seeds on one side only, and
    seeds whose value is not finite on either side, are left out. None when no seed is left."""
    seeds = sorted(seed for seed in treated.keys() & baseline.keys()
                   if math.isfinite(treated[seed]) and math.isfinite(baseline[seed]))
    if not seeds:
        return None
    differences = [treated[seed] - baseline[seed] for seed in seeds]
    std = statistics.stdev(differences) if len(differences) > 1 else None
    scale = max(abs(value) for seed in seeds for value in (treated[seed], baseline[seed]))
    if std is not None and std <= ROUNDING * max(scale, 1.0):
        # differences equal but for the rounding of their subtraction do not spread: a std of 1e-17 would
        # otherwise claim an interval and a detectable effect of that size
        std = 0.0
    mean = statistics.fmean(differences)
    half = None if std is None else _half_width(std, len(seeds), level)
    return PairedDifference(
        seeds=seeds, differences=differences, n=len(seeds), mean=mean, std=std,
        low=None if half is None else mean - half, high=None if half is None else mean + half, level=level,
        detectable=detectable_effect(std, len(seeds), POWER, level) if std else None)


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float] | None:
    """The mean of ``values`` and its two-sided t interval (None with fewer than two values)."""
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    half = _half_width(statistics.stdev(values), len(values), level)
    return mean, mean - half, mean + half


def _half_width(std: float, n: int, level: float) -> float:
    """Half the width of the two-sided t interval of the mean of ``n`` values spread with ``std``."""
    return _critical(n - 1, level) * std / math.sqrt(n)


def detectable_effect(sd: float, n: int, power: float = POWER, level: float = 0.95) -> float:
    """The smallest true mean paired difference that a two-sided t test at ``level`` over ``n`` seeds finds with
    probability ``power``, when the paired differences spread with standard deviation ``sd`` (the noncentral t
    distribution, exactly)."""
    return _noncentrality(n, power, level) * sd / math.sqrt(n)


def seeds_needed(sd: float, effect: float, power: float = POWER, level: float = 0.95, most: int = 1000) -> int | None:
    """How many seeds a paired comparison needs to find a true mean difference of ``effect`` (same conditions as
    :func:`detectable_effect`); None beyond ``most``."""
    return next((n for n in range(2, most + 1) if detectable_effect(sd, n, power, level) <= effect), None)


@lru_cache(maxsize=1024)
def _critical(df: int, level: float) -> float:
    """The two-sided t test's critical value (cached: a sweep list asks it for every trial)."""
    return float(t.ppf(0.5 + level / 2, df))


@lru_cache(maxsize=4096)
def _noncentrality(n: int, power: float, level: float) -> float:
    """The true mean difference, in standard errors (sd / sqrt(n)), that the test over ``n`` seeds finds with
    probability ``power``. It does not depend on sd, so it is solved once per n (about 3 ms) and cached."""
    df = n - 1
    critical = _critical(df, level)

    def power_at(shift: float) -> float:
        # the lower tail as the upper tail of the mirrored distribution: nct.cdf is NaN far out in its left tail
        return nct.sf(critical, df, shift) + nct.sf(critical, df, -shift)

    # at (critical + 10) standard errors the test all but always finds the effect
    return brentq(lambda shift: power_at(shift) - power, 0.0, critical + 10)
