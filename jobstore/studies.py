"""The Optuna side of sweeps: studies stored in the app's own database (SQLite or PostgreSQL), a sweep's
search space as Optuna distributions, and the sampler and pruner it asks for.

Light on purpose (no torch): the API asks and tells trials, a worker reports a trial's dev metric per epoch.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Mapping

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution
from sqlalchemy.engine import make_url

PARAMS = ("p", "q", "method", "mode", "layers")

optuna.logging.set_verbosity(optuna.logging.WARNING)


@lru_cache(maxsize=8)
def storage(url: str) -> optuna.storages.RDBStorage:
    """Optuna's storage on ``url`` (its tables beside the app's; created on first use)."""
    if make_url(url).get_backend_name() == "sqlite":
        engine = {"connect_args": {"timeout": 30}}
    else:
        engine = {"pool_pre_ping": True}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine)


def _evenly_spaced(values: list[float]) -> float | None:
    """The step of an arithmetic progression of three or more values, else None."""
    if len(values) < 3:
        return None
    step = values[1] - values[0]
    if all(math.isclose(b - a, step, abs_tol=1e-9) for a, b in zip(values, values[1:])):
        return round(step, 9)
    return None


def layers_label(layers: list[int]) -> str:
    """A set of masked layers as one categorical choice ("0,2")."""
    return ",".join(str(layer) for layer in layers)


def grid(space: Mapping[str, list]) -> dict[str, list]:
    """The search space as GridSampler takes it (every parameter, layer sets as labels)."""
    return {name: [layers_label(v) for v in space[name]] if name == "layers" else list(space[name])
            for name in PARAMS}


def distributions(space: Mapping[str, list], strategy: str) -> dict[str, BaseDistribution]:
    """Every parameter's distribution. For TPE, evenly spaced p and q are stepped floats, so it can learn
    that neighbouring values behave alike; anything else is categorical."""
    out: dict[str, BaseDistribution] = {}
    for name, values in grid(space).items():
        step = _evenly_spaced(values) if strategy == "tpe" and name in ("p", "q") else None
        if step is not None:
            out[name] = FloatDistribution(values[0], values[-1], step=step)
        else:
            out[name] = CategoricalDistribution(values)
    return out


def setting(space: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
    """The AD-DROP setting a trial's parameters stand for: p and q snapped to the listed values (a stepped
    float comes back as 0.30000000000000004), layers as a list."""
    out: dict[str, Any] = {}
    for name in PARAMS:
        value = params.get(name, space[name][0])
        if name in ("p", "q"):
            value = min(space[name], key=lambda listed: abs(listed - float(value)))
        elif name == "layers":
            value = [int(layer) for layer in str(value).split(",")] if isinstance(value, str) else list(value)
        out[name] = value
    return out


def setting_key(value: Mapping[str, Any]) -> tuple:
    """What makes two settings the same run: random attribution (RD) has no high or low end."""
    mode = "" if value["method"] == "RD" else value["mode"]
    return value["method"], mode, round(value["p"], 6), round(value["q"], 6), tuple(value["layers"])


def sampler(strategy: str, space: Mapping[str, list], seed: int, trials_so_far: int, budget: int
            ) -> optuna.samplers.BaseSampler:
    """The sampler of a sweep. A sampler lives only as long as one round of asking, so TPE's seed moves on
    with the number of trials: a fixed seed would draw the same first random setting every round."""
    if strategy == "grid":
        return optuna.samplers.GridSampler(grid(space), seed=seed)
    startup = min(10, max(3, budget // 3))
    # numpy takes 32-bit seeds: a sweep seeded near 2**32 - 1 wraps round instead of overflowing
    return optuna.samplers.TPESampler(seed=(seed + trials_so_far) % 2**32, n_startup_trials=startup,
                                      constant_liar=True)


def add_prior(study: optuna.Study, space: Mapping[str, list], prior: list[Mapping[str, Any]]) -> None:
    """Add settings run before the sweep as finished trials, marked ``prior``: TPE learns from them."""
    dists = distributions(space, "tpe")
    for trial in prior:
        value = setting(space, trial["params"])
        values = [float(v) for v in trial["values"]]
        pruned = trial.get("state") == "pruned"
        study.add_trial(optuna.trial.create_trial(
            params={name: layers_label(value[name]) if name == "layers" else value[name] for name in PARAMS},
            distributions=dists, value=None if pruned else sum(values) / len(values),
            state=optuna.trial.TrialState.PRUNED if pruned else optuna.trial.TrialState.COMPLETE,
            intermediate_values={int(k): float(v) for k, v in (trial.get("intermediate") or {}).items()},
            user_attrs={"prior": True, "values": values}))


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
