"""The Optuna side of sweeps: studies stored in the app's own database (SQLite or PostgreSQL), asked and told by
the API, reported to by a trial's run, and read back as :class:`TrialRecord`. Public Optuna API only; the
samplers and distributions each strategy asks with come from :mod:`jobstore.strategies`.

Light on purpose (no torch): the API asks and tells trials, a worker reports a trial's dev metric per epoch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Mapping, Sequence

import optuna
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from jobstore.space import PARAMS, layers_label, setting
from jobstore.strategies import Strategy

optuna.logging.set_verbosity(optuna.logging.WARNING)

STATES = {TrialState.RUNNING: "running", TrialState.WAITING: "waiting", TrialState.COMPLETE: "complete",
          TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}
OUTCOME = "outcome.{number}"  # the study's user attr naming why a failed trial failed
INTERRUPTED = "ask interrupted"  # the outcome of a trial whose ask was cut off (see SweepStudy.drop_half_asked)
# Of a trial missing parameters, only these states' are filled in with the space's first values: a finished trial
# added to the study by hand with fewer parameters (its value is read, by importance); never a trial being asked.
FILLED = (TrialState.COMPLETE, TrialState.PRUNED)


@lru_cache(maxsize=8)
def storage(url: str) -> optuna.storages.RDBStorage:
    """Optuna's storage on ``url`` (its tables beside the app's; created on first use)."""
    if make_url(url).get_backend_name() == "sqlite":
        engine = {"connect_args": {"timeout": 30}}
    else:
        engine = {"pool_pre_ping": True}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine)


@dataclass(frozen=True)
class TrialRecord:
    """One trial of a sweep's study as the sweep sees it."""

    number: int
    state: str  # running, waiting, complete, pruned or failed
    params: dict[str, Any]  # the AD-DROP setting (of a trial missing parameters, only those it has)
    value: float | None  # what the study was told
    same_as: int | None  # an earlier trial of the same setting whose runs this one shares
    prior: bool  # run before the sweep (its ``prior``); ``values`` are its runs' metrics
    values: list[float]
    outcome: str | None  # of a failed trial: its runs' states, or "cancelled"
    grid_id: int | None  # the grid point a grid sweep handed out
    # the parameters Optuna never wrote: a trial whose ask was cut off (Optuna writes them one by one), or one
    # added by hand with fewer; every strategy asks all of PARAMS
    missing: list[str] = field(default_factory=list)


def snapshot(trials: Sequence[TrialRecord]) -> list[dict[str, Any]]:
    """``trials`` as JSON, for the sweep's ``trials_snapshot`` (read back by :func:`from_snapshot`)."""
    return [asdict(trial) for trial in trials]


def from_snapshot(records: Sequence[Mapping[str, Any]]) -> list[TrialRecord]:
    """The trials a sweep's ``trials_snapshot`` holds."""
    return [TrialRecord(**record) for record in records]


