"""addrop.viz draws the library's own numbers: the maps' cells are attribute()'s output, the outline encloses
exactly discard_masks()' candidates, the marks sit on the drops of the seed's draw, and the sweep map's cells and
the curves are the run files' metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, BertForSequenceClassification

from addrop import attribute, discard_masks, viz
from addrop.explain import explain
from addrop.explain_seq2seq import attribute_translation, explain_translation
from addrop.figure_style import figure_style
from addrop.streams import DROP_STREAM, layer_stream, stream_generator
from addrop.viz.maps import outline_segments
from tests.tiny_models import tiny_bert, tiny_tokenizer
from tests.tiny_translation import save_tiny_marian

TEXT, PAIR = "a gorgeous, witty, seductive movie that never drags", "the film is a delight"
P, Q, SEED, MODEL = 0.3, 0.5, 7, "tiny-bert"


@pytest.fixture(scope="module")
def tiny():
    tokenizer = tiny_tokenizer("minilm")
    return tiny_bert(len(tokenizer), BertForSequenceClassification, layers=2).eval(), tokenizer


@pytest.fixture(scope="module")
def view(tiny):
    model, tokenizer = tiny
    return explain(model, tokenizer, TEXT, PAIR, method="GA", p=P, q=Q, seed=SEED)


@pytest.fixture(scope="module")
def reference(tiny):
    """attribute() on the tokenised pair, and the masks discard_masks() draws from it for the seed's streams."""
    model, tokenizer = tiny
    inputs = dict(tokenizer(TEXT, PAIR, return_tensors="pt"))
    result = attribute(model, inputs, "GA", layers=(0, 1))
    masks = [discard_masks(result.attribution[layer], inputs["attention_mask"], P, Q,
                           generator=stream_generator(SEED, DROP_STREAM, layer_stream(layer))) for layer in (0, 1)]
    return result, masks


def unit_edges(segments) -> set[tuple[float, float, float, float]]:
    """Segments cut into cell-side edges."""
    edges = set()
    for x0, y0, x1, y1 in segments:
        steps = int(round(max(abs(x1 - x0), abs(y1 - y0))))
        dx, dy = (x1 - x0) / steps, (y1 - y0) / steps
        edges |= {(x0 + k * dx, y0 + k * dy, x0 + (k + 1) * dx, y0 + (k + 1) * dy) for k in range(steps)}
    return edges


def border_edges(mask: np.ndarray) -> set[tuple[float, float, float, float]]:
    """The sides between a set cell and an unset one or the map's edge, cell by cell."""
    m, n = mask.shape
    on = lambda i, j: 0 <= i < m and 0 <= j < n and bool(mask[i, j])  # noqa: E731
    edges = set()
    for i in range(m):
        for j in range(n):
            if not mask[i, j]:
                continue
            if not on(i - 1, j):
                edges.add((j - 0.5, i - 0.5, j + 0.5, i - 0.5))
            if not on(i + 1, j):
                edges.add((j - 0.5, i + 0.5, j + 0.5, i + 0.5))
            if not on(i, j - 1):
                edges.add((j - 0.5, i - 0.5, j - 0.5, i + 0.5))
            if not on(i, j + 1):
                edges.add((j + 0.5, i - 0.5, j + 0.5, i + 0.5))
    return edges


def path_segments(path: str) -> list[tuple[float, float, float, float]]:
    out = []
    for part in path.split("M")[1:]:
        start, end = part.split("L")
        out.append(tuple(float(v) for v in start.split(",")) + tuple(float(v) for v in end.split(",")))
    return out


@pytest.mark.parametrize(("layer", "head"), [(0, 1), (1, 3)])
def test_the_maps_are_attributes_output_with_its_candidates_outlined_and_the_seeds_drops_marked(view, reference, layer, head):
    result, masks = reference
    candidate, dropped = (mask[0, head].numpy() for mask in masks[layer])
    assert candidate.any() and dropped.any()
    figure = viz.maps_figure(view, layer, head, model=MODEL)
    heatmaps = [trace for trace in figure.data if isinstance(trace, go.Heatmap)]
    np.testing.assert_allclose(np.asarray(heatmaps[0].z), result.attention[layer, 0, head].numpy(), atol=1e-6)
    np.testing.assert_allclose(np.asarray(heatmaps[1].z), result.attribution[layer, 0, head].numpy(), rtol=1e-5, atol=1e-9)
    # the mask panel: 0 kept, 1 candidate, 2 dropped
    np.testing.assert_array_equal(np.asarray(heatmaps[2].z), np.where(dropped, 2, np.where(candidate, 1, 0)))
    outlines = [shape for shape in figure.layout.shapes if shape.type == "path"]
    assert len(outlines) == 2  # on the attention and the attribution maps
    for outline in outlines:
        assert unit_edges(path_segments(outline.path)) == border_edges(candidate)
    marks = [trace for trace in figure.data if isinstance(trace, go.Scatter)]
    assert len(marks) == 2
    for mark in marks:
        assert set(zip(mark.y, mark.x)) == set(zip(*np.nonzero(dropped)))
    title = figure.layout.title.text
    for fact in (MODEL, "“a gorgeous, witty, seductive movie that…”", f"layer {layer}, head {head}", "GA", f"p={P}",
                 f"q={Q}", f"seed {SEED}"):
        assert fact in title, fact


