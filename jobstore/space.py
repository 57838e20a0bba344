"""A sweep's search space in Optuna's terms and back: the parameters, layer sets as categorical labels, and
the AD-DROP setting a trial's parameters stand for."""

from __future__ import annotations

import math
from typing import Any, Mapping

PARAMS = ("p", "q", "method", "mode", "layers")


def layers_label(layers: list[int]) -> str:
    """A set of masked layers as one categorical choice ("0,2")."""
    return ",".join(str(layer) for layer in layers)


def labelled(space: Mapping[str, list]) -> dict[str, list]:
    """Every parameter's values as Optuna takes them (layer sets as labels)."""
    return {name: [layers_label(v) for v in space[name]] if name == "layers" else list(space[name])
            for name in PARAMS}


def evenly_spaced(values: list[float]) -> float | None:
    """The step of an arithmetic progression of three or more values, else None."""
    if len(values) < 3:
        return None
    step = values[1] - values[0]
    if all(math.isclose(b - a, step, abs_tol=1e-9) for a, b in zip(values, values[1:])):
        return round(step, 9)
    return None


def setting(space: Mapping[str, list], params: Mapping[str, Any], fill: bool = True) -> dict[str, Any]:
    """The AD-DROP setting a trial's parameters stand for: p and q snapped to the listed values (a stepped
    float comes back as 0.30000000000000004), layers as a list. A parameter not in ``params`` takes the space's
    first value where ``fill`` (a prior setting may leave out one the space lists one value of), else is left
    out (a trial whose ask was cut off: its setting is not known)."""
    out: dict[str, Any] = {}
    for name in PARAMS:
        if name not in params and not fill:
            continue
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
