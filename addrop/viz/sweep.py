"""A sweep's p x q map against its baseline: each setting's best dev metric (mean over its runs) minus the
baseline's mean, from run files (``results/runs/<task>/<phase>/*.json``) or from a studio's REST API."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from addrop.figure_style import figure_style
from addrop.viz.captions import plotly_text
from addrop.viz.rest import get_json



@dataclass
class SweepCells:
    """The settings of one slice (method, mode, layers) of a sweep: ``cells`` maps ``(p, q)`` to the mean best dev
    metric of its runs and ``states`` to its state; ``baseline`` is the baseline's mean best dev metric."""

    title: str
    metric: str
    cells: dict[tuple[float, float], float]
    states: dict[tuple[float, float], str]
    baseline: float | None
    slice: str
    grid: tuple[list[float], list[float]] | None = None  # the space's p and q values; else the settings run

    @classmethod
    def from_runs(cls, runs: list[dict[str, Any]] | str | Path, slice: str | None = None) -> SweepCells:
        """From run files: a folder of them (one search or grid) or their parsed JSON.  Runs of one setting (seeds)
        are averaged, as are the baseline's; ``slice`` ("GA high L0") picks one when the runs hold several."""
        if not isinstance(runs, list):
            runs = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(Path(runs).glob("*.json"))]
        if not runs:
            raise ValueError("no run files")
        trials = [run for run in runs if run["role"] == "addrop" and run.get("setting")]
        chosen = _choose_slice({_slice_name(run["setting"]) for run in trials}, slice)
        values: dict[tuple[float, float], list[float]] = {}
        states: dict[tuple[float, float], str] = {}
        for run in trials:
            if _slice_name(run["setting"]) != chosen:
                continue
            key = (run["setting"]["p"], run["setting"]["q"])
            if run.get("best_metric") is not None:
                values.setdefault(key, []).append(run["best_metric"])
            states[key] = run["state"] if states.get(key, "succeeded") == "succeeded" else states[key]
        base = [run["best_metric"] for run in runs if run["role"] == "baseline" and run.get("best_metric") is not None]
        first = runs[0]
        return cls(title=f"{first['task']} · {first['phase']} · {(first.get('spec') or {}).get('model', '')}",
                   metric=first["metric"], cells={key: statistics.fmean(v) for key, v in values.items()},
                   states=states, baseline=statistics.fmean(base) if base else None, slice=chosen)

    @classmethod
    def from_api(cls, base_url: str, sweep_id: int, token: str | None = None, slice: str | None = None) -> SweepCells:
        """From ``GET /api/sweeps/{id}``: each trial's ``value.mean`` and state, and the baseline's mean.  A trial
        that shares another's runs (``same_as``: RD's high and low are one setting) has its cell too, with their
        value, as on the sweep page."""
        sweep = get_json(base_url, f"/api/sweeps/{sweep_id}", token)
        trials = sweep["trials"]
        chosen = _choose_slice({_slice_name(t["params"]) for t in trials}, slice)
        cells, states = {}, {}
        for trial in trials:
            if _slice_name(trial["params"]) != chosen:
                continue
            key = (trial["params"]["p"], trial["params"]["q"])
            states[key] = trial["state"]
            if trial["value"]["mean"] is not None and trial["state"] not in ("failed", "cancelled"):
                cells[key] = trial["value"]["mean"]
        baseline = (sweep.get("baseline") or {}).get("mean")
        space = sweep["spec"].get("space") or {}
        grid = (sorted(space["p"]), sorted(space["q"])) if space.get("p") and space.get("q") else None
        return cls(title=f"sweep {sweep_id} · {sweep['name']} · {sweep.get('model') or 'a local model'}",
                   metric=sweep["metric"], cells=cells, states=states, baseline=baseline, slice=chosen, grid=grid)


def _slice_name(params: dict[str, Any]) -> str:
    return f"{params.get('method', 'GA')} {params.get('mode', 'high')} L{','.join(map(str, params.get('layers', [0])))}"


