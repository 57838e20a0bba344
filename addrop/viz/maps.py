"""The explorer's figures as Plotly figures: one layer and head's attention, attribution and AD-DROP mask side by
side, the candidate region outlined and the dropped positions marked (the paper's Figure 1), for a classifier's
input or a translation model's maps of one kind; and the model view, every layer and head as a thumbnail.  Sizes,
colours and labels follow the figures' definition that the explorer reads (:mod:`addrop.figure_style`)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from addrop.explain_seq2seq import TranslationExplanation
from addrop.figure_style import by_size, figure_style
from addrop.masking import attended_keys
from addrop.viz.captions import View, plotly_text, title
from addrop.viz.scales import colour_values, scale_note

QUANTITIES = ("attention", "attribution", "mask")
MEAN = "mean"  # as a head: the average over every head
Head = int | Literal["mean"]
MARGIN = {"l": 78, "r": 40, "t": 92, "b": 86}


# --- the definition's rules, as the explorer's figures.js applies them ---------------------------------------

def tick_step(n: int) -> int:
    """Every how many tokens an axis is labelled: at most ``labels.max_per_axis`` labels."""
    most = figure_style()["labels"]["max_per_axis"]
    return 1 if n <= most else math.ceil(n / most)


def _slant(slanted: bool) -> float:
    """The keys' labels are slanted (neighbours' baselines a cell times this apart); the rows' run level."""
    return math.sin(math.radians(abs(figure_style()["labels"]["key_angle"]))) if slanted else 1.0


def label_font(n: int, cell_pixels: float, slanted: bool = True) -> float:
    """The token labels' font size on an axis of ``cell_pixels``-wide cells (``slanted``: the keys' axis): the size
    that gives every token its label (a line of text apart), within ``labels.min_font_size`` and
    ``tick_font_size``; below the smallest, labels are thinned instead (figures.js's labelFont)."""
    labels = figure_style()["labels"]
    fits = cell_pixels * _slant(slanted) / labels["line_height"]
    return min(tick_font_size(n), max(labels["min_font_size"], math.floor(fits * 2) / 2))


def label_step(n: int, cell_pixels: float, slanted: bool = True) -> int:
    """Every how many tokens to label an axis whose cells are ``cell_pixels`` wide: labels of ``label_font`` a line
    of text apart, so they never collide, and never more than ``tick_step`` allows (figures.js's labelStride)."""
    spacing = label_font(n, cell_pixels, slanted) * figure_style()["labels"]["line_height"] / _slant(slanted)
    return max(tick_step(n), math.ceil(spacing / max(cell_pixels, 1e-6) - 1e-9))


# A colour bar beside a map: the bar, its tick labels and its title, in pixels (figures.js's COLOUR_BAR_PIXELS).
COLOUR_BAR_PIXELS = 74


def panel_gap(tokens: list[str], plot_pixels: float) -> float:
    """The paper fraction between two maps: room for the left map's colour bar and the right map's token labels
    (monospace, about 0.6 em a character), from 0.11 to 0.2 of the plot's width (figures.js's panelGap)."""
    label_pixels = max(len(token) for token in tokens) * tick_font_size(len(tokens)) * 0.6 + 8
    return min(0.2, max(0.11, (COLOUR_BAR_PIXELS + label_pixels) / plot_pixels))


def tick_font_size(n: int) -> float:
    return by_size(figure_style()["labels"]["font_size"], n)


def region_width(n: int) -> float:
    return by_size(figure_style()["region_width"], n)


def mark_size(n: int) -> float:
    size = figure_style()["mark"]["size"]
    return max(size["min"], min(size["max"], size["numerator"] / n))


def mark_width(n: int) -> float:
    return by_size(figure_style()["mark"]["width"], n)


PALETTES = ("default", "colour-blind")


def palette_of(name: str) -> dict:
    """The scales and colours of a palette: the definition's own, or its colour-blind-safe one."""
    if name not in PALETTES:
        raise ValueError(f"unknown palette {name!r}: choose from {', '.join(PALETTES)}")
    style = figure_style()
    return style["colour_blind"] if name == "colour-blind" else {"scales": style["scales"], "colours": style["colours"]}


def mask_scale(palette: str = "default") -> list[list]:
    """Three flat bands for the mask's levels 0 kept, 1 candidate, 2 dropped."""
    kept, candidate, dropped = palette_of(palette)["scales"]["mask_levels"]
    return [[0, kept], [0.333, kept], [0.333, candidate], [0.667, candidate], [0.667, dropped], [1, dropped]]


