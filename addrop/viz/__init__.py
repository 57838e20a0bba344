"""Plotly figures of AD-DROP for notebooks and papers, drawn from the library's own results with no server: the
explorer's maps of one layer and head with the candidate region outlined and the drops marked, the text salience
view, the model view (layers x heads), a job's curves and a sweep's p x q map against its baseline.  They follow
the figures' one definition (:mod:`addrop.figure_style`) that the web pages draw from too.

    from addrop.explain import explain
    from addrop import viz

    view = explain(model, tokenizer, "a gorgeous, witty film", p=0.3, q=0.2, seed=0)
    viz.maps_figure(view, layer=0, head=3, model="minilm").show()
"""

from addrop.viz.curves import JobCurves, job_curves
from addrop.viz.maps import maps_figure, model_view
from addrop.viz.salience import salience_figure
from addrop.viz.sweep import SweepCells, sweep_map

__all__ = ["JobCurves", "SweepCells", "job_curves", "maps_figure", "model_view", "salience_figure", "sweep_map"]