def test_outlines_and_marks_are_left_out_where_cells_are_too_small_and_the_title_says_so(view):
    figure = viz.maps_figure(view, 0, 0, model=MODEL, width=300)
    assert not [shape for shape in figure.layout.shapes if shape.type == "path"]
    assert not [trace for trace in figure.data if isinstance(trace, go.Scatter)]
    assert "cells too small" in figure.layout.title.text


def test_a_percentile_clip_spans_the_colours_to_that_percentile_of_the_maps_magnitudes(view, reference):
    result, _ = reference
    attribution = result.attribution[1, 0, 2].numpy()
    figure = viz.maps_figure(view, 1, 2, model=MODEL, scale="percentile")
    heatmaps = [trace for trace in figure.data if isinstance(trace, go.Heatmap)]
    # the values stay the map's own; the end colours stand for its 99th percentile of |value|, short of the largest
    np.testing.assert_allclose(np.asarray(heatmaps[1].z), attribution, rtol=1e-5, atol=1e-9)
    top = sorted(np.abs(attribution).ravel())
    rank = (len(top) - 1) * 0.99
    expected = top[int(rank)] + (top[int(rank) + 1] - top[int(rank)]) * (rank - int(rank))
    assert heatmaps[1].zmax == pytest.approx(expected, rel=1e-5) and heatmaps[1].zmin == -heatmaps[1].zmax
    assert heatmaps[1].zmax < top[-1]
    assert "99th" in heatmaps[1].colorbar.title.text and "99th" in heatmaps[0].colorbar.title.text
    assert "99th" not in heatmaps[2].colorbar.title.text  # the mask has levels, not a range


def test_per_row_normalisation_colours_each_row_by_its_own_largest_magnitude(view, reference):
    result, _ = reference
    figure = viz.maps_figure(view, 0, 1, model=MODEL, scale="row")
    heatmaps = [trace for trace in figure.data if isinstance(trace, go.Heatmap)]
    attribution = result.attribution[0, 0, 1].numpy()
    z = np.asarray(heatmaps[1].z)
    for i, row in enumerate(attribution):
        np.testing.assert_allclose(z[i], row / np.abs(row).max(), rtol=1e-5)
    assert (heatmaps[1].zmin, heatmaps[1].zmax) == (-1, 1) and (heatmaps[0].zmin, heatmaps[0].zmax) == (0, 1)
    assert "each row" in heatmaps[1].colorbar.title.text
    with pytest.raises(ValueError, match="unknown colour scale"):
        viz.maps_figure(view, 0, 1, model=MODEL, scale="log")


def test_the_colour_blind_palette_draws_with_its_scales_and_marks(view):

    safe = figure_style()["colour_blind"]
    figure = viz.maps_figure(view, 0, 1, model=MODEL, palette="colour-blind")
    heatmaps = [trace for trace in figure.data if isinstance(trace, go.Heatmap)]
    assert [list(stop) for stop in heatmaps[1].colorscale] == safe["scales"]["attribution"]
    assert heatmaps[2].colorscale[-1][1] == safe["scales"]["mask_levels"][2]
    marks = [trace for trace in figure.data if isinstance(trace, go.Scatter)]
    assert marks and all(mark.marker.color == safe["colours"]["drop"] for mark in marks)
    with pytest.raises(ValueError, match="unknown palette"):
        viz.maps_figure(view, 0, 1, model=MODEL, palette="neon")


@pytest.mark.parametrize("palette", ["default", "colour-blind"])
def test_the_mean_over_heads_mask_panel_follows_the_palette(view, palette):

    style = figure_style()
    ramp = (style["colour_blind"] if palette == "colour-blind" else style)["scales"]["drop_fraction"]
    mask = viz.maps_figure(view, 1, "mean", model=MODEL, palette=palette).data[2]
    assert [list(stop) for stop in mask.colorscale] == ramp
    assert style["colour_blind"]["scales"]["drop_fraction"] != style["scales"]["drop_fraction"]


@pytest.fixture(scope="module")
def marian_dir(tmp_path_factory):
    return save_tiny_marian(tmp_path_factory.mktemp("tiny-marian"))


