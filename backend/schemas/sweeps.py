"""Request and response schemas of the sweeps API: a search over AD-DROP settings for one base job."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from addrop.masking import PROBABILITY_BOUNDS
from backend.schemas.common import AttributionMethod, StrictRequest, Text
from backend.schemas.jobs import MAX_MASKED, ADDropSpec, JobCreate
from jobstore.strategies import STRATEGIES

SweepState = Literal["running", "succeeded", "cancelled"]
TrialState = Literal["queued", "running", "complete", "pruned", "failed", "cancelled"]
PAPER_GRID = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]  # the authors' p and q grid


def _distinct(values: list, what: str) -> list:
    if len(set(map(repr, values))) != len(values):
        raise ValueError(f"each {what} may be listed once")
    return values


class SearchSpace(StrictRequest):
    """The settings a sweep tries: every combination for a grid, a sample of them for an adaptive search.
    A list of one value fixes that setting."""

    p: list[float] = Field(PAPER_GRID, min_length=1, max_length=99,
                           description="Candidate-region fractions, each in (0, 1).")
    q: list[float] = Field(PAPER_GRID, min_length=1, max_length=99, description="Drop probabilities, each in (0, 1).")
    # Left out, these take the base job's value: a base that masks every layer is searched on every layer.
    method: list[AttributionMethod] | None = Field(None, min_length=1, max_length=4,
                                                   description="Default: the base job's method.")
    mode: list[Literal["high", "low"]] | None = Field(None, min_length=1, max_length=2,
                                                      description="Default: the base job's mode.")
    layers: list[Annotated[list[int], Field(min_length=1, max_length=MAX_MASKED)]] | None = Field(
        None, min_length=1, max_length=16, description="Sets of masked layers. Default: the base job's layers.")

    @field_validator("p", "q")
    @classmethod
    def _fractions(cls, values: list[float]) -> list[float]:
        low, high = PROBABILITY_BOUNDS
        bad = [value for value in values if not low < value < high]
        if bad:
            raise ValueError(f"each value must be in ({low:g}, {high:g}); got {bad[0]!r}")
        return sorted(_distinct([round(value, 6) for value in values], "value"))

    @field_validator("method", "mode")
    @classmethod
    def _choices(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else _distinct(values, "choice")

    @field_validator("layers")
    @classmethod
    def _layer_sets(cls, values: list[list[int]] | None) -> list[list[int]] | None:
        if values is None:
            return None
        sets = []
        for layers in values:
            if any(layer < 0 for layer in layers) or len(set(layers)) != len(layers):
                raise ValueError("layer indices start at 0, each listed once per set")
            sets.append(sorted(layers))
        return _distinct(sets, "set of layers")

    def size(self) -> int:
        """How many settings the space holds."""
        return len(self.p) * len(self.q) * len(self.method or [0]) * len(self.mode or [0]) * len(self.layers or [0])

    def complete(self, addrop: ADDropSpec) -> None:
        """Take the base job's method, mode and layers where the space leaves them out."""
        self.method = self.method or [addrop.method]
        self.mode = self.mode or [addrop.mode]
        self.layers = self.layers or [sorted(addrop.layers)]


class Pruning(StrictRequest):
    """Stopping trials whose per-epoch dev metric is clearly behind the others' at the same epoch."""

    kind: Literal["none", "median", "percentile"] = Field(
        "median", description="median: stop a trial below the median of earlier trials at the same epoch; "
        "percentile: below the given percentile of them; none: run every trial to the end."
    )
    percentile: float = Field(25.0, gt=0, lt=100, description="For kind=percentile.")
    warmup_epochs: int = Field(2, ge=0, le=1000, description="Epochs every trial runs before it may be stopped "
                               "(with cross-tuning the first epoch is plain and tells nothing).")
    startup_trials: int = Field(4, ge=0, le=1000, description="Trials that finish before any is stopped.")


class PriorTrial(StrictRequest):
    """A setting already run elsewhere (e.g. by an earlier sweep that was stopped): the search counts it, learns
    from it and never runs it again."""

    params: dict[str, Any] = Field(max_length=len(SearchSpace.model_fields), description="p and q, and method, mode "
                                   "and layers where the space lists several.")
    values: list[float] = Field(min_length=1, max_length=10, description="Its runs' best dev metrics.")
    state: Literal["complete", "pruned"] = "complete"
    # An epoch is an object key, which JSON writes as text ("3"): the one place a number may come as a string.
    intermediate: dict[Annotated[int, Strict(False)], float] = Field(
        {}, max_length=1000, description="Dev metric per epoch (for pruning).")

    @field_validator("intermediate")
    @classmethod
    def _epochs(cls, values: dict[int, float]) -> dict[int, float]:
        if any(not 0 <= epoch <= 100_000 for epoch in values):
            raise ValueError("epochs must be in 0 .. 100000")
        if not all(math.isfinite(value) for value in values.values()):
            raise ValueError("values must be finite numbers")
        return values