def quantity_title(quantity: str, method: str | None = None) -> str:
    """A colour bar's title (the explorer's legends.js)."""
    titles = figure_style()["titles"]
    return titles["attribution"].get(method, "attribution") if quantity == "attribution" else titles[quantity]


# --- the maps' numbers -------------------------------------------------------------------------------------

def map_tokens(view: View) -> tuple[list[str], list[str]]:
    """``(rows, keys)``: the tokens of a map's rows (queries) and of its columns (keys).  A classifier's maps are
    its tokens both ways; a translation model's rows are its ``query_tokens`` (the target but for the encoder's
    self-attention) and its keys ``key_tokens`` (the source but for the decoder's)."""
    if isinstance(view, TranslationExplanation):
        return view.query_tokens, view.key_tokens
    return view.tokens, view.tokens


def not_attended(view: View) -> np.ndarray:
    """``[rows, keys]``: True at the keys a row cannot attend (a causal map's later positions, key j > query i).
    Their gradient exists, but no attention flows through them and they are never candidates: the figures give them
    no value (:func:`blanked`).  Which keys a row sees is the masks' own rule (:func:`addrop.masking.attended_keys`),
    applied to the view's ``causal`` (what the explorer's answer calls ``causal`` too)."""
    rows, keys = map_tokens(view)
    return ~attended_keys(len(rows), len(keys), view.causal).numpy()


def blanked(values: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """``values`` as floats, NaN where ``blank`` (a key the row cannot attend): no colour, no part in the range."""
    return np.where(blank, np.nan, np.asarray(values, dtype=float))


def unattended_outline(n: int) -> list[tuple[float, float]]:
    """The polygon around the cells a causal ``n x n`` map's rows cannot attend (key j > query i), in cell
    coordinates (cell centres on integers, x the key, y the query): a staircase from the top edge down the right one
    and back along the diagonal; empty for a map of one token (the explorer's matrix.js unattendedOutline)."""
    if n < 2:
        return []
    corners = [(0.5, -0.5), (n - 0.5, -0.5), (n - 0.5, n - 1.5)]
    for i in range(n - 2, -1, -1):
        corners += [(i + 0.5, i + 0.5), (i + 0.5, i - 0.5)]
    return corners


def hatch_pattern() -> dict:
    """The light hatch over cells that carry no value, as a Plotly fill pattern (the definition's not_attended)."""
    style = figure_style()["not_attended"]
    return {**style["pattern"], "fgcolor": style["hatch"], "bgcolor": "rgba(0,0,0,0)"}


def _not_attended_traces(blank: np.ndarray, pairs: list[list[str]], gap: float) -> list:
    """The cells a row cannot attend, drawn alike on every map: the definition's fill with the hover saying why,
    under a hatch (no hover of its own, so that each cell's hover names its tokens)."""
    style = figure_style()["not_attended"]
    fill = go.Heatmap(z=np.where(blank, 0.0, np.nan), text=pairs, name="not attended", showscale=False,
                      colorscale=[[0, style["fill"]], [1, style["fill"]]], zmin=0, zmax=1, hoverongaps=False,
                      xgap=gap, ygap=gap, hovertemplate=f"%{{text}}<br>{style['hover']}<extra></extra>")
    x, y = zip(*unattended_outline(blank.shape[1]))
    hatch = go.Scatter(x=list(x) + [x[0]], y=list(y) + [y[0]], mode="none", fill="toself", fillcolor="rgba(0,0,0,0)",
                       fillpattern=hatch_pattern(), name="not attended (hatch)", hoverinfo="skip", showlegend=False)
    return [fill, hatch]


def boundaries_of(view: View) -> list[float]:
    """Where a sentence pair's second sentence begins, in cell coordinates; a translation's maps have none."""
    return [] if isinstance(view, TranslationExplanation) else segment_boundaries(view.segments)


def layer_index(view: View, layer: int) -> int:
    if layer not in view.layers:
        raise ValueError(f"layer {layer} is not in the view's layers {list(view.layers)}")
    return view.layers.index(layer)


def check_head(view: View, head: Head) -> Head:
    heads = view.attention.shape[1]
    if head == MEAN:
        return head
    if isinstance(head, str) or not 0 <= head < heads:
        raise ValueError(f"head {head!r} is outside 0-{heads - 1} (or 'mean', the average over every head)")
    return head


def head_map(maps: torch.Tensor, index: int, head: Head) -> np.ndarray:
    """Layer ``index``'s map of ``head``, or with ``"mean"`` the average over every head (for a 0/1 map such as
    the drops: the share of heads where a cell is set), as the explorer's head "mean" shows it."""
    return maps[index].float().mean(0).numpy() if head == MEAN else maps[index, head].numpy()


def where(layer: int, head: Head) -> str:
    """Where in the model a map is from, as titles say it."""
    return f"layer {layer}, " + ("mean over heads" if head == MEAN else f"head {head}")


def mask_levels(candidate: np.ndarray, dropped: np.ndarray) -> np.ndarray:
    """0 kept, 1 candidate, 2 dropped: the mask panel's levels."""
    return np.where(dropped, 2, np.where(candidate, 1, 0))


def outline_segments(mask: np.ndarray) -> list[tuple[float, float, float, float]]:
    """The border of the set cells as segments ``(x0, y0, x1, y1)`` in cell coordinates (cell centres on integers,
    x the key, y the query): the edges between a set cell and an unset one or the map's edge, with edges that
    continue each other joined."""
    on = np.pad(np.asarray(mask, dtype=bool), 1)
    inner = on[1:-1, 1:-1]
    segments: list[tuple[float, float, float, float]] = []

    def runs(flags: np.ndarray) -> list[tuple[int, int]]:
        """(start, end) of each run of True in a 1-D array, end exclusive."""
        edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
        return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))

    rows, columns = inner.shape
    for i in range(rows + 1):  # the horizontal line y = i - 0.5, between rows i - 1 and i
        border = on[i, 1:-1] != on[i + 1, 1:-1]
        segments += [(start - 0.5, i - 0.5, end - 0.5, i - 0.5) for start, end in runs(border)]
    for j in range(columns + 1):  # the vertical line x = j - 0.5, between columns j - 1 and j
        border = on[1:-1, j] != on[1:-1, j + 1]
        segments += [(j - 0.5, start - 0.5, j - 0.5, end - 0.5) for start, end in runs(border)]
    return segments


