"""The explorer's text view as a Plotly figure: the input's tokens in reading order, each shaded by the attribution
it gets in one query's row, AD-DROP's candidates outlined and its drops struck through."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from addrop.explain import Explanation
from addrop.figure_style import figure_style
from addrop.viz.captions import plotly_text, title
from addrop.viz.maps import MEAN, Head, check_head, head_map, layer_index, quantity_title, where


def shade_scale(values: np.ndarray) -> tuple[str, float, float]:
    """``(kind, low, high)``: signed values get a diverging scale centred on zero, values never negative (AA, RD)
    a sequential one from zero, so white always means "nothing" (the explorer's salience.js)."""
    low, high = float(values.min()), float(values.max())
    if low < 0:
        half = max(-low, high) or 1.0
        return "diverging", -half, half
    return "sequential", 0.0, high or 1.0


def scale_stops(kind: str) -> list[list]:
    """The attribution scale, whole (diverging) or its warm half stretched over 0..1 (sequential)."""
    stops = figure_style()["scales"]["attribution"]
    if kind == "diverging":
        return stops
    return [[(at - 0.5) * 2, colour] for at, colour in stops if at >= 0.5]


def shade_ends(method: str, kind: str) -> tuple[str, str]:
    """What the two ends of the scale mean: for a gradient, which way more attention moves the output F."""
    gradient = method in ("GA", "IGA")
    if kind == "diverging":
        return ("lowers F", "raises F") if gradient else ("lower", "higher")
    return ("no effect", "raises F") if gradient else ("zero", "higher")


def salience_figure(view: Explanation, layer: int, head: Head, query: int = 0, *, model: str,
                    per_line: int = 12, width: int = 1000) -> go.Figure:
    """Row ``query`` of ``layer`` and ``head``'s attribution over the input's tokens, ``per_line`` tokens a line:
    each token shaded by its attribution, the candidates (``view.candidate``) outlined and the drops
    (``view.dropped``) struck through; the query's own token has a heavier frame.  ``head`` "mean" shades by the
    row's mean over heads, with no candidates or drops (each head has its own)."""
    index, head = layer_index(view, layer), check_head(view, head)
    n = len(view.tokens)
    if not 0 <= query < n:
        raise ValueError(f"query {query} is outside 0-{n - 1}")
    style, fonts = figure_style(), figure_style()["fonts"]
    values = head_map(view.attribution, index, head)[query]
    kind, low, high = shade_scale(values)
    lines = -(-n // per_line)
    grid = np.full((lines, per_line), np.nan)
    grid.flat[:n] = values
    text = [[plotly_text(view.tokens[i * per_line + j]) if i * per_line + j < n else "" for j in range(per_line)] for i in range(lines)]
    lower, higher = shade_ends(view.method, kind)
    figure = go.Figure(go.Heatmap(
        z=grid, text=text, texttemplate="%{text}", textfont={"family": fonts["mono"], "size": 13},
        colorscale=scale_stops(kind), zmin=low, zmax=high, xgap=3, ygap=6, hoverongaps=False,
        hovertemplate="%{text}<br>attribution %{z:.4~g}<extra></extra>",
        colorbar={"title": {"text": f"{quantity_title('attribution', view.method)}, this row<br>"
                                    f"low: {lower} · high: {higher}", "side": "right",
                            "font": {"size": fonts["axis_title_size"], "color": fonts["muted"]}},
                  "thickness": 10, "outlinewidth": 0, "exponentformat": "e", "tickfont": {"size": fonts["colour_bar_size"]}}))
    single = head != MEAN and view.candidate is not None and view.dropped is not None
    candidate = view.candidate[index, head, query].numpy() if single else np.zeros(n, bool)
    dropped = view.dropped[index, head, query].numpy() if single else np.zeros(n, bool)
    for token in range(n):
        row, column = divmod(token, per_line)
        box = {"x0": column - 0.5, "x1": column + 0.5, "y0": row - 0.42, "y1": row + 0.42}
        if candidate[token]:
            figure.add_shape(type="rect", **box, name="candidate", line={"color": style["colours"]["region"], "width": 1.6})
        if dropped[token]:
            figure.add_shape(type="line", x0=column - 0.45, x1=column + 0.45, y0=row, y1=row, name="dropped",
                             line={"color": style["colours"]["drop"], "width": 2.5})
        if token == query:
            figure.add_shape(type="rect", **box, name="query", line={"color": fonts["ink"], "width": 3.5})
    figure.update_layout(
        title={"text": title(view, model, f"{where(layer, head)}, query “{view.tokens[query]}” ({query})") + "<br><sup>framed: candidate (top-p of the row) · struck through: "
                       "dropped (−∞ in pass 2) · heavy frame: the query</sup>",
               "x": 0.01, "xanchor": "left", "font": {"size": fonts["title_size"]}},
        xaxis={"visible": False, "range": [-0.5, per_line - 0.5]},
        yaxis={"visible": False, "autorange": "reversed"},
        width=width, height=130 + 46 * lines, margin={"l": 20, "r": 20, "t": 90, "b": 20},
        paper_bgcolor="#ffffff", plot_bgcolor="#ffffff", font={"family": fonts["text"], "size": fonts["size"], "color": fonts["ink"]})
    return figure