def _choose_slice(names: set[str], wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in names:
            raise ValueError(f"no slice {wanted!r}: the runs hold {', '.join(sorted(names)) or 'none'}")
        return wanted
    if len(names) != 1:
        raise ValueError(f"the runs hold several slices ({', '.join(sorted(names))}): name one with slice=" if names
                         else "no AD-DROP run among the runs")
    return names.pop()


def symmetric_limit(z: np.ndarray) -> float:
    """A symmetric colour range around 0 (the sweep page's symmetricLimit): the largest |Δ|, leaving out on a map
    of ``robust_cells`` or more cells Tukey's far outliers (beyond Q3 + 3 IQR, and at least twice what is kept),
    which then saturate instead of washing out every other cell."""
    values = np.sort(np.abs(z[np.isfinite(z)]))
    if not values.size:
        return 0.01
    largest = max(values[-1], 1e-4)
    if values.size < figure_style()["sweep_map"]["robust_cells"]:
        return float(largest)
    q1, q3 = np.quantile(values, [0.25, 0.75])
    kept = values[values <= q3 + 3 * (q3 - q1)]
    limit = max(kept[-1], 1e-4)
    return float(limit if largest >= 2 * limit and kept[-1] > kept[0] else largest)


def sweep_map(sweep: SweepCells, width: int = 640, height: int = 560) -> go.Figure:
    """The p x q map: rows p, columns q; each cell the setting's mean best dev metric minus the baseline's (the
    metric itself when there is no baseline), blue above the baseline and red below, as on the sweep page."""
    style, fonts = figure_style()["sweep_map"], figure_style()["fonts"]
    ps, qs = sweep.grid or (sorted({p for p, _ in sweep.states}), sorted({q for _, q in sweep.states}))
    relative = sweep.baseline is not None
    z = np.full((len(ps), len(qs)), np.nan)
    for (p, q), value in sweep.cells.items():
        z[ps.index(p), qs.index(q)] = value - sweep.baseline if relative else value
    limit = symmetric_limit(z) if relative else None
    clipped = relative and bool(np.any(np.abs(z[np.isfinite(z)]) > limit))
    bar = f"Δ {sweep.metric}<br>vs baseline" + (f"<br>(beyond ±{limit:.3f}: darkest)" if clipped else "") if relative else sweep.metric
    figure = go.Figure(go.Heatmap(
        x=[f"{q:g}" for q in qs], y=[f"{p:g}" for p in ps], z=z, xgap=style["gap"], ygap=style["gap"],
        colorscale=style["relative_scale"] if relative else style["absolute_scale"],
        reversescale=style["relative_reversed"] if relative else False,
        zmid=0 if relative else None, zmin=-limit if relative else None, zmax=limit if relative else None,
        texttemplate="%{z:+.3f}" if relative else "%{z:.3f}", textfont={"size": 11}, hoverongaps=False,
        hovertemplate="p = %{y}, q = %{x}<br>" + ("Δ to baseline %{z:+.4f}" if relative else f"{sweep.metric} %{{z:.4f}}")
                      + "<extra></extra>",
        colorbar={"title": {"text": bar, "side": "right"}, "thickness": 12}))
    # A trial's state marks its cell as on the sweep page (pruned towards the corner, off its value; running, queued
    # and failed in the centre of an empty cell), on numeric axes laid over the categories (cell i spans i ± 0.5).
    marks = style["marks"]
    for state, mark in marks.items():
        cells = [key for key, s in sweep.states.items() if s == state]
        if cells:
            figure.add_trace(go.Scatter(
                x=[qs.index(q) + mark["corner"] for _, q in cells], y=[ps.index(p) + mark["corner"] for p, _ in cells],
                mode="markers", name=state, hoverinfo="skip", xaxis="x2", yaxis="y2",
                marker={"symbol": mark["symbol"], "size": mark["size"], "color": mark["color"],
                        "line": {"width": 2, "color": mark["color"]}}))
    against = f"baseline mean {sweep.baseline:.4f}" if relative else "no baseline: colours show the metric"
    figure.update_layout(
        title={"text": f"{plotly_text(sweep.title)} · {plotly_text(sweep.slice)}<br><sup>best dev {sweep.metric} − baseline mean ({against})</sup>",
               "x": 0.01, "xanchor": "left", "font": {"size": fonts["title_size"]}},
        xaxis={"title": {"text": "q (drop probability)"}, "type": "category"},
        yaxis={"title": {"text": "p (candidate fraction)"}, "type": "category"},
        xaxis2={"overlaying": "x", "range": [-0.5, len(qs) - 0.5], "visible": False},
        yaxis2={"overlaying": "y", "range": [-0.5, len(ps) - 0.5], "visible": False},
        width=width, height=height, margin={"l": 60, "r": 10, "t": 80, "b": 90},
        legend={"orientation": "h", "y": -0.18}, showlegend=any(s in marks for s in sweep.states.values()),
        paper_bgcolor="#ffffff", plot_bgcolor="#ffffff", font={"family": fonts["text"], "size": 11, "color": fonts["ink"]})
    return figure