def outline_path(mask: np.ndarray) -> str:
    """The outline as an SVG path, for a Plotly ``path`` shape."""
    return "".join(f"M{x0:g},{y0:g}L{x1:g},{y1:g}" for x0, y0, x1, y1 in outline_segments(mask))


def segment_boundaries(segments: list[int]) -> list[float]:
    """Where one sentence ends and the next begins, in cell coordinates."""
    return [i - 0.5 for i in range(1, len(segments)) if segments[i] != segments[i - 1]]


# --- the figure ----------------------------------------------------------------------------------------------

def _bar_title(text: str, scale: str) -> dict:
    fonts = figure_style()["fonts"]
    note = scale_note(scale)
    return {"text": f"{text} · {note}" if note else text, "side": "right",
            "font": {"size": fonts["axis_title_size"], "color": fonts["muted"]}}


def _panel(view: View, index: int, head: Head, quantity: str, scale: str = "max",
           palette: str = "default") -> tuple[np.ndarray, dict]:
    """A panel's coloured values and its heatmap settings (colour scale, range, colour bar): a value map's colours
    span it as ``scale`` says (see :func:`addrop.viz.scales.colour_values`); the keys a row cannot attend are NaN
    (:func:`not_attended`), outside every range."""
    scales = palette_of(palette)["scales"]
    blank = not_attended(view)
    if quantity == "attention":
        (z,), top = colour_values([blanked(head_map(view.attention, index, head), blank)], scale)
        return z, {"colorscale": scales["attention"], "zmin": 0, "zmax": top,
                   "colorbar": {"title": _bar_title(quantity_title("attention"), scale)}}
    if quantity == "attribution":
        # a diverging scale around zero; an all-zero map still needs a range (colour_values' top is never 0)
        (z,), top = colour_values([blanked(head_map(view.attribution, index, head), blank)], scale)
        return z, {"colorscale": scales["attribution"], "zmin": -top, "zmax": top,
                   "colorbar": {"title": _bar_title(quantity_title("attribution", view.method), scale),
                                "exponentformat": "e", "showexponent": "all"}}
    if quantity == "mask" and head == MEAN:
        # at small q few cells are dropped by every head: a fixed 0-100 % scale would leave the map nearly white
        z = blanked(head_map(view.dropped, index, head), blank)
        return z, {"colorscale": scales["drop_fraction"], "zmin": 0, "zmax": float(np.nanmax(z, initial=0.0)) or 1.0,
                   "colorbar": {"title": _bar_title(quantity_title("mask-mean"), "max"), "tickformat": ".0%"}}
    if quantity == "mask":
        bar_title = _bar_title(quantity_title("mask"), "max")
        z = blanked(mask_levels(view.candidate[index, head].numpy(), view.dropped[index, head].numpy()), blank)
        return z, {"colorscale": mask_scale(palette), "zmin": 0, "zmax": 2,
                   "colorbar": {"title": bar_title,
                                "tickvals": [0.33, 1, 1.67], "ticktext": ["kept", "candidate", "dropped"]}}
    raise ValueError(f"unknown quantity {quantity!r}: choose from {', '.join(QUANTITIES)}")


