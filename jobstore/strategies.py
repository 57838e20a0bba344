"""How a sweep searches its space, one class per strategy, looked up by name: the sampler it asks Optuna
with, how many settings it runs, and how its trials count toward that."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Mapping, Sequence

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution

from jobstore.space import evenly_spaced, labelled

if TYPE_CHECKING:
    from jobstore.studies import TrialRecord


class Strategy(ABC):
    """A search over a sweep's space."""

    name: ClassVar[str]
    # whether a proposal of a setting already run is one of the settings the sweep runs (a grid's every point)
    repeats_count: ClassVar[bool]
    # why settings run before the sweep (``prior``) are refused; None where the strategy resumes from them
    prior_refused: ClassVar[str | None]

    @abstractmethod
    def budget(self, size: int, max_trials: int | None) -> int:
        """How many settings the sweep runs of a space of ``size``."""

    @abstractmethod
    def check(self, size: int, max_trials: int | None) -> None:
        """ValueError when ``max_trials`` does not fit the strategy and a space of ``size``."""

    @abstractmethod
    def sampler(self, space: Mapping[str, list], seed: int, trials_so_far: int, budget: int
                ) -> optuna.samplers.BaseSampler:
        """The sampler of one round of asking."""

    @abstractmethod
    def asked(self, trials: Sequence[TrialRecord], own: int, prior: int) -> int:
        """How many settings of the budget have been asked for, of the study's ``trials`` (``own``: those
        this sweep asked and ran, ``prior``: those run before it)."""

    def distributions(self, space: Mapping[str, list]) -> dict[str, BaseDistribution]:
        """Every parameter's distribution: categorical."""
        return {name: CategoricalDistribution(values) for name, values in labelled(space).items()}


class Grid(Strategy):
    """Every setting of the space (Optuna's GridSampler); each grid point counts, a repeated setting too."""

    name = "grid"
    repeats_count = True
    prior_refused = "prior settings resume an adaptive search (strategy 'tpe'); a grid runs its whole grid"

    def budget(self, size: int, max_trials: int | None) -> int:
        return size

    def check(self, size: int, max_trials: int | None) -> None:
        if max_trials is not None and max_trials != size:
            raise ValueError(f"a grid sweep runs all {size} settings of its space; leave max_trials empty, or use "
                             "strategy 'tpe' to run fewer")

    def sampler(self, space: Mapping[str, list], seed: int, trials_so_far: int, budget: int
                ) -> optuna.samplers.BaseSampler:
        return optuna.samplers.GridSampler(labelled(space), seed=seed)

    def asked(self, trials: Sequence[TrialRecord], own: int, prior: int) -> int:
        # the grid points handed out, repeats of a setting included; not one handed to a trial whose ask was cut
        # off, whose point waits to be handed out again (SweepStudy.drop_half_asked)
        return len({trial.grid_id for trial in trials
                    if trial.grid_id is not None and not trial.missing and trial.state != "waiting"})


class TPE(Strategy):
    """An adaptive search (Optuna's TPESampler) over at most ``max_trials`` distinct settings; it may resume
    from settings run before the sweep, and its proposals of a setting already run cost nothing."""

    name = "tpe"
    repeats_count = False
    prior_refused = None

    def budget(self, size: int, max_trials: int | None) -> int:
        return max_trials or min(20, size)

    def check(self, size: int, max_trials: int | None) -> None:
        if max_trials is not None and max_trials > size:
            raise ValueError(f"max_trials ({max_trials}) exceeds the {size} settings of the space")

    def sampler(self, space: Mapping[str, list], seed: int, trials_so_far: int, budget: int
                ) -> optuna.samplers.BaseSampler:
        # A sampler lives only as long as one round of asking, so the seed moves on with the number of trials:
        # a fixed seed would draw the same first random setting every round.
        startup = min(10, max(3, budget // 3))
        # numpy takes 32-bit seeds: a sweep seeded near 2**32 - 1 wraps round instead of overflowing
        return optuna.samplers.TPESampler(seed=(seed + trials_so_far) % 2**32, n_startup_trials=startup,
                                          constant_liar=True)

    def asked(self, trials: Sequence[TrialRecord], own: int, prior: int) -> int:
        return own + prior

    def distributions(self, space: Mapping[str, list]) -> dict[str, BaseDistribution]:
        """Evenly spaced p and q are stepped floats, so TPE can learn that neighbouring values behave alike."""
        out = super().distributions(space)
        for name in ("p", "q"):
            step = evenly_spaced(space[name])
            if step is not None:
                out[name] = FloatDistribution(space[name][0], space[name][-1], step=step)
        return out


STRATEGIES: dict[str, Strategy] = {strategy.name: strategy for strategy in (Grid(), TPE())}