class SweepCreate(StrictRequest):
    """A sweep: the base job, the settings to try, the seeds every setting runs with, and the search."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{
            "name": "rte p x q",
            "base": {"model": "minilm", "data": {"source": "directory", "task": "rte", "data_dir": "/data/glue/rte"},
                     "training": {"epochs": 4, "batch_size": 16}, "addrop": {"method": "GA", "layers": [0]}},
            "space": {"p": [0.1, 0.3, 0.5], "q": [0.1, 0.3, 0.5]},
            "strategy": "grid", "seeds": [42], "baseline": True,
        }]},
    )

    name: Text | None = Field(None, max_length=200, description="Shown in lists; default: task and search.")
    base: JobCreate = Field(description="The job every trial runs, with its AD-DROP settings replaced by the "
                            "trial's (p, q, method, mode, layers) and its seed by each of `seeds`.")
    space: SearchSpace = SearchSpace()
    strategy: Literal[tuple(STRATEGIES)] = Field(  # type: ignore[valid-type]  # the names of the strategies
        "grid", description="grid: every setting of the space (Optuna's GridSampler); tpe: an adaptive search "
        "(Optuna's TPESampler) that runs at most max_trials of them."
    )
    max_trials: int | None = Field(None, ge=1, description="For tpe: how many settings to run (default 20).")
    seeds: list[int] = Field([42], min_length=1, max_length=10, description="Every setting runs once per seed; "
                             "its value is the mean over seeds of the best dev metric.")
    baseline: bool = Field(True, description="Also run the base job with AD-DROP off, once per seed.")
    parallel: int = Field(2, ge=1, le=64, description="Trials in flight at once (each needs a worker).")
    pruning: Pruning = Pruning()
    keep_checkpoints: bool = Field(False, description="Keep each run's best checkpoint (about the model's size each).")
    sampler_seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of the search itself.")
    prior: list[PriorTrial] = Field([], max_length=500, description="For tpe: settings already run (to resume a "
                                    "search); they count toward max_trials and are not run again.")
    prior_baseline: list[float] = Field(
        [], max_length=10, description="With baseline false: the best dev metrics (one per seed) of baseline runs "
        "made before this sweep, e.g. the twin of a search being resumed; the sweep's reference for its deltas.")

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, values: list[int]) -> list[int]:
        if any(not 0 <= seed <= 2**32 - 1 for seed in values):
            raise ValueError("seeds must be in 0 .. 2**32 - 1")
        return _distinct(values, "seed")

    @model_validator(mode="after")
    def _search(self) -> SweepCreate:
        self.space.complete(self.base.addrop)
        strategy = STRATEGIES[self.strategy]
        strategy.check(self.space.size(), self.max_trials)
        if self.prior_baseline and self.baseline:
            raise ValueError("prior_baseline stands in for baseline twins: give it with baseline false")
        if self.prior and strategy.prior_refused:
            raise ValueError(strategy.prior_refused)
        space = self.space.model_dump()
        for index, trial in enumerate(self.prior):
            for name, value in trial.params.items():
                if name not in space:
                    raise ValueError(f"prior.{index}.params: unknown setting {name!r}")
                if value not in space[name]:
                    raise ValueError(f"prior.{index}.params.{name}: {value!r} is not in the space")
            missing = [name for name in ("p", "q") if name not in trial.params]
            missing += [name for name in ("method", "mode", "layers") if name not in trial.params and len(space[name]) > 1]
            if missing:
                raise ValueError(f"prior.{index}.params: {', '.join(missing)} missing")
        return self

    def trial_budget(self) -> int:
        """How many settings the sweep runs."""
        return STRATEGIES[self.strategy].budget(self.space.size(), self.max_trials)


class Summary(BaseModel):
    """A set of runs' best dev metrics: mean, sample standard deviation (n - 1) and count."""

    mean: float | None
    std: float | None
    n: int
    values: list[float]


class RunDynamics(BaseModel):
    """What a setting's runs did to attribution, from each run's last recorded epoch of attribution dynamics
    (runs that record them only): the same measure for every run of the sweep, so settings compare."""

    concentration: Summary = Field(description="Share of a row's attribution in its top-p keys, mean over the "
                                   "base job's masked layers (every run of the sweep records those).")
    reliance: Summary = Field(description="Share of probe predictions that change when the top-p keys are dropped.")