def _panel_title(view: View, quantity: str, layer: int, head: Head) -> str:
    if quantity == "attention":
        # a translation model's maps say their kind, as the explorer's do
        name = figure_style()["titles"]["kinds"][view.kind] if isinstance(view, TranslationExplanation) else "attention"
        return f"{name[:1].upper()}{name[1:]} · {where(layer, head)}"
    if quantity == "attribution":
        return f"Attribution {figure_style()['titles']['method'][view.method]}"
    if head == MEAN:
        return f"Dropped, % of heads (p={view.p:g}, q={view.q:g})"
    return f"AD-DROP mask (p={view.p:g}, q={view.q:g}, {view.mode})"


def _axis(labels: list[str], y: bool, name: str, cell_pixels: float) -> dict:
    n = len(labels)
    fonts = figure_style()["fonts"]
    values = list(range(0, n, label_step(n, cell_pixels, not y)))
    spec = {
        "tickmode": "array", "tickvals": values, "ticktext": [labels[i] for i in values],
        "tickfont": {"size": label_font(n, cell_pixels, not y), "family": fonts["mono"]}, "showgrid": False, "zeroline": False,
        "range": [n - 0.5, -0.5] if y else [-0.5, n - 0.5], "ticks": "", "constrain": "domain",
        "title": {"text": name, "font": {"size": fonts["axis_title_size"], "color": fonts["muted"]}, "standoff": 4},
    }
    if not y:
        spec["tickangle"] = figure_style()["labels"]["key_angle"]
    return spec


