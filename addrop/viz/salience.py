"""The explorer's text view as a Plotly figure: the input's tokens in reading order, each shaded by the attribution
it gets in one query's row, AD-DROP's candidates outlined and its drops struck through; the keys a causal row
cannot attend (later positions) blank under a hatch, as on the maps.  A translation model's
cross-attention draws its target above its source, as the explorer's text view does: the chosen target token
framed, the source shaded by that target position's row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from addrop.explain_seq2seq import TranslationExplanation
from addrop.figure_style import figure_style
from addrop.viz.captions import WORD_START, View, Word, join_words, piece_text, plotly_text, title
from addrop.viz.maps import (MEAN, Head, check_head, hatch_pattern, head_map, layer_index, map_tokens, not_attended,
                              quantity_title, where)

LINE_PIXELS = 46  # one line of tokens
LABEL_LINES = 0.6  # the room a block's label ("target", "source") takes above it, in lines
TARGET_FILL = "#eef0f4"  # the target's cells in a cross-attention figure: tokens to pick a row by, not shaded
COLOUR_BAR_PIXELS = 380  # wide enough for its one-line title
BOTTOM_PIXELS = 64  # the colour bar, its tick labels and its title, under the text


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


def flow(words: list[Word], per_line: int, segments: list[int] | None = None) -> list[tuple[int, int]]:
    """Each token's ``(line, column)`` when ``words`` run as text, ``per_line`` tokens a line: a word that does not
    fit on what is left of a line starts the next (one longer than a line is split), as does a sentence pair's
    second sentence."""
    places: list[tuple[int, int]] = []
    line = column = 0
    for word in words:
        first = word.tokens[0]
        new_segment = segments is not None and first > 0 and segments[first] != segments[first - 1]
        if column and (new_segment or column + len(word.tokens) > per_line):
            line, column = line + 1, 0
        for _ in word.tokens:
            if column == per_line:
                line, column = line + 1, 0
            places.append((line, column))
            column += 1
    return places


@dataclass
class Block:
    """A run of tokens laid out as lines of cells, its first line's centre at ``top`` (figure y runs down, a line
    a unit)."""

    words: list[Word]
    places: list[tuple[int, int]]
    top: float

    @property
    def lines(self) -> int:
        return self.places[-1][0] + 1

    def at(self, token: int) -> tuple[float, float]:
        """``(x, y)``: the centre of ``token``'s cell."""
        line, column = self.places[token]
        return column, self.top + line

    def word_of(self, token: int) -> tuple[Word, str]:
        """The word ``token`` is part of, and the token's own text in it."""
        word = next(word for word in self.words if token in word.tokens)
        return word, word.texts[word.tokens.index(token)]

    def name(self, token: int) -> str:
        """A token as the title names it: its word, and which piece of it where the word has several."""
        word, piece = self.word_of(token)
        return f"“{word.text}” ({token})" if len(word.tokens) == 1 else f"“{word.text}” ({token}: the piece “{piece}”)"

    def grid(self, per_line: int, cell: Callable[[int], tuple[float, str]],
             only: Callable[[int], bool] | None = None) -> dict:
        """A heatmap's ``x``, ``y``, ``z``, ``text`` (each cell's token), ``hovertext`` and ``customdata`` (each
        cell's token index, None where there is no token) over the block's lines; ``cell(token)`` gives a token's
        value and hover text; ``only``, where given, says which tokens this heatmap holds (the others' cells empty)."""
        z = np.full((self.lines, per_line), np.nan)
        text, hover = [[""] * per_line for _ in range(self.lines)], [[""] * per_line for _ in range(self.lines)]
        tokens: list[list[int | None]] = [[None] * per_line for _ in range(self.lines)]
        for word in self.words:
            for token, piece in zip(word.tokens, word.texts):
                if only is not None and not only(token):
                    continue
                line, column = self.places[token]
                z[line, column], hover[line][column] = cell(token)
                text[line][column], tokens[line][column] = plotly_text(piece), token
        return {"x": list(range(per_line)), "y": [self.top + line for line in range(self.lines)], "z": z, "text": text,
                "hovertext": hover, "customdata": tokens}

    def separators(self) -> list[dict]:
        """White rules between neighbouring cells of different words: a word's pieces touch, words stand apart."""
        rules = []
        for word in self.words[1:]:
            first = word.tokens[0]
            if self.places[first - 1][0] == self.places[first][0]:
                x, y = self.at(first)
                rules.append({"type": "line", "x0": x - 0.5, "x1": x - 0.5, "y0": y - 0.5, "y1": y + 0.5,
                              "name": "word break", "line": {"color": "#ffffff", "width": 3}})
        return rules

    def runs(self, tokens: list[int]) -> list[tuple[float, float, float]]:
        """``(x0, x1, y)``: the extent of each run of ``tokens`` that sit side by side on one line (cell edges)."""
        runs: list[tuple[float, float, float]] = []
        for token in sorted(tokens):
            x, y = self.at(token)
            if runs and runs[-1][2] == y and runs[-1][1] == x - 0.5:
                runs[-1] = (runs[-1][0], x + 0.5, y)
            else:
                runs.append((x - 0.5, x + 0.5, y))
        return runs

    def hover_name(self, token: int) -> str:
        """A token in hover text (Plotly text): its piece and index, and its word where it is one of several pieces."""
        word, piece = self.word_of(token)
        return plotly_text(f"{piece} ({token})" + (f" in “{word.text}”" if len(word.tokens) > 1 else ""))