def test_a_translation_models_cross_attention_maps_have_target_rows_and_source_keys(marian_dir):
    source, limit, layer, head = "the cat sees the red house", 16, 1, 2
    tokenizer = AutoTokenizer.from_pretrained(marian_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(marian_dir, attn_implementation="sdpa").eval()
    view = explain_translation(model, tokenizer, source, kind="cross", p=P, q=Q, seed=SEED, max_length=limit)
    m, n = len(view.target_tokens), len(view.source_tokens)
    assert m != n  # a map taller than wide: rows and keys are told apart
    # the model's own cross-attention (eager) where the decoder reads the view's target tokens
    own = AutoModelForSeq2SeqLM.from_pretrained(marian_dir, attn_implementation="eager").eval()
    with torch.no_grad():
        maps = own(**tokenizer(source, return_tensors="pt"), output_attentions=True,
                   decoder_input_ids=torch.tensor([tokenizer.convert_tokens_to_ids(view.target_tokens)])).cross_attentions
    attribution = attribute_translation(model, tokenizer, source, kind="cross", layers=(layer,), max_length=limit).attribution[0]
    candidate, dropped = (mask[0, 0, head].numpy() for mask in discard_masks(
        attribution.unsqueeze(0).unsqueeze(0), torch.ones(1, n), P, Q, "high",
        stream_generator(SEED, DROP_STREAM, layer_stream(layer, "cross")), query_mask=torch.ones(1, m)))
    assert candidate.any() and dropped.any()

    figure = viz.maps_figure(view, layer, head, model="tiny-marian")
    heatmaps = [trace for trace in figure.data if isinstance(trace, go.Heatmap)]
    assert all(np.asarray(h.z).shape == (m, n) for h in heatmaps)
    np.testing.assert_allclose(np.asarray(heatmaps[0].z), maps[layer][0, head].numpy(), atol=1e-5)
    np.testing.assert_allclose(np.asarray(heatmaps[1].z), attribution[head].numpy(), rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(np.asarray(heatmaps[2].z), np.where(dropped, 2, np.where(candidate, 1, 0)))
    # columns are named by the source's tokens, rows by the target's, in the hover text too
    axis_x, axis_y = figure.layout.xaxis, figure.layout.yaxis
    shown = lambda token: token.replace("<", "&lt;").replace(">", "&gt;")  # noqa: E731  ("</s>", "<pad>")
    assert list(axis_x.ticktext) == [shown(view.source_tokens[i]) for i in axis_x.tickvals]
    assert list(axis_y.ticktext) == [shown(view.target_tokens[i]) for i in axis_y.tickvals]
    assert tuple(axis_x.range) == (-0.5, n - 0.5) and tuple(axis_y.range) == (m - 0.5, -0.5)
    assert heatmaps[0].text[m - 1][0] == f"{shown(view.target_tokens[m - 1])} ({m - 1}) → {shown(view.source_tokens[0])} (0)"
    outlines = [shape for shape in figure.layout.shapes if shape.type == "path"]
    assert len(outlines) == 2 and all(unit_edges(path_segments(o.path)) == border_edges(candidate) for o in outlines)
    marks = [trace for trace in figure.data if isinstance(trace, go.Scatter)]
    assert len(marks) == 2 and all(set(zip(mark.y, mark.x)) == set(zip(*np.nonzero(dropped))) for mark in marks)
    assert not [shape for shape in figure.layout.shapes if shape.type == "line"]  # no sentence pair to divide
    # square cells: the maps as tall as m of the width's n cells
    panel = (figure.layout.xaxis.domain[1] - figure.layout.xaxis.domain[0]) * (figure.layout.width - 78 - 40)
    assert figure.layout.height - 92 - 86 == pytest.approx(panel * m / n, abs=1)
    # the title names the source sentence and the first map its kind
    assert "“the cat sees the red house”" in figure.layout.title.text
    assert figure.layout.annotations[0].text == f"Cross-attention · layer {layer}, head {head}"


def own_cross_rows(marian_dir, view, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The eager model's own cross-attention of ``layer`` where its decoder reads the view's target, and its GA:
    autograd of F = -(cross-entropy of each target position against the model's own argmax) on that map."""
    tokenizer = AutoTokenizer.from_pretrained(marian_dir)
    own = AutoModelForSeq2SeqLM.from_pretrained(marian_dir, attn_implementation="eager").eval()
    out = own(**tokenizer(SOURCE, return_tensors="pt"), output_attentions=True,
              decoder_input_ids=torch.tensor([tokenizer.convert_tokens_to_ids(view.target_tokens)]))
    logits = out.logits[0]
    value = -torch.nn.functional.cross_entropy(logits, logits.argmax(-1), reduction="sum")
    (gradient,) = torch.autograd.grad(value, out.cross_attentions[layer])
    return out.cross_attentions[layer][0].detach(), gradient[0]


def words_by_hand(tokens: list[str]) -> list[str]:
    """Each SentencePiece token's word: the pieces from the last one that starts with ▁ to the next one's start."""
    starts = [i for i, token in enumerate(tokens) if token.startswith("▁") or token.startswith("<")] + [len(tokens)]
    words = [""] * len(tokens)
    for start, end in zip(starts, starts[1:]):
        word = "".join(token.removeprefix("▁") for token in tokens[start:end])
        for i in range(start, end):
            words[i] = word
    return words


SOURCE = "the cat sees the red house"


@pytest.mark.parametrize("method", ["GA", "AA"])
def test_a_translations_text_view_shades_the_source_by_one_target_positions_cross_attention_row(marian_dir, method):
    layer, limit = 1, 16
    tokenizer = AutoTokenizer.from_pretrained(marian_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(marian_dir, attn_implementation="sdpa").eval()
    view = explain_translation(model, tokenizer, SOURCE, kind="cross", method=method, p=P, q=Q, seed=SEED, max_length=limit)
    m, n = len(view.target_tokens), len(view.source_tokens)
    targets, sources = words_by_hand(view.target_tokens), words_by_hand(view.source_tokens)
    attention, gradient = own_cross_rows(marian_dir, view, layer)
    maps = attention if method == "AA" else gradient  # AA: the attention weights themselves
    candidates, drops = (mask[0, 0].numpy() for mask in discard_masks(
        maps.unsqueeze(0).unsqueeze(0), torch.ones(1, n), P, Q, "high",
        stream_generator(SEED, DROP_STREAM, layer_stream(layer, "cross")), query_mask=torch.ones(1, m)))
    # a target position inside a word of several pieces (the title must name the word, not the piece) whose row
    # drops something in some head
    head, query = next((h, i) for i, token in enumerate(view.target_tokens) for h in range(maps.shape[0])
                       if not token.startswith(("▁", "<")) and drops[h, i].any())
    expected, candidate, dropped = maps[head, query].numpy(), candidates[head, query], drops[head, query]

    figure = viz.salience_figure(view, layer, head, query, model="tiny-marian")
    source, target = placed(figure.data[0]), placed(figure.data[1])
    assert len(source) == n and len(target) == m
    np.testing.assert_allclose([source[j][2] for j in range(n)], expected, rtol=1e-4, atol=1e-7)
    assert marked(figure, "candidate", source) == np.flatnonzero(candidate).tolist()
    assert marked(figure, "dropped", source) == np.flatnonzero(dropped).tolist()
    # the target above the source, the chosen position framed there
    assert max(y for _, y, _, _ in target.values()) < min(y for _, y, _, _ in source.values())
    assert marked(figure, "query", target) == [query]
    # words, not pieces: cells show pieces without ▁, side by side within a word; the title names the word
    shown = lambda token: token.removeprefix("▁").replace("<", "&lt;").replace(">", "&gt;")  # noqa: E731
    assert [source[j][3] for j in range(n)] == [shown(t) for t in view.source_tokens]
    assert [target[i][3] for i in range(m)] == [shown(t) for t in view.target_tokens]
    assert word_starts(figure, source) == {j for j in range(1, n) if sources[j] != sources[j - 1] and source[j][0] > 0}
    heading = figure.layout.title.text
    assert "▁" not in heading and "“the cat sees the red house”" in heading
    assert f"cross-attention, layer {layer}, head {head}" in heading
    label = view.target_labels[query].removeprefix("▁")
    assert (f"Source words that target token “{targets[query]}” ({query}: the piece “{shown(view.target_tokens[query])}”), "
            f"which predicts “{label}”, leans on") in heading
    piece = next(j for j, token in enumerate(view.source_tokens) if not token.startswith(("▁", "<")))
    hover = figure.data[0].hovertext[list(figure.data[0].y).index(source[piece][1])][source[piece][0]]
    assert hover.startswith(f"{shown(view.source_tokens[piece])} ({piece}) in “{sources[piece]}”<br>attribution ")
    for wrong in (m, -1):
        with pytest.raises(ValueError, match=f"query {wrong} is outside 0-{m - 1}, the target's {m} token positions"):
            viz.salience_figure(view, layer, head, wrong, model="tiny-marian")


@pytest.mark.parametrize("kind, side", [("encoder", "source"), ("decoder", "target")])
def test_a_translations_self_attention_text_view_shades_its_own_side(marian_dir, kind, side):
    tokenizer = AutoTokenizer.from_pretrained(marian_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(marian_dir, attn_implementation="sdpa").eval()
    view = explain_translation(model, tokenizer, SOURCE, kind=kind, p=P, q=Q, seed=SEED, max_length=16)
    tokens = view.source_tokens if kind == "encoder" else view.target_tokens
    query = len(tokens) // 2
    figure = viz.salience_figure(view, 0, 1, query, model="tiny-marian")
    # one text, the rows' own; a decoder's row sees its own and earlier positions, the later ones blank apart
    causal = ["not attended", "not attended (hatch)"] if kind == "decoder" else []
    assert [trace.name for trace in figure.data] == ["attribution", *causal]
    cells = placed(figure.data[0])
    seen = query + 1 if kind == "decoder" else len(tokens)
    np.testing.assert_allclose([cells[j][2] for j in range(seen)], view.attribution[0, 1, query, :seen].numpy())
    assert marked(figure, "query", cells) == [query]
    assert f"{figure_style()['titles']['kinds'][kind]}, layer 0, head 1" in figure.layout.title.text
    with pytest.raises(ValueError, match=f"the {side}'s {len(tokens)} token positions"):
        viz.salience_figure(view, 0, 1, len(tokens), model="tiny-marian")


def own_decoder_attention(marian_dir, view, layer: int, head: int) -> np.ndarray:
    """The eager model's own decoder self-attention weights of ``layer`` and ``head`` where its decoder reads the
    view's target: the independent definition of what a row attends (a later key's weight is exactly 0)."""
    tokenizer = AutoTokenizer.from_pretrained(marian_dir)
    own = AutoModelForSeq2SeqLM.from_pretrained(marian_dir, attn_implementation="eager").eval()
    with torch.no_grad():
        out = own(**tokenizer(SOURCE, return_tensors="pt"), output_attentions=True,
                  decoder_input_ids=torch.tensor([tokenizer.convert_tokens_to_ids(view.target_tokens)]))
    return out.decoder_attentions[layer][0, head].numpy()


def polygon_edges(corners) -> set[tuple[float, float, float, float]]:
    """A closed polygon's sides cut into cell-side edges, each written left to right or top to bottom."""
    sides = [(*a, *b) for a, b in zip(corners, corners[1:] + corners[:1]) if a != b]  # a closing corner repeats the first
    return {(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)) for x0, y0, x1, y1 in unit_edges(sides)}


@pytest.mark.parametrize("scale", ["max", "percentile", "row"])
def test_a_decoders_self_attention_leaves_the_keys_a_row_cannot_attend_blank_and_out_of_the_colour_range(marian_dir, scale):
    layer, head = 1, 3  # a head whose later keys' gradients exceed the attended ones': they would set the range
    tokenizer = AutoTokenizer.from_pretrained(marian_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(marian_dir, attn_implementation="sdpa").eval()
    view = explain_translation(model, tokenizer, SOURCE, kind="decoder", p=P, q=Q, seed=SEED, max_length=16)
    weights = own_decoder_attention(marian_dir, view, layer, head)
    unattended = weights == 0  # softmax weight exactly 0: the keys the row never attends
    attended = ~unattended
    attribution = view.attribution[view.layers.index(layer), head].numpy()
    m = len(view.target_tokens)
    assert unattended.any() and attended.all(axis=1).sum() == 1  # only the last row sees every key
    assert np.abs(attribution[unattended]).max() > np.abs(attribution[attended]).max()  # a gradient where no weight flows

    figure = viz.maps_figure(view, layer, head, model="tiny-marian", scale=scale)
    panels = {trace.name: trace for trace in figure.data if trace.name in ("attention", "attribution", "mask")}
    for name, trace in panels.items():
        z = np.asarray(trace.z, dtype=float)
        assert z.shape == (m, m)
        np.testing.assert_array_equal(np.isnan(z), unattended, err_msg=name)  # no value, no colour
    # the colours span the attended cells only
    shown = np.where(attended, attribution, np.nan)
    if scale == "row":
        rows = np.nanmax(np.abs(shown), axis=1, keepdims=True)
        np.testing.assert_allclose(np.asarray(panels["attribution"].z, dtype=float)[attended], (shown / rows)[attended], rtol=1e-5)
        assert panels["attribution"].zmax == 1
    else:
        top = (np.percentile(np.abs(attribution[attended]), 99) if scale == "percentile"
               else np.abs(attribution[attended]).max())
        assert panels["attribution"].zmax == pytest.approx(top, rel=1e-5) and panels["attribution"].zmin == pytest.approx(-top, rel=1e-5)
        weight = np.percentile(weights[attended], 99) if scale == "percentile" else weights[attended].max()
        assert panels["attention"].zmax == pytest.approx(weight, rel=1e-4)
    # the blank cells are named in the hover and hatched, on each of the three maps alike
    fills = [trace for trace in figure.data if trace.name == "not attended"]
    hatches = [trace for trace in figure.data if trace.name == "not attended (hatch)"]
    assert len(fills) == len(hatches) == 3
    hover = figure_style()["not_attended"]["hover"]
    for fill, hatch in zip(fills, hatches):
        np.testing.assert_array_equal(~np.isnan(np.asarray(fill.z, dtype=float)), unattended)
        assert hover in fill.hovertemplate and fill.showscale is False
        assert fill.colorscale[0][1] == figure_style()["not_attended"]["fill"]
        assert hatch.fill == "toself" and hatch.fillpattern.shape == figure_style()["not_attended"]["pattern"]["shape"]
        assert polygon_edges(list(zip(hatch.x, hatch.y))) == border_edges(unattended)
    assert "not attended" in figure.layout.title.text
    # nothing a row cannot see is ever a candidate (the masks' own rule)
    assert not (view.candidate[view.layers.index(layer), head].numpy() & unattended).any()


def test_a_decoders_text_view_leaves_the_later_keys_of_the_row_blank(marian_dir):
    layer, head = 1, 3
    tokenizer = AutoTokenizer.from_pretrained(marian_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(marian_dir, attn_implementation="sdpa").eval()
    view = explain_translation(model, tokenizer, SOURCE, kind="decoder", p=P, q=Q, seed=SEED, max_length=16)
    m = len(view.target_tokens)
    query = m // 2
    unattended = own_decoder_attention(marian_dir, view, layer, head)[query] == 0
    row = view.attribution[view.layers.index(layer), head, query].numpy()
    assert unattended.any() and not unattended[: query + 1].any()
    assert np.abs(row[unattended]).max() > np.abs(row[~unattended]).max()  # they would set the scale
    figure = viz.salience_figure(view, layer, head, query, model="tiny-marian")
    shaded, blank = (placed_tokens(trace) for trace in figure.data[:2])
    assert figure.data[1].name == "not attended"
    assert sorted(shaded) == np.flatnonzero(~unattended).tolist() and sorted(blank) == np.flatnonzero(unattended).tolist()
    np.testing.assert_allclose([shaded[j][2] for j in sorted(shaded)], row[~unattended], rtol=1e-5)
    # the scale spans the row's attended keys only
    top = np.abs(row[~unattended]).max()
    assert max(abs(figure.data[0].zmin), abs(figure.data[0].zmax)) == pytest.approx(top, rel=1e-5)
    hover = figure_style()["not_attended"]["hover"]
    for j, (x, y, _, _) in blank.items():
        assert figure.data[1].hovertext[list(figure.data[1].y).index(y)][x].endswith(hover)
    first = min(shaded)
    text = figure.data[0].hovertext[list(figure.data[0].y).index(shaded[first][1])][shaded[first][0]]
    assert f"of {query + 1} (1 = highest)" in text  # ranked among the keys the row attends
    assert figure.data[2].fillpattern.shape == figure_style()["not_attended"]["pattern"]["shape"]


def placed_tokens(trace) -> dict[int, tuple[float, float, float, str]]:
    """Each token's ``(x, y, z, text)`` in one of a text view's heatmaps, which may hold some of the tokens."""
    return {token: (trace.x[j], trace.y[i], trace.z[i][j], trace.text[i][j])
            for i, row in enumerate(trace.customdata) for j, token in enumerate(row) if token is not None}


def test_the_outline_of_a_shape_with_a_hole_joins_its_edges():
    mask = np.ones((3, 3), bool)
    mask[1, 1] = False
    segments = outline_segments(mask)
    assert len(segments) == 8  # four outer sides, four around the hole
    assert unit_edges(segments) == border_edges(mask)


def placed(trace) -> dict[int, tuple[float, float, float, str]]:
    """Each token's ``(x, y, z, text)`` in a text view's heatmap, read off the cell its ``customdata`` names."""
    cells: dict[int, tuple[float, float, float, str]] = {}
    for i, row in enumerate(trace.customdata):
        for j, token in enumerate(row):
            if token is not None:
                assert token not in cells
                cells[token] = (trace.x[j], trace.y[i], trace.z[i][j], trace.text[i][j])
    assert sorted(cells) == list(range(len(cells)))
    # reading order: line by line, left to right
    assert sorted(cells, key=lambda t: (cells[t][1], cells[t][0])) == list(range(len(cells)))
    return cells


def on_cells(figure, name: str, cells, shift: float = 0.0) -> list[int]:
    """The tokens of ``cells`` whose cells carry a shape ``name`` centred on them (a frame, a strike), or with
    ``shift`` 0.5 on their left edge (a word break); shapes on other cells (another text) are left out."""
    at = {(round(x, 6), round(y, 6)): token for token, (x, y, _, _) in cells.items()}
    centres = [(round((s.x0 + s.x1) / 2 + shift, 6), round((s.y0 + s.y1) / 2, 6)) for s in figure.layout.shapes if s.name == name]
    return sorted(at[centre] for centre in centres if centre in at)


def marked(figure, name: str, cells) -> list[int]:
    return on_cells(figure, name, cells)


def word_starts(figure, cells) -> set[int]:
    """The tokens with a word break (a white rule) on their left."""
    return set(on_cells(figure, "word break", cells, shift=0.5))


def test_the_text_view_shades_one_rows_attribution_and_marks_its_candidates_and_drops(view, reference):
    result, masks = reference
    layer, head, query = 0, 1, 3  # the last layer's rows but [CLS]'s reach no logit: their attribution is all 0
    figure = viz.salience_figure(view, layer, head, query, model=MODEL, per_line=7)
    cells = placed(figure.data[0])
    n = len(view.tokens)
    expected = result.attribution[layer, 0, head, query].numpy()
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose([cells[j][2] for j in range(n)], expected, rtol=1e-5, atol=1e-9)
    candidate, dropped = (mask[0, head, query].numpy() for mask in masks[layer])
    assert candidate.any() and dropped.any()
    assert marked(figure, "candidate", cells) == np.flatnonzero(candidate).tolist()
    assert marked(figure, "dropped", cells) == np.flatnonzero(dropped).tolist()
    assert marked(figure, "query", cells) == [query]
    assert f"query “{view.tokens[query]}” ({query})" in figure.layout.title.text
    # a wordpiece sits beside its word's first piece, without its ##; the second sentence starts a line
    piece = view.tokens.index("##s")
    assert cells[piece][3] == "s" and cells[piece][:2] == (cells[piece - 1][0] + 1, cells[piece - 1][1])
    assert piece not in word_starts(figure, cells) and piece - 1 in word_starts(figure, cells)
    second = view.segments.index(1)
    assert cells[second][0] == 0 and cells[second][1] == cells[second - 1][1] + 1


@pytest.mark.parametrize("quantity", ["attention", "attribution", "mask"])
def test_the_model_view_has_a_thumbnail_per_layer_and_head_each_on_its_own_scale(view, reference, quantity):
    result, masks = reference
    figure = viz.model_view(view, model=MODEL, quantity=quantity)
    assert len(figure.data) == 2 * 4
    for trace in figure.data:
        layer, head = (int(v) for v in trace.name.replace("layer ", "").replace(" head ", "").split(","))
        if quantity == "mask":
            candidate, dropped = (mask[0, head].numpy() for mask in masks[layer])
            expected = np.where(dropped, 2, np.where(candidate, 1, 0))
        else:
            values = getattr(result, quantity)[layer, 0, head].numpy()
            expected = np.sign(values) * np.sqrt(np.abs(values) / np.abs(values).max())
        np.testing.assert_allclose(np.asarray(trace.z, dtype=float), expected, rtol=1e-5, atol=1e-6)


def test_the_model_views_thumbnails_follow_the_colour_control_per_row(view, reference):
    result, _ = reference
    figure = viz.model_view(view, model=MODEL, quantity="attribution", scale="row")
    for trace in figure.data:
        layer, head = (int(v) for v in trace.name.replace("layer ", "").replace(" head ", "").split(","))
        values = result.attribution[layer, 0, head].numpy()
        top = np.abs(values).max(axis=1, keepdims=True)  # each row to its own largest |value| (a zero row stays 0)
        rows = np.divide(values, top, out=np.zeros_like(values), where=top > 0)
        np.testing.assert_allclose(np.asarray(trace.z, dtype=float), np.sign(rows) * np.sqrt(np.abs(rows)),
                                   rtol=1e-5, atol=1e-6)


def run_file(path, role, seed, best, setting=None, state="succeeded", epochs=4, cross_tuning=True):
    run = {"task": "mrpc", "phase": "search", "role": role, "seed": seed, "state": state, "metric": "f1",
           "best_metric": best, "setting": setting,
           "epochs": [{"epoch": e + 1, "dev": {"f1": best - 0.01 * (epochs - 1 - e), "loss": 0.6 - 0.05 * e},
                       "train_loss": 0.7 - 0.1 * e} for e in range(epochs)],
           "spec": {"name": f"{role} {seed}", "model": "minilm",
                    "addrop": {**(setting or {}), "enabled": setting is not None, "cross_tuning": cross_tuning}}}
    path.write_text(json.dumps(run))
    return run


def test_the_sweep_map_is_each_settings_mean_minus_the_baselines_mean(tmp_path):
    setting = lambda p, q: {"p": p, "q": q, "method": "GA", "mode": "high", "layers": [0], "cross_tuning": True}  # noqa: E731
    runs = [run_file(tmp_path / "b1.json", "baseline", 1, 0.80), run_file(tmp_path / "b2.json", "baseline", 2, 0.84),
            run_file(tmp_path / "a.json", "addrop", 1, 0.83, setting(0.3, 0.2)),
            run_file(tmp_path / "b.json", "addrop", 2, 0.87, setting(0.3, 0.2)),
            run_file(tmp_path / "c.json", "addrop", 1, 0.79, setting(0.5, 0.4), state="pruned")]
    cells = viz.SweepCells.from_runs(tmp_path)
    figure = viz.sweep_map(cells)
    heat = figure.data[0]
    assert list(heat.y) == ["0.3", "0.5"] and list(heat.x) == ["0.2", "0.4"]
    z = np.asarray(heat.z, dtype=float)
    assert z[0, 0] == pytest.approx((0.83 + 0.87) / 2 - 0.82) and z[1, 1] == pytest.approx(0.79 - 0.82)
    assert np.isnan(z[0, 1]) and np.isnan(z[1, 0])
    pruned = next(trace for trace in figure.data if trace.name == "pruned")
    assert list(zip(pruned.y, pruned.x)) == [(1.32, 1.32)]  # the corner of the cell p 0.5, q 0.4
    assert heat.colorscale[0][1] == "rgb(5,10,172)" and heat.reversescale  # reversed: losses red, gains blue
    assert heat.zmin == -heat.zmax == pytest.approx(-0.03)  # symmetric, to the largest |Δ|
    assert "baseline mean 0.8200" in figure.layout.title.text
    with pytest.raises(ValueError, match="slice"):
        viz.SweepCells.from_runs(runs + [{**runs[2], "setting": {**setting(0.3, 0.2), "method": "AA"}}])


# The sweep page's marks (frontend/static/js/sweep-page.js before they moved into the figures' definition)
PAGE_MARKS = {"pruned": ("x-thin-open", "#5a6275", 9, 0.32), "running": ("circle-open", "#2c5fbf", 16, 0),
              "queued": ("circle-open-dot", "#9aa3b5", 16, 0), "failed": ("x", "#c0392b", 16, 0)}


def test_the_sweep_map_marks_pruned_running_queued_and_failed_trials_as_the_sweep_page_does(monkeypatch):
    states = {(0.1, 0.1): "complete", (0.1, 0.3): "pruned", (0.3, 0.1): "running", (0.3, 0.3): "queued",
              (0.5, 0.1): "failed", (0.5, 0.3): "cancelled", (0.1, 0.5): "running", (0.5, 0.5): "queued"}
    means = {"complete": 0.84, "pruned": 0.78, "running": None, "queued": None, "failed": None, "cancelled": None}
    trials = [{"number": k, "params": {"p": p, "q": q, "method": "GA", "mode": "high", "layers": [0]}, "state": state,
               "value": {"mean": means[state]}, "same_as": None} for k, ((p, q), state) in enumerate(states.items())]
    api = {"name": "mrpc search", "model": "minilm", "metric": "f1", "trials": trials, "baseline": {"mean": 0.82},
           "spec": {"space": {"p": [0.1, 0.3, 0.5], "q": [0.1, 0.3, 0.5]}}}
    monkeypatch.setattr("addrop.viz.sweep.get_json", lambda base, path, token=None: api)
    cells = viz.SweepCells.from_api("http://studio", 3)
    figure = viz.sweep_map(cells)
    heat = figure.data[0]
    marks = {trace.name: trace for trace in figure.data[1:]}
    assert list(marks) == ["pruned", "running", "queued", "failed"]  # the page's order, named by state in the legend
    assert figure.layout.showlegend
    drawn = {}
    for name, trace in marks.items():
        symbol, colour, size, corner = PAGE_MARKS[name]
        assert (trace.marker.symbol, trace.marker.color, trace.marker.size) == (symbol, colour, size)
        assert trace.marker.line.color == colour and trace.marker.line.width == 2
        assert trace.xaxis == "x2" and trace.yaxis == "y2"
        for x, y in zip(trace.x, trace.y):
            # the mark's cell, and where in it: a pruned cell's towards its corner (off its value), the others' centred
            row, column = round(y - corner), round(x - corner)
            assert (x - column, y - row) == pytest.approx((corner, corner))
            drawn[float(heat.y[row]), float(heat.x[column])] = name
    assert drawn == {key: state for key, state in states.items() if state in PAGE_MARKS}
    assert (0.1, 0.1) not in drawn and (0.5, 0.3) not in drawn  # finished and cancelled cells are unmarked
    # the overlay's cells line up with the heatmap's categories
    assert tuple(figure.layout.xaxis2.range) == (-0.5, 2.5) and tuple(figure.layout.yaxis2.range) == (-0.5, 2.5)
    z = np.asarray(heat.z, dtype=float)
    assert z[0, 0] == pytest.approx(0.02) and z[0, 1] == pytest.approx(-0.04) and np.isnan(z[1:, :]).all()


def test_the_committed_searchs_map_shows_its_run_files_numbers():
    folder = __import__("pathlib").Path(__file__).resolve().parents[1] / "results" / "runs" / "mrpc" / "search"
    runs = [json.loads(path.read_text()) for path in folder.glob("*.json")]
    baseline = next(run["best_metric"] for run in runs if run["role"] == "baseline")
    heat = viz.sweep_map(viz.SweepCells.from_runs(folder)).data[0]
    for run in runs:
        if run["role"] == "addrop":
            row, column = list(heat.y).index(f"{run['setting']['p']:g}"), list(heat.x).index(f"{run['setting']['q']:g}")
            assert heat.z[row][column] == pytest.approx(run["best_metric"] - baseline)


@pytest.mark.parametrize(("cross_tuning", "shaded"), [(True, [1, 3]), (False, [0, 1, 2, 3])])
def test_a_jobs_curves_are_its_epochs_metrics_with_its_addrop_epochs_shaded(tmp_path, cross_tuning, shaded):
    setting = {"p": 0.3, "q": 0.2, "method": "GA", "mode": "high", "layers": [0]}
    run = run_file(tmp_path / "run.json", "addrop", 1, 0.85, setting, cross_tuning=cross_tuning)
    figure = viz.job_curves(viz.JobCurves.from_run(tmp_path / "run.json"))
    by_name = {trace.name: trace for trace in figure.data}
    assert list(by_name["dev f1"].y) == [e["dev"]["f1"] for e in run["epochs"]]
    assert list(by_name["dev loss"].y) == [e["dev"]["loss"] for e in run["epochs"]]
    assert list(by_name["training loss (epoch mean)"].y) == [e["train_loss"] for e in run["epochs"]]
    assert list(by_name["best"].y) == [0.85] and list(by_name["best"].x) == [4.0]
    bands = sorted({(shape.x0, shape.x1) for shape in figure.layout.shapes if shape.type == "rect"})
    assert bands == [(e, e + 1) for e in shaded]


def test_a_baseline_has_no_addrop_band_and_says_what_it_is(tmp_path):
    run_file(tmp_path / "run.json", "baseline", 1, 0.8)
    figure = viz.job_curves(viz.JobCurves.from_run(tmp_path / "run.json"))
    assert not [shape for shape in figure.layout.shapes if shape.type == "rect"]
    assert "baseline (no AD-DROP)" in figure.layout.title.text
    assert math.isclose(figure.data[2].y[-1], 0.8)


def test_tokens_and_titles_are_shown_literally_not_read_as_plotly_markup(tiny):
    # Plotly reads a subset of HTML in labels and titles: a token "<" or a model named "a<i>b" must show as typed
    model, tokenizer = tiny
    markup = explain(model, tokenizer, 'he said "<b>hi</b>" & left', method="GA", p=P, q=Q, seed=SEED)
    assert {'"', "<", ">", "&"} <= set(markup.tokens)
    figure = viz.maps_figure(markup, 0, 0, model="a<i>b")
    shown = {text for axis in (figure.layout.xaxis, figure.layout.yaxis) for text in axis.ticktext}
    assert {"&#34;", "&lt;", "&gt;", "&amp;"} <= shown and not {'"', "<", ">", "&"} & shown
    assert "a&lt;i&gt;b" in figure.layout.title.text and "<i>" not in figure.layout.title.text
    salience = viz.salience_figure(markup, 0, 0, model="a<i>b")
    cells = {cell for row in salience.data[0].text for cell in row}
    assert "&lt;" in cells and "<" not in cells


def test_the_mean_over_heads_averages_the_maps_and_shows_the_share_of_heads_dropping(view):
    figure = viz.maps_figure(view, 1, "mean", model=MODEL)
    attention, attribution, mask = figure.data[:3]
    assert np.allclose(np.array(attention.z), view.attention[1].mean(0).numpy(), atol=1e-6)
    assert np.allclose(np.array(attribution.z), view.attribution[1].mean(0).numpy(), atol=1e-6)
    share = view.dropped[1].float().mean(0).numpy()  # of the heads, how many drop each cell
    assert np.allclose(np.array(mask.z), share) and mask.zmax == pytest.approx(share.max())
    # no one region or set of drops exists over the mean: nothing outlined or marked, and the title says why
    assert not figure.layout.shapes or all(s.name != "candidate region" for s in figure.layout.shapes)
    assert not [trace for trace in figure.data if trace.name == "dropped"]
    assert "mean over heads" in figure.layout.title.text
    assert [a.text for a in figure.layout.annotations][:1] == ["Attention · layer 1, mean over heads"]
    text = viz.salience_figure(view, 0, "mean", query=2, model=MODEL)  # layer 1's rows but [CLS]'s are all 0
    cells = placed(text.data[0])
    mean = view.attribution[0, :, 2].mean(0).numpy()
    assert np.abs(mean).max() > 0 and np.allclose([cells[j][2] for j in range(len(view.tokens))], mean, atol=1e-9)
    assert [s.name for s in text.layout.shapes if s.name != "word break"] == ["query"]
    with pytest.raises(ValueError, match="or 'mean'"):
        viz.maps_figure(view, 1, "max", model=MODEL)