def maps_figure(view: View, layer: int, head: Head, *, model: str,
                quantities: tuple[str, ...] = QUANTITIES, width: int = 1200, scale: str = "max",
                palette: str = "default") -> go.Figure:
    """The explorer's maps of ``layer`` and ``head`` of an :func:`addrop.explain.explain` result (or of
    :func:`addrop.explain_seq2seq.explain_translation`'s: its kind's maps, e.g. cross-attention's target rows by
    source keys): each of ``quantities`` (attention, attribution, mask) as a heatmap with queries down and keys
    across, its cells square (a map of more rows than keys is taller than wide), the candidate
    region (``view.candidate``: the top-p keys of each row by attribution, as :func:`addrop.discard_masks` draws
    them) outlined and the dropped positions (``view.dropped``) marked on the attention and attribution maps.  As on
    the explorer, outlines and marks are left out where a cell is too small to carry them at ``width`` pixels
    (the mask panel still shows every candidate and drop); the title says so.  ``head`` "mean" averages the maps
    over every head, as the explorer does: nothing is outlined or marked then, and the mask panel shows the share
    of heads dropping each cell.  ``scale`` is how the attention and
    attribution colours span their values ("max", "percentile": clipped at the definition's percentile of |value|,
    "row": each row divided by its largest |value|; the colour bar says which); ``palette`` "colour-blind" draws
    with the definition's colour-blind-safe scales."""
    if view.candidate is None or view.dropped is None:
        raise ValueError("the view has no masks: use addrop.explain.explain, or draw_masks on an attribute_text view")
    index, head = layer_index(view, layer), check_head(view, head)
    style, fonts = figure_style(), figure_style()["fonts"]
    colours = palette_of(palette)["colours"]
    rows, keys = map_tokens(view)
    n, m = len(keys), len(rows)
    size = max(n, m)  # what outlines and marks are sized by
    count = len(quantities)
    gap = panel_gap(keys + rows, width - MARGIN["l"] - MARGIN["r"]) if count > 1 else 0.0
    figure = make_subplots(rows=1, cols=count, horizontal_spacing=gap)
    panel_pixels = (width - MARGIN["l"] - MARGIN["r"]) * (1 - gap * (count - 1)) / count
    # square cells: the maps as tall as their rows take at the width's cell size, at most 900 pixels
    map_height = min(900, panel_pixels * m / n)
    cell = min(panel_pixels / n, map_height / m)
    marked = cell >= style["mark"]["smallest_marked_cell"]
    # over the mean of heads there is no one candidate region or set of drops to outline or mark
    marked = marked and head != MEAN
    candidate, dropped = head_map(view.candidate, index, head), head_map(view.dropped, index, head)
    row_labels, key_labels = [plotly_text(token) for token in rows], [plotly_text(token) for token in keys]
    pairs = [[f"{row_labels[i]} ({i}) → {key_labels[j]} ({j})" for j in range(n)] for i in range(m)]
    blank = not_attended(view)
    for k, quantity in enumerate(quantities):
        z, settings = _panel(view, index, head, quantity, scale, palette)
        suffix = "" if k == 0 else str(k + 1)
        domain = figure.layout[f"xaxis{suffix}"].domain
        settings["colorbar"].update(x=domain[1] + 0.005, len=0.75, thickness=10, outlinewidth=0,
                                    tickfont={"size": fonts["colour_bar_size"]})
        gap = 0 if size > 40 else 0.5
        # the keys a row cannot attend have no value here (NaN): their own trace names them in the hover
        figure.add_trace(go.Heatmap(z=z, text=pairs, name=quantity, xgap=gap, ygap=gap, hoverongaps=False,
                                    hovertemplate=f"%{{text}}<br>{quantity}{' ÷ row max' if scale == 'row' and quantity != 'mask' else ''}: %{{z:.4~g}}<extra></extra>", **settings),
                         row=1, col=k + 1)
        if blank.any():
            for trace in _not_attended_traces(blank, pairs, gap):
                figure.add_trace(trace, row=1, col=k + 1)
        figure.update_xaxes(_axis(key_labels, False, "key" if k == 0 else "", cell), row=1, col=k + 1)
        figure.update_yaxes({**_axis(row_labels, True, "query" if k == 0 else "", cell), "scaleanchor": f"x{suffix}"}, row=1, col=k + 1)
        figure.add_annotation(text=_panel_title(view, quantity, layer, head), x=(domain[0] + domain[1]) / 2, y=1.0,
                              xref="paper", yref="paper", xanchor="center", yanchor="bottom", yshift=8, showarrow=False,
                              font={"size": fonts["title_size"], "color": fonts["ink"]})
        line = {"color": colours["boundary"], "width": 1.2, "dash": "dash"}
        for at in boundaries_of(view):
            figure.add_shape(type="line", x0=at, x1=at, y0=-0.5, y1=m - 0.5, line=line, row=1, col=k + 1)
            figure.add_shape(type="line", x0=-0.5, x1=n - 0.5, y0=at, y1=at, line=line, row=1, col=k + 1)
        if quantity == "mask" or not marked:
            continue
        if candidate.any():
            figure.add_shape(type="path", path=outline_path(candidate), name="candidate region",
                             line={"color": colours["region"], "width": region_width(size)}, row=1, col=k + 1)
        queries, keys = np.nonzero(dropped)
        figure.add_trace(go.Scatter(
            x=keys.tolist(), y=queries.tolist(), mode="markers", name="dropped", hoverinfo="skip", showlegend=False,
            marker={"symbol": style["mark"]["symbol"], "size": mark_size(size), "color": colours["drop"],
                    "line": {"width": mark_width(size), "color": colours["drop"]}}), row=1, col=k + 1)
    heading = title(view, model, where(layer, head))
    if head == MEAN:
        heading += "<br><sup>mean over heads: no one candidate region or set of drops to outline (the mask panel: the share of heads dropping each cell)</sup>"
    elif not marked:
        heading += "<br><sup>cells too small for outlines and marks: the mask panel shows every candidate and drop</sup>"
    if blank.any():
        heading += f"<br><sup>{plotly_text(figure_style()['not_attended']['legend'])}</sup>"
    figure.update_layout(
        title={"text": heading, "x": 0.01, "xanchor": "left", "font": {"size": fonts["title_size"]}},
        width=width, height=round(map_height + MARGIN["t"] + MARGIN["b"]), margin=MARGIN,
        paper_bgcolor="#ffffff", plot_bgcolor="#ffffff",
        font={"family": fonts["text"], "size": fonts["size"], "color": fonts["ink"]},
        hoverlabel={"font": {"family": fonts["mono"], "size": 11}})
    return figure