def shown_label(token: str) -> str:
    """A target position's scored token as titles show it: without its word-start or continuation marker."""
    return piece_text(token, token.startswith(WORD_START))


def _state(candidate: float, dropped: float, heads: int | None) -> str:
    """A key's mask state in the hover (the explorer's describeToken): over the mean of heads, in how many heads."""
    if heads is not None:
        return f"candidate in {round(candidate * heads)} of {heads} heads, dropped in {round(dropped * heads)} of {heads}"
    return "dropped (−∞ in pass 2)" if dropped >= 0.5 else "candidate, kept" if candidate >= 0.5 else "not a candidate"


def salience_figure(view: View, layer: int, head: Head, query: int = 0, *, model: str,
                    per_line: int = 12, width: int = 1000) -> go.Figure:
    """Row ``query`` of ``layer`` and ``head``'s attribution over the keys' tokens, run as text ``per_line`` tokens
    a line: each token shaded by its attribution, the candidates (``view.candidate``) outlined and the drops
    (``view.dropped``) struck through, and the query's own token in a heavier frame.  Tokens show as the
    explorer's text view shows them: a word's pieces side by side without their markers (``##``, ``▁``), words
    apart, a sentence pair's second sentence on a new line.  ``head`` "mean" shades by the row's mean over heads,
    with no candidates or drops (each head has its own).

    ``view`` is an :func:`addrop.explain.explain` result or an :func:`addrop.explain_seq2seq.explain_translation`
    one.  For a translation's cross-attention ``query`` is a target position: the target is drawn above the source
    with that token framed, and the source shaded by that position's row (what its prediction leans on); for the
    encoder's (decoder's) self-attention the source (target) is both the query and the shaded text."""
    index, head = layer_index(view, layer), check_head(view, head)
    translation = isinstance(view, TranslationExplanation)
    rows, keys = map_tokens(view)
    if not 0 <= query < len(rows):
        side = ("source" if view.kind == "encoder" else "target") if translation else "input"
        raise ValueError(f"query {query} is outside 0-{len(rows) - 1}, the {side}'s {len(rows)} token positions")
    style, fonts = figure_style(), figure_style()["fonts"]
    apart = translation and view.kind == "cross"  # rows and keys are different texts: the target above the source
    key_special, segments = (view.key_special, None) if translation else (view.special, view.segments)
    target = None
    if apart:
        words = join_words(rows, view.query_special)
        target = Block(words, flow(words, per_line), LABEL_LINES)
    words = join_words(keys, key_special, segments)
    block = Block(words, flow(words, per_line, segments), target.top + target.lines + LABEL_LINES if target else 0.0)

    values = head_map(view.attribution, index, head)[query]
    # the keys this row cannot attend (a causal row's later positions) have no value: not shaded, not ranked
    blank = not_attended(view)[query]
    seen = values[~blank]
    masks = view.candidate is not None and view.dropped is not None
    single = head != MEAN and masks
    heads = None if head != MEAN else view.attention.shape[1]
    n = len(keys)
    candidate, dropped = ((head_map(mask.float(), index, head)[query] for mask in (view.candidate, view.dropped))
                          if masks else (np.zeros(n), np.zeros(n)))
    ranks = [1 + int((seen > value).sum()) for value in values]

    def describe(j: int) -> tuple[float, str]:
        state = _state(candidate[j], dropped[j], heads) if masks else "no masks drawn"
        return values[j], (f"{block.hover_name(j)}<br>attribution {values[j]:.3g} · rank {ranks[j]} of {seen.size} "
                           f"(1 = highest)<br>{state}")

    bottom = block.top + block.lines - 0.5  # the plot's y runs from -0.5 (top) down to here
    kind, low, high = shade_scale(seen)
    lower, higher = shade_ends(view.method, kind)
    figure = go.Figure(go.Heatmap(
        **block.grid(per_line, describe, lambda j: not blank[j]), texttemplate="%{text}", textfont={"family": fonts["mono"], "size": 13},
        colorscale=scale_stops(kind), zmin=low, zmax=high, xgap=0, ygap=6, hoverongaps=False, name="attribution",
        hovertemplate="%{hovertext}<extra></extra>",
        # the scale under the text at the right, level as on the explorer's text view (a short figure has no room
        # for a standing bar's title)
        colorbar={"title": {"text": f"{quantity_title('attribution', view.method)}, this row · low: {lower} · high: {higher}",
                            "side": "top",
                            "font": {"size": fonts["axis_title_size"], "color": fonts["muted"]}},
                  "orientation": "h", "x": 1, "xanchor": "right", "len": COLOUR_BAR_PIXELS, "lenmode": "pixels",
                  "y": -8 / (LINE_PIXELS * (bottom + 0.5)), "yanchor": "top", "ypad": 0, "thickness": 10, "outlinewidth": 0,
                  "exponentformat": "e", "tickfont": {"size": fonts["colour_bar_size"]}}))
    if target is not None:
        def predicts(i: int) -> tuple[float, str]:
            return 0.0, f"{target.hover_name(i)}<br>predicts “{plotly_text(shown_label(view.target_labels[i]))}”"

        figure.add_trace(go.Heatmap(
            **target.grid(per_line, predicts),
            texttemplate="%{text}", textfont={"family": fonts["mono"], "size": 13}, name="target",
            colorscale=[[0, TARGET_FILL], [1, TARGET_FILL]], showscale=False, xgap=0, ygap=6, hoverongaps=False,
            hovertemplate="%{hovertext}<extra></extra>"))
        for name, at in (("target", target.top), ("source", block.top)):
            figure.add_annotation(text=name.upper(), x=-0.5, y=at - 0.5, xanchor="left", yanchor="bottom", showarrow=False,
                                  font={"size": fonts["axis_title_size"], "color": fonts["muted"]})
    if blank.any():
        unattended = figure_style()["not_attended"]

        def unseen(j: int) -> tuple[float, str]:
            return 0.0, f"{block.hover_name(j)}<br>{unattended['hover']}"

        figure.add_trace(go.Heatmap(
            **block.grid(per_line, unseen, lambda j: bool(blank[j])), texttemplate="%{text}",
            textfont={"family": fonts["mono"], "size": 13, "color": unattended["ink"]}, name="not attended",
            colorscale=[[0, unattended["fill"]], [1, unattended["fill"]]], showscale=False, xgap=0, ygap=6,
            hoverongaps=False, hovertemplate="%{hovertext}<extra></extra>"))
        x, y = [], []
        for x0, x1, at in block.runs(np.flatnonzero(blank).tolist()):
            x += [x0, x1, x1, x0, x0, None]
            y += [at - 0.42, at - 0.42, at + 0.42, at + 0.42, at - 0.42, None]
        figure.add_trace(go.Scatter(x=x, y=y, mode="none", fill="toself", fillcolor="rgba(0,0,0,0)",
                                    fillpattern=hatch_pattern(), name="not attended (hatch)", hoverinfo="skip",
                                    showlegend=False))
    for shape in (target.separators() if target else []) + block.separators():
        figure.add_shape(**shape)
    for token in range(n):
        x, y = block.at(token)
        if single and candidate[token]:
            figure.add_shape(type="rect", x0=x - 0.5, x1=x + 0.5, y0=y - 0.42, y1=y + 0.42, name="candidate",
                             line={"color": style["colours"]["region"], "width": 1.6})
        if single and dropped[token]:
            figure.add_shape(type="line", x0=x - 0.45, x1=x + 0.45, y0=y, y1=y, name="dropped",
                             line={"color": style["colours"]["drop"], "width": 2.5})
    x, y = (target or block).at(query)
    figure.add_shape(type="rect", x0=x - 0.5, x1=x + 0.5, y0=y - 0.42, y1=y + 0.42, name="query",
                     line={"color": fonts["ink"], "width": 3.5})

    said = (target or block).name(query)
    if not translation:
        heading = title(view, model, f"{where(layer, head)}, query {said}")
    else:
        heading = title(view, model, f"{style['titles']['kinds'][view.kind]}, {where(layer, head)}")
        scored = f", which predicts “{shown_label(view.target_labels[query])}”"
        sentence = (f"Source words that target token {said}{scored}, leans on" if apart
                    else f"Attribution to source token {said}" if view.kind == "encoder"
                    else f"Attribution to target token {said}{scored}")
        heading += "<br>" + plotly_text(sentence)
    framed = "the target token" if apart else "the query"
    legend = f"framed: candidate (top-p of the row) · struck through: dropped (−∞ in pass 2) · heavy frame: {framed}"
    if blank.any():
        legend += f" · {style['not_attended']['legend']}"
    heading += f"<br><sup>{plotly_text(legend)}</sup>"
    top_margin = 64 if translation else 50
    figure.update_layout(
        title={"text": heading, "x": 0.01, "xanchor": "left", "y": 1, "yref": "container", "yanchor": "top",
               "pad": {"t": 12}, "font": {"size": fonts["title_size"]}},
        xaxis={"visible": False, "range": [-0.5, per_line - 0.5]},
        yaxis={"visible": False, "range": [bottom, -0.5]},
        width=width, height=round(top_margin + BOTTOM_PIXELS + LINE_PIXELS * (bottom + 0.5)),
        margin={"l": 20, "r": 20, "t": top_margin, "b": BOTTOM_PIXELS},
        paper_bgcolor="#ffffff", plot_bgcolor="#ffffff", font={"family": fonts["text"], "size": fonts["size"], "color": fonts["ink"]})
    return figure