class SweepStudy:
    """One sweep's study: ``space`` is the sweep's search space, ``pruning`` its pruning settings."""

    def __init__(self, name: str, url: str, space: Mapping[str, list],
                 pruning: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.url = url
        self.space = space
        self.study = optuna.load_study(study_name=name, storage=storage(url),
                                       pruner=pruner(pruning) if pruning else None)
        self._asked: dict[int, optuna.trial.Trial] = {}  # the trials this object asked, by number

    @classmethod
    def create(cls, name: str, url: str, space: Mapping[str, list], strategy: Strategy,
               prior: Sequence[Mapping[str, Any]]) -> SweepStudy:
        """A new study that maximizes, holding the settings run before the sweep as finished trials marked
        ``prior`` (TPE learns from them)."""
        study = optuna.create_study(study_name=name, storage=storage(url), direction="maximize")
        dists = strategy.distributions(space)
        for trial in prior:
            value = setting(space, trial["params"])
            values = [float(v) for v in trial["values"]]
            pruned = trial.get("state") == "pruned"
            study.add_trial(optuna.trial.create_trial(
                params={name: layers_label(value[name]) if name == "layers" else value[name] for name in PARAMS},
                distributions=dists, value=None if pruned else sum(values) / len(values),
                state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
                intermediate_values={int(k): float(v) for k, v in (trial.get("intermediate") or {}).items()},
                user_attrs={"prior": True, "values": values}))
        return cls(name, url, space)

    def trials(self, complete_only: bool = False) -> list[TrialRecord]:
        """Every trial (or the completed ones), in the order of their numbers."""
        outcomes = self.study.user_attrs
        frozen = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,) if complete_only else None)
        return [TrialRecord(
            number=trial.number, state=STATES.get(trial.state, trial.state.name.lower()),
            params=setting(self.space, trial.params, fill=trial.state in FILLED), value=trial.value,
            same_as=trial.user_attrs.get("same_as"),
            prior=bool(trial.user_attrs.get("prior")), values=list(trial.user_attrs.get("values", [])),
            # sweeps from before outcomes were study attrs keep theirs on the trial
            outcome=outcomes.get(OUTCOME.format(number=trial.number), trial.user_attrs.get("outcome")),
            grid_id=trial.system_attrs.get("grid_id"), missing=[name for name in PARAMS if name not in trial.params])
            for trial in frozen]

    def ask(self, strategy: Strategy, seed: int, trials_so_far: int, budget: int) -> TrialRecord:
        """A new trial, proposed by the strategy's sampler."""
        # The strategy's sampler only asks: Optuna's tells run the study's sampler's after_trial, and a grid
        # sampler's stops an optimize loop once the grid is handed out (a RuntimeError outside one, as when a
        # repeat asked this round is told its original's outcome). Later tells go through the study's own sampler,
        # as they do on a study loaded afresh.
        loaded = self.study.sampler
        self.study.sampler = strategy.sampler(self.space, seed, trials_so_far, budget)
        try:
            trial = self.study.ask(strategy.distributions(self.space))
        finally:
            self.study.sampler = loaded
        self._asked[trial.number] = trial
        return TrialRecord(number=trial.number, state="running", params=setting(self.space, trial.params),
                           value=None, same_as=None, prior=False, values=[], outcome=None, grid_id=None)

    def mark_repeat(self, number: int, original: int) -> None:
        """Mark a trial just asked as the same setting as trial ``original``: it shares that trial's runs."""
        self._asked[number].set_user_attr("same_as", original)

    def complete(self, number: int, value: float) -> None:
        self.study.tell(number, value, skip_if_finished=True)

    def prune(self, number: int) -> None:
        self.study.tell(number, state=TrialState.PRUNED, skip_if_finished=True)

    def fail(self, number: int, outcome: str) -> None:
        """Fail a trial, saying why. Optuna has no public way to set a user attr on a trial one did not just
        ask, so the outcome is the study's (written first: a fail cut short is redone with it)."""
        self.study.set_user_attr(OUTCOME.format(number=number), outcome)
        self.study.tell(number, state=TrialState.FAIL, skip_if_finished=True)

    def drop_half_asked(self, number: int, missing: Sequence[str]) -> None:
        """Fail trial ``number``, whose ask was cut off before Optuna wrote its ``missing`` parameters, so that it
        never runs: the rest of its setting is unknown. A grid point it was handed is first queued again as a
        waiting trial with the same grid attrs (as Optuna's RetryFailedTrialCallback retries a trial), which the
        next ask takes, so the grid still runs every point; once only (a drop cut short is redone)."""
        frozen = self.study.get_trials(deepcopy=False)
        grid = {key: value for key, value in frozen[number].system_attrs.items() if key in ("grid_id", "search_space")}
        queued = {trial.system_attrs.get("grid_id") for trial in frozen if trial.state == TrialState.WAITING}
        if "grid_id" in grid and grid["grid_id"] not in queued:
            self.study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING, system_attrs=grid))
        self.fail(number, f"{INTERRUPTED}: {', '.join(missing)} never written")

    def copy_outcome(self, number: int, original: TrialRecord) -> None:
        """Finish a repeated setting's trial as its original finished (nothing while that one runs)."""
        if original.state == "complete":
            self.study.tell(number, original.value, skip_if_finished=True)
        elif original.state in ("pruned", "failed"):
            state = TrialState.PRUNED if original.state == "pruned" else TrialState.FAIL
            self.study.tell(number, state=state, skip_if_finished=True)

    def importances(self, params: Sequence[str]) -> dict[str, float]:
        """fANOVA importance of ``params`` over the completed trials; RuntimeError when its trees find no
        variance to split."""
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        found = optuna.importance.get_param_importances(self.study, evaluator=evaluator, params=list(params))
        return {name: float(value) for name, value in found.items()}

    def reporting_trial(self, number: int) -> optuna.trial.Trial:
        """Trial ``number`` for a run in another process to report its dev metric to and ask whether to stop.
        Optuna's public API reaches an existing trial only through its storage id, which the storage (built
        here, not taken from the study) looks up by the trial's number."""
        rdb = storage(self.url)
        trial_id = rdb.get_trial_id_from_study_id_trial_number(rdb.get_study_id_from_name(self.name), number)
        return optuna.trial.Trial(self.study, trial_id)


def delete(name: str, url: str) -> None:
    """Delete a study; KeyError when there is none of that name."""
    optuna.delete_study(study_name=name, storage=storage(url))


def pruner(pruning: Mapping[str, Any]) -> optuna.pruners.BasePruner:
    """The pruner a sweep's ``pruning`` settings describe; steps are epochs."""
    kind = pruning.get("kind", "none")
    startup, warmup = int(pruning.get("startup_trials", 4)), int(pruning.get("warmup_epochs", 2))
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup)
    if kind == "percentile":
        return optuna.pruners.PercentilePruner(float(pruning.get("percentile", 25.0)), n_startup_trials=startup,
                                               n_warmup_steps=warmup)
    return optuna.pruners.NopPruner()