class Paired(BaseModel):
    """AD-DROP minus its baseline twin of the same seed, per shared seed, with the mean's 95% t interval and the
    smallest effect these seeds detect with 80% power."""

    seeds: list[int] = Field(description="The seeds both the setting and the baseline ran to a best dev metric, "
                             "sorted.")
    differences: list[float] = Field(description="Per seed in `seeds`: the setting's best dev metric minus its "
                                     "baseline twin's.")
    n: int = Field(description="How many seeds are paired.")
    mean: float = Field(description="The mean paired difference.")
    std: float | None = Field(description="Sample standard deviation (n - 1) of the differences; null under 2 seeds.")
    low: float | None = Field(description="The mean's two-sided 95% t interval, lower end; null under 2 seeds.")
    high: float | None = Field(description="Its upper end; null under 2 seeds.")
    detectable: float | None = Field(
        description="The smallest true mean difference a two-sided t test at 95% over these seeds finds with 80% "
        "power, given the differences' std (noncentral t); null under 2 seeds or when the differences do not spread.")


class TrialOut(BaseModel):
    """One setting of the sweep and its runs."""

    number: int
    state: TrialState
    params: dict[str, Any] = Field(description="p, q, method, mode and layers of the setting.")
    value: Summary = Field(description="The best dev metric of its runs (one per seed).")
    delta: float | None = Field(description="value.mean minus the baseline's mean: a difference of means over "
                                "all finished runs, not paired by seed (see `paired`).")
    paired: Paired | None = Field(
        None, description="AD-DROP minus its baseline twin of the same seed, per shared seed, with the mean's 95% t "
        "interval and the smallest effect these seeds detect with 80% power. Its runs are those `value` counts; null "
        "when the sweep has no baseline twins or no finished seed is shared.")
    job_ids: list[int]
    seeds: list[int] = Field(description="The training seed of each run in job_ids, in the same order.")
    same_as: int | None = Field(description="A trial of the same setting whose runs this one shares.")
    prior: bool = Field(False, description="Run before this sweep (given in `prior`); it has no jobs here.")
    dynamics: RunDynamics | None = Field(None, description="Its runs' final attribution dynamics, when they "
                                         "record them (the base job's dynamics.enabled).")


class SweepOut(BaseModel):
    """A sweep as the API shows it."""

    id: int
    name: str
    state: SweepState
    strategy: str
    task: str
    model: str | None = Field(description="'minilm', a hub id, or a local model directory relative to the data "
                              "directory (null for one outside it: answers show no server path).")
    metric: str
    created_at: datetime
    finished_at: datetime | None
    message: str | None
    budget: int = Field(description="Settings the sweep runs in all.")
    finished: int = Field(description="Trials finished of the budget: a grid's every point, a search's settings "
                          "(prior ones included); a search's proposal of a setting already run shares that trial's "
                          "runs and is not counted.")
    counts: dict[str, int] = Field(description="Trials per state, and jobs per state under 'jobs.<state>'.")
    baseline: Summary | None
    baseline_job_ids: list[int]
    baseline_seeds: list[int] = Field([], description="The training seed of each job in baseline_job_ids, in order.")
    baseline_dynamics: RunDynamics | None = Field(None, description="The baseline twins' final attribution "
                                                  "dynamics, when they record them.")
    best: TrialOut | None
    trials: list[TrialOut]
    spec: dict[str, Any] = Field(description="The request, with its data directory and local model shown as model "
                                 "is (relative to the data directory, or null).")
    study_name: str = Field(description="The Optuna study in the app's database (optuna.load_study takes it).")
    revision: int
    warnings: list[str] = Field(default_factory=list, description="What the sweep does that its settings do not "
                                "say at a glance (e.g. trials too short to reach an AD-DROP epoch).")


class SweepList(BaseModel):
    items: list[SweepOut]
    total: int
    limit: int
    offset: int


class CurvePoint(BaseModel):
    epoch: float
    value: float | None
    loss: float | None


class SweepCurves(BaseModel):
    """Every run's dev metric and dev loss per epoch, keyed by job id, for the overlay of curves (a run tried again
    after its worker died shows its last attempt only)."""

    metric: str
    jobs: dict[int, list[CurvePoint]]


class Importance(BaseModel):
    """How much each searched setting explains of the dev metric across finished trials (Optuna's fANOVA)."""

    params: dict[str, float]
    trials: int
    message: str | None
