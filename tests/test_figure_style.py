"""The pages and addrop.viz draw from one definition of the figures: the JS modules read the same file Python
reads (and the app serves), and apply its size rules as addrop.viz does."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from addrop.figure_style import FIGURE_STYLE, figure_style
from addrop.explain import Explanation
from addrop.viz import maps, scales
from addrop.viz.captions import file_name, join_words, title, words_of
from backend.main import create_app
from backend.settings import Settings
from tests.browser import ROOT

SIZES = [1, 8, 18, 32, 33, 48, 49, 64, 65, 128, 512]
CELLS = [0.5, 1.7, 2, 5, 9.3, 14, 40]
# a map with a few strong cells, as attribution maps have
MATRIX = np.random.default_rng(0).normal(size=(9, 11)) * np.where(np.arange(9)[:, None] == 2, 50.0, 1.0)
TOKENS = ["[CLS]", "a", "gorge", "##ous", ",", "witty", "film", "that", "never", "drag", "##s", "[SEP]"]
# pieces of three tokenisers, with punctuation the text view and the titles join to a word
PIECES = [
    TOKENS,
    ["[CLS]", "the", "cat", "'", "s", "well", "-", "known", "(", "old", ")", "trick", "[SEP]", "it", "works", ".", "[SEP]"],
    ["▁the", "▁cat", "'", "s", "▁sees", "▁(", "the", ")", "▁red", "▁house", ".", "</s>"],
    ["<s>", "Hello", "Ġworld", ",", "Ġhow", "Ġare", "Ġyou", "?", "</s>", "</s>", "Second", "Ġone", "</s>"],
]
# a map with a few cells of no value (NaN: keys a row cannot attend)
BLANKED = np.where(np.tril(np.ones((9, 11), bool)), MATRIX, np.nan)
FACTS = [{"model": model, "tokens": TOKENS, "special": [t.startswith("[") for t in TOKENS], "where": "layer 0, head 3",
          "short": "L0-h3", "method": method, "p": p, "q": q, "mode": mode, "seed": seed, "what": what}
         for model, method, p, q, mode, seed, what in [("minilm", "GA", 0.3, 0.2, "high", 0, "maps"),
                                                      ("org/other-model", "IGA", 0.05, 0.95, "low", 4294967295, "paper")]]

# What the page modules make of the definition, printed by Node.
SCRIPT = """
import { STYLE } from "./frontend/static/js/common/figure-style.js";
import { ATTENTION_SCALE, ATTRIBUTION_SCALE, COLORS, markSize, markWidth, methodLabel, regionWidth, tickFontSize, tickStep }
  from "./frontend/static/js/explorer/figures.js";