def thumbnail_values(values: np.ndarray, scale: str = "max") -> np.ndarray:
    """A thumbnail's colour positions: each map scaled to its own range as ``scale`` says (its largest magnitude,
    a percentile of them with larger ones at the end colour, or each row to its own largest), then raised to the
    definition's gamma with its sign kept (the explorer's grid.js ramp), so small weights stay visible."""
    (z,), top = colour_values([values], scale)
    scaled = np.clip(np.asarray(z, dtype=float) / top, -1.0, 1.0)
    return np.sign(scaled) * np.abs(scaled) ** figure_style()["thumbnail"]["gamma"]


def model_view(view: View, *, model: str, quantity: str = "attribution", cell: int = 96,
               scale: str = "max") -> go.Figure:
    """Every layer and head of ``view`` as a thumbnail (rows: layers, columns: heads), as the explorer's model
    view draws them: ``quantity`` is attention, attribution or mask (kept, candidate, dropped); ``scale`` the
    colour control's ("max", "percentile", "row"), applied to each thumbnail on its own."""
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}: choose from {', '.join(QUANTITIES)}")
    if quantity == "mask" and (view.candidate is None or view.dropped is None):
        raise ValueError("the view has no masks: use addrop.explain.explain")
    thumbs, fonts = figure_style()["thumbnail"], figure_style()["fonts"]
    layers, heads = len(view.layers), view.attention.shape[1]
    figure = make_subplots(rows=layers, cols=heads, horizontal_spacing=0.08 / heads, vertical_spacing=0.08 / layers,
                           column_titles=[f"H{h}" for h in range(heads)], row_titles=[f"L{l}" for l in view.layers])
    if quantity == "attention":
        colorscale, zmin = [[0, thumbs["attention"][0]], [1, thumbs["attention"][1]]], 0
    elif quantity == "attribution":
        ends = thumbs["attribution"]
        colorscale, zmin = [[0, ends["negative"]], [0.5, ends["zero"]], [1, ends["positive"]]], -1
    else:
        kept, candidate, dropped = thumbs["mask"]
        colorscale = [[0, kept], [0.333, kept], [0.333, candidate], [0.667, candidate], [0.667, dropped], [1, dropped]]
    blank = not_attended(view)  # blank in every thumbnail, as on the maps
    for i in range(layers):
        for h in range(heads):
            if quantity == "mask":
                z, low, high = blanked(mask_levels(view.candidate[i, h].numpy(), view.dropped[i, h].numpy()), blank), 0, 2
            else:
                z, low, high = thumbnail_values(blanked(getattr(view, quantity)[i, h].numpy(), blank), scale), zmin, 1
            figure.add_trace(go.Heatmap(z=z, colorscale=colorscale, zmin=low, zmax=high, showscale=False,
                                        name=f"layer {view.layers[i]}, head {h}",
                                        hovertemplate=f"layer {view.layers[i]} · head {h}<br>query %{{y}} → key %{{x}}<extra></extra>"),
                             row=i + 1, col=h + 1)
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", constrain="domain")
    for k in range(1, layers * heads + 1):
        figure.layout[f"yaxis{'' if k == 1 else k}"].scaleanchor = f"x{'' if k == 1 else k}"
    where = f"{quantity}, every layer and head" if quantity != "mask" else "AD-DROP mask, every layer and head"
    figure.update_layout(
        title={"text": title(view, model, where), "x": 0.01, "xanchor": "left", "font": {"size": fonts["title_size"]}},
        width=60 + heads * (cell + 8), height=110 + layers * (cell + 8), margin={"l": 40, "r": 40, "t": 90, "b": 20},
        paper_bgcolor="#ffffff", plot_bgcolor="#ffffff", font={"family": fonts["text"], "size": fonts["size"], "color": fonts["ink"]})
    return figure
