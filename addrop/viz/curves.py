"""A job's curves: training loss, dev loss and the dev metric per epoch, with its AD-DROP epochs shaded, from a run
file (``results/runs/...``) or from a running studio's REST API."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from addrop.figure_style import figure_style
from addrop.trainer import is_addrop_epoch
from addrop.viz.captions import plotly_text
from addrop.viz.rest import get_json


@dataclass
class JobCurves:
    """What a job's curves show.  ``epochs`` are the dev evaluations' epochs (1 = the end of the first epoch);
    ``addrop_epochs`` the 0-based epochs that ran AD-DROP, shaded from ``e`` to ``e + 1``."""

    name: str
    metric: str
    epochs: list[float]
    dev_metric: list[float | None]
    dev_loss: list[float | None]
    train_loss: list[float | None]  # the mean training loss of each evaluated epoch
    addrop_epochs: list[int] = field(default_factory=list)
    setting: str = "baseline"

    @classmethod
    def from_run(cls, run: dict[str, Any] | str | Path) -> JobCurves:
        """From a run file (a path, or its parsed JSON): its per-epoch dev metrics and training loss; the AD-DROP
        epochs are those :func:`addrop.trainer.is_addrop_epoch` gives for the run's cross-tuning."""
        if not isinstance(run, dict):
            run = json.loads(Path(run).read_text(encoding="utf-8"))
        metric = run["metric"]
        epochs = run["epochs"]
        addrop = (run.get("spec") or {}).get("addrop") or {}
        setting = run.get("setting")
        enabled = bool(addrop.get("enabled", setting is not None))
        cross = bool(addrop.get("cross_tuning", (setting or {}).get("cross_tuning", True)))
        shaded = [e for e in range(len(epochs)) if enabled and is_addrop_epoch(e, cross)]
        name = (run.get("spec") or {}).get("name") or f"{run.get('task', '')} {run.get('role', '')} seed {run.get('seed')}"
        return cls(name=name, metric=metric, epochs=[float(e["epoch"]) for e in epochs],
                   dev_metric=[e["dev"].get(metric) for e in epochs], dev_loss=[e["dev"].get("loss") for e in epochs],
                   train_loss=[e.get("train_loss") for e in epochs], addrop_epochs=shaded,
                   setting=_setting_text(setting if enabled else None))

    @classmethod
    def from_api(cls, base_url: str, job_id: int, token: str | None = None) -> JobCurves:
        """From a studio's REST API: ``GET /api/jobs/{id}`` and its metric points.  AD-DROP epochs are the ones
        whose training steps logged ``addrop`` = 1 (as the job page shades them)."""
        job = get_json(base_url, f"/api/jobs/{job_id}", token)
        points = get_json(base_url, f"/api/jobs/{job_id}/metrics", token)
        metric = job["metric"]
        evals = [p for p in points if p["kind"] == "eval"]
        steps = [p for p in points if p["kind"] == "step" and "loss" in p["values"] and p["step"] > 0]
        shaded = sorted({max(0, math.ceil(p["epoch"] - 1e-9) - 1) for p in points
                         if p["kind"] == "step" and p["values"].get("addrop") == 1})
        epochs = [p["epoch"] for p in evals]

        def mean_loss(epoch: float) -> float | None:
            losses = [p["values"]["loss"] for p in steps if math.ceil(p["epoch"] - 1e-9) == math.ceil(epoch - 1e-9)]
            return sum(losses) / len(losses) if losses else None

        addrop = job["spec"].get("addrop") or {}
        return cls(name=f"job {job_id} · {job['name']}", metric=metric, epochs=epochs,
                   dev_metric=[p["values"].get(metric) for p in evals], dev_loss=[p["values"].get("loss") for p in evals],
                   train_loss=[mean_loss(e) for e in epochs], addrop_epochs=shaded,
                   setting=_setting_text(addrop if addrop.get("enabled") else None))


def _setting_text(setting: dict[str, Any] | None) -> str:
    if not setting:
        return "baseline (no AD-DROP)"
    layers = ",".join(str(layer) for layer in setting.get("layers", []))
    cross = "cross-tuning" if setting.get("cross_tuning", True) else "every epoch"
    return f"{setting['method']} {setting.get('mode', 'high')} p={setting['p']:g} q={setting['q']:g} L{layers} · {cross}"


def job_curves(curves: JobCurves, width: int = 1000, height: int = 420) -> go.Figure:
    """Two panels over epochs: training and dev loss, and the dev metric with its best marked; AD-DROP epochs
    shaded as on the job page."""
    style = figure_style()
    colours, fonts = style["curves"], style["fonts"]
    figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                           subplot_titles=("Dev loss vs training loss", f"Dev {curves.metric} per epoch"))
    figure.add_trace(go.Scatter(x=curves.epochs, y=curves.dev_loss, name="dev loss", mode="lines+markers",
                                line={"color": colours["dev_loss"], "width": 2}), row=1, col=1)
    figure.add_trace(go.Scatter(x=curves.epochs, y=curves.train_loss, name="training loss (epoch mean)", mode="lines+markers",
                                line={"color": colours["train_loss"], "width": 2, "dash": "dot"}), row=1, col=1)
    figure.add_trace(go.Scatter(x=curves.epochs, y=curves.dev_metric, name=f"dev {curves.metric}", mode="lines+markers",
                                line={"color": colours["dev_metric"], "width": 2}), row=1, col=2)
    scored = [(v, e) for v, e in zip(curves.dev_metric, curves.epochs) if v is not None]
    if scored:
        best, at = max(scored)
        mark = colours["best"]
        figure.add_trace(go.Scatter(x=[at], y=[best], name="best", mode="markers",
                                    marker={"symbol": mark["symbol"], "size": mark["size"], "color": mark["color"],
                                            "line": {"color": mark["line"], "width": 1}}), row=1, col=2)
    for column in (1, 2):
        for epoch in curves.addrop_epochs:
            figure.add_vrect(x0=epoch, x1=epoch + 1, fillcolor=colours["addrop_epoch_fill"], line_width=0, layer="below",
                             row=1, col=column)
    shaded = ("AD-DROP epochs shaded" if curves.addrop_epochs
              else "no AD-DROP epoch ran" if curves.setting != "baseline (no AD-DROP)" else "")
    figure.update_xaxes(title={"text": "epoch", "font": {"size": fonts["axis_title_size"]}}, gridcolor=colours["grid"],
                        dtick=1, rangemode="tozero", zeroline=False)
    figure.update_yaxes(gridcolor=colours["grid"], zeroline=False)
    figure.update_yaxes(title={"text": "loss", "font": {"size": fonts["axis_title_size"]}}, row=1, col=1)
    figure.update_yaxes(title={"text": curves.metric, "font": {"size": fonts["axis_title_size"]}}, row=1, col=2)
    figure.update_layout(
        title={"text": f"{plotly_text(curves.name)}<br><sup>{plotly_text(curves.setting)}{' · ' + shaded if shaded else ''}</sup>",
               "x": 0.01, "xanchor": "left", "font": {"size": fonts["title_size"]}},
        width=width, height=height, margin={"l": 56, "r": 16, "t": 80, "b": 80},
        legend={"orientation": "h", "y": -0.2, "font": {"size": 11}},
        paper_bgcolor="#ffffff", plot_bgcolor="#ffffff", font={"family": fonts["text"], "size": 11, "color": fonts["ink"]})
    return figure