import { quantityTitle } from "./frontend/static/js/explorer/legends.js";
import { labelFont, labelStride } from "./frontend/static/js/explorer/figures.js";
import { colourValues, percentileAbs, rowNormalised, scaleNote } from "./frontend/static/js/explorer/scales.js";
import { fileName, figureTitle, firstWords } from "./frontend/static/js/explorer/captions.js";
import { joinWords } from "./frontend/static/js/explorer/words.js";
import { unattendedOutline } from "./frontend/static/js/explorer/matrix.js";
import { hatchPattern } from "./frontend/static/js/explorer/figures.js";
const sizes = %s;
const shared = %s;
console.log(JSON.stringify({
  style: STYLE, attention: ATTENTION_SCALE, attribution: ATTRIBUTION_SCALE, colours: COLORS,
  rules: sizes.map((n) => [tickStep(n), tickFontSize(n), regionWidth(n), markSize(n), markWidth(n)]),
  titles: ["GA", "IGA", "AA", "RD"].map((m) => [quantityTitle("attribution", m), methodLabel(m)]),
  other: ["attention", "mask", "mask-mean"].map((q) => quantityTitle(q)),
  strides: sizes.flatMap((n) => shared.cells.map((cell) => labelStride(n, cell))),
  fonts: sizes.flatMap((n) => shared.cells.map((cell) => labelFont(n, cell))),
  level: sizes.flatMap((n) => shared.cells.map((cell) => [labelFont(n, cell, false), labelStride(n, cell, false)])),
  percentile: percentileAbs(shared.matrix, 99), clipped: colourValues([shared.matrix], "percentile").top,
  rows: rowNormalised(shared.matrix), notes: ["max", "percentile", "row"].map(scaleNote),
  captions: shared.facts.map((f) => [figureTitle(f), fileName(f)]),
  words: shared.pieces.map((tokens) => {
    const special = tokens.map((t) => /^(\[.*\]|<.*>)$/.test(t));
    return [joinWords(tokens, special).map((w) => [w.tokens, w.texts, w.special, w.gap]), firstWords(tokens, special, 6)];
  }),
  outlines: [0, 1, 2, 5].map(unattendedOutline), hatch: hatchPattern(),
  blanked: ["max", "percentile", "row"].map((mode) => {
    const { z, top } = colourValues([shared.blanked.map((row) => row.map((v) => (v === null ? NaN : v)))], mode);
    return [z[0].map((row) => row.map((v) => (Number.isNaN(v) ? null : v))), top];
  }),
}));
"""


@pytest.fixture(scope="module")
def page_side() -> dict:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    blanked = [[None if math.isnan(v) else v for v in row] for row in BLANKED.tolist()]
    script = SCRIPT % (json.dumps(SIZES), json.dumps({"cells": CELLS, "matrix": MATRIX.tolist(), "facts": FACTS,
                                                      "pieces": PIECES, "blanked": blanked}))
    out = subprocess.run(["node", "--input-type=module", "-e", script], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_the_page_modules_read_the_file_addrop_reads(page_side):
    assert page_side["style"] == figure_style() == json.loads(FIGURE_STYLE.read_text(encoding="utf-8"))
    assert page_side["attention"] == figure_style()["scales"]["attention"]
    assert page_side["attribution"] == figure_style()["scales"]["attribution"]
    assert page_side["colours"] == figure_style()["colours"]


def test_the_pages_and_addrop_viz_apply_the_same_size_rules_and_titles(page_side):
    ours = [[maps.tick_step(n), maps.tick_font_size(n), maps.region_width(n), maps.mark_size(n), maps.mark_width(n)]
            for n in SIZES]
    assert [pytest.approx(row) for row in ours] == page_side["rules"]
    assert page_side["titles"] == [[maps.quantity_title("attribution", m), figure_style()["titles"]["method"][m]]
                                   for m in ("GA", "IGA", "AA", "RD")]
    assert page_side["other"] == [maps.quantity_title(q) for q in ("attention", "mask", "mask-mean")]


def test_the_app_serves_that_file_to_its_pages(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        served = client.get("/static/figure-style.json")
        assert served.status_code == 200 and served.headers["content-type"].startswith("application/json")
        assert served.content == FIGURE_STYLE.read_bytes()
        # nothing else of the library is reachable through the static mount
        assert client.get("/static/figure_style.py").status_code == 404
        assert client.get("/static/../addrop/figure_style.py").status_code == 404


def test_the_pages_and_addrop_viz_thin_labels_and_span_colours_alike(page_side):
    assert page_side["strides"] == [maps.label_step(n, cell) for n in SIZES for cell in CELLS]
    assert page_side["fonts"] == [maps.label_font(n, cell) for n in SIZES for cell in CELLS]
    assert page_side["level"] == [[maps.label_font(n, cell, False), maps.label_step(n, cell, False)]
                                  for n in SIZES for cell in CELLS]
    assert page_side["percentile"] == pytest.approx(scales.percentile_abs(MATRIX, 99))
    assert page_side["clipped"] == pytest.approx(scales.colour_values([MATRIX], "percentile")[1])
    assert np.allclose(page_side["rows"], scales.row_normalised(MATRIX))
    assert page_side["notes"] == [scales.scale_note(mode) for mode in ("max", "percentile", "row")]


def test_the_pages_and_addrop_viz_name_a_figure_alike(page_side):
    for facts, (page_title, page_name) in zip(FACTS, page_side["captions"]):
        n = len(TOKENS)
        view = Explanation(tokens=TOKENS, special=facts["special"], segments=[0] * n, truncated=False, label_names=[],
                           probabilities=[], prediction=None, pseudo_label=None, target="logit", method=facts["method"],
                           steps=20, layers=(0,), attention=torch.zeros(1, 1, n, n), attribution=torch.zeros(1, 1, n, n),
                           p=facts["p"], q=facts["q"], mode=facts["mode"], seed=facts["seed"])
        assert page_title == title(view, facts["model"], facts["where"])
        assert page_name == file_name(view, facts["model"], facts["what"], facts["short"])


def test_the_pages_and_addrop_viz_join_pieces_into_the_same_words(page_side):
    """One rule for words: the text view's and the titles', on the page and in the notebook alike."""
    for tokens, (words, first) in zip(PIECES, page_side["words"]):
        special = [bool(re.fullmatch(r"\[.*\]|<.*>", t)) for t in tokens]
        assert words == [[w.tokens, w.texts, w.special, w.gap] for w in join_words(tokens, special)]
        assert first == words_of(tokens, special, 6)
    assert [first for _, first in page_side["words"]] == [
        "a gorgeous, witty film that never…", "the cat's well-known (old) trick it…", "the cat's sees (the) red house.",
        "Hello world, how are you? Second…",
    ]


def test_the_pages_and_addrop_viz_leave_the_same_cells_blank_under_the_same_hatch(page_side):
    assert page_side["outlines"] == [[list(c) for c in maps.unattended_outline(n)] for n in (0, 1, 2, 5)]
    assert page_side["hatch"] == maps.hatch_pattern()
    for mode, (z, top) in zip(("max", "percentile", "row"), page_side["blanked"]):
        (ours,), our_top = scales.colour_values([BLANKED], mode)
        assert top == pytest.approx(our_top)
        assert np.array_equal(np.isnan(ours), np.array([[v is None for v in row] for row in z]))
        np.testing.assert_allclose(np.asarray(z, dtype=float), ours)
    # the range leaves the blank cells out: the largest |value| on and below the diagonal
    assert scales.colour_values([BLANKED], "max")[1] == pytest.approx(np.abs(MATRIX[np.tril(np.ones((9, 11), bool))]).max())
