"""A translation model in the explorer, in Debian's Chromium: a tiny Marian fine-tuned in the test (a checkpoint
saved by ``save_pretrained``, as a translation job's) opens like a classifier's; the page shows its translation,
the three kinds of map with source and target tokens on their axes, and which source words a target word leans
on. A classifier beside it keeps its own controls."""

from __future__ import annotations

import json

import numpy as np
import pypdfium2
import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from addrop.explain_seq2seq import attribute_translation
from addrop.figure_style import figure_style
from tests.browser import ARTIFACTS, chromium_page, explained, running_server
from tests.tiny_translation import save_finetuned_marian

pytestmark = pytest.mark.browser

NAME = "tiny-en-ro"  # the configured checkpoint's name ("name=directory"), all a client sees of it
SOURCE = "the cat sees the red house"
REFERENCE = "le pisica vede le casa rosu"
TICKS = "(figure, axis) => [...figure.querySelectorAll(`.${axis}tick text`)].map((e) => e.textContent)"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_finetuned_marian(tmp_path_factory.mktemp("translation"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, checkpoint):
    data = tmp_path_factory.mktemp("studio")
    env = {"ADDROP_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "ADDROP_EMBEDDED_WORKER": "false",
           "ADDROP_MODELS": json.dumps(["minilm", f"{NAME}={checkpoint}"])}
    with running_server(env) as url:
        yield url


def ticks(page, axis: str) -> list[str]:
    return page.eval_on_selector("#layer-figure", TICKS, axis)


def choose_kind(page, kind: str) -> None:
    page.evaluate("() => { document.querySelector('#status').textContent = ''; }")
    page.click(f"#kind button[data-value='{kind}']")
    explained(page, f"document.querySelector('#layer-figure .gtitle, #layer-figure .annotation-text')")


# The pixel centre of cell (query, key) of the layer view's first map, in the figure's own coordinates.
CELL = """([i, j]) => { const f = document.querySelector('#layer-figure')._fullLayout;
  return [f.xaxis._offset + f.xaxis.l2p(j), f.yaxis._offset + f.yaxis.l2p(i)]; }"""


def not_attended(checkpoint, target_tokens: list[str]) -> np.ndarray:
    """Where the eager model's own decoder self-attention (layer 0, head 0) gives weight exactly 0 as its decoder
    reads ``target_tokens``: the independent definition of the keys a row cannot attend."""
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    own = AutoModelForSeq2SeqLM.from_pretrained(checkpoint, attn_implementation="eager").eval()
    with torch.no_grad():
        out = own(**tokenizer(SOURCE, return_tensors="pt"), output_attentions=True,
                  decoder_input_ids=torch.tensor([tokenizer.convert_tokens_to_ids(target_tokens)]))
    return out.decoder_attentions[0][0, 0].numpy() == 0


# Each map image's box (a map's image and its marks' image alike) on an SVG laid out at the page's origin: [x, y, width, height] in the SVG's pixels, which the
# PDF export makes its points.
MAP_BOXES = """() => [...document.querySelectorAll('svg .hm image')].map((image) => {
  const box = image.getBoundingClientRect(); return [box.x, box.y, box.width, box.height]; })"""


def paper_pdf_hatches_the_unattended(page, blank: np.ndarray) -> None:
    """The paper figure's PDF (svg2pdf.js drawing Plotly's fill pattern) hatches, on each of its four maps, the cells
    of ``blank`` (the keys a row cannot attend) and no other: rendered by PDFium, each such cell's inside shows the
    hatch's colour, and no other cell's does."""
    with page.expect_download() as download:
        page.click("[data-export=paper]")
    svg = download.value.path().read_text()
    assert download.value.suggested_filename.startswith(f"addrop_paper_{NAME}_")
    with page.expect_download() as download:
        page.click("[data-export=paper-pdf]")
    body = download.value.path().read_bytes()
    assert f">{NAME} · “" in svg and "/tmp" not in svg and b"/tmp" not in body  # titled by name, no path
    (ARTIFACTS / "explorer-translation-decoder-paper.pdf").write_bytes(body)
    context = page.context.browser.new_context()
    try:
        viewer = context.new_page()
        viewer.set_content(f'<html><body style="margin:0">{svg}</body></html>')
        maps = sorted({tuple(box) for box in viewer.evaluate(MAP_BOXES)})  # a map's layers share its box
    finally:
        context.close()
    assert len(maps) == 4, maps
    scale = 4  # PDF points to pixels
    pixels = np.asarray(pypdfium2.PdfDocument(body)[0].render(scale=scale).to_pil().convert("RGB"), dtype=int)
    hatch = np.array([int(figure_style()["not_attended"]["hatch"][k:k + 2], 16) for k in (1, 3, 5)])
    n = len(blank)
    for x, y, width, height in maps:
        share = np.zeros(blank.shape)
        for i in range(n):
            for j in range(n):
                # the cell's inside: away from the gaps between cells and the staircase along the diagonal
                left, top = scale * (x + (j + 0.2) * width / n), scale * (y + (i + 0.2) * height / n)
                cell = pixels[round(top):round(top + scale * 0.6 * height / n),
                              round(left):round(left + scale * 0.6 * width / n)]
                share[i, j] = (np.abs(cell - hatch).max(axis=-1) <= 24).mean()
        assert share[blank].min() > 0.05 and share[~blank].max() < 0.01, np.round(share, 2)


def test_a_fine_tuned_translation_checkpoint_explains_each_kind(server, checkpoint):
    model = AutoModelForSeq2SeqLM.from_pretrained(checkpoint, attn_implementation="sdpa").eval()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    expected = attribute_translation(model, tokenizer, SOURCE, kind="cross", layers=(0,))
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        page.goto(server)
        page.select_option("#model", NAME)
        # a translation model reads a source and an optional reference, not a sentence pair
        assert page.locator("#reference-field").is_visible() and not page.locator("#pair-field").is_visible()
        assert page.locator("#kind-field").is_hidden()  # with the maps, once there are some
        assert page.locator("#text-label").inner_text() == "Source sentence"
        page.fill("#text", SOURCE)
        page.click("#explain-button")
        explained(page)
        assert page.locator("#translation-text").inner_text() == expected.translation
        assert page.locator("#reference-text").is_hidden() and page.locator("#prediction-cell").is_hidden()
        assert page.locator("#view button[data-value='compare']").is_hidden() and page.locator("#kind-field").is_visible()
        # the encoder's self-attention first: source x source
        assert ticks(page, "x") == ticks(page, "y") == expected.source_tokens

        choose_kind(page, "cross")
        assert ticks(page, "x") == expected.source_tokens and ticks(page, "y") == expected.target_tokens
        assert "Cross-attention · layer 0" in page.locator("#layer-figure").inner_text()
        marks = page.eval_on_selector("#layer-figure + canvas.map-overlay", "c => Number(c.dataset.candidates)")
        assert marks > 0
        # the text view: a target word picks the row, and the source words are shaded by it
        page.click(".tv-body [data-query='2']")
        title = page.locator("#text-view .tv-title").inner_text()
        assert title.startswith(f"Source words that target token “{expected.target_tokens[2]}” (2), which predicts")
        assert page.locator(".tv-body .tv-tok:not([data-query])").count() == len(expected.source_tokens)
        assert page.locator(".tv-body [data-query].query").count() == 1
        page.screenshot(path=ARTIFACTS / "explorer-translation-cross.png", full_page=True)

        choose_kind(page, "decoder")
        assert ticks(page, "x") == ticks(page, "y") == expected.target_tokens
        # causal: the keys a row cannot attend are blank under a hatch on all three maps, outside the colour ranges,
        # and the hover and the text view say so
        decoder = attribute_translation(model, tokenizer, SOURCE, kind="decoder", layers=(0,))
        blank = not_attended(checkpoint, decoder.target_tokens)
        gradient = decoder.attribution[0, 0].numpy()
        assert blank.any() and np.abs(gradient[blank]).max() > 0
        overlay = page.eval_on_selector("#layer-figure + canvas.map-overlay", "c => [c.dataset.hatched, c.dataset.ranges]")
        assert overlay[0] == "3"
        top = np.abs(gradient[~blank]).max()
        assert json.loads(overlay[1])[1] == pytest.approx([-top, top], rel=1e-5)
        assert page.locator("#legend-unattended").is_visible()
        hover = figure_style()["not_attended"]["hover"]
        later = int(np.flatnonzero(blank[0])[-1])
        x, y = page.evaluate(CELL, [0, later])
        box = page.locator("#layer-figure").bounding_box()
        page.mouse.move(box["x"] + x, box["y"] + y)
        assert page.locator(".map-hover").inner_text().splitlines()[-1] == hover
        query = int(page.eval_on_selector("#text-view", "v => v.dataset.query"))
        unattended = page.locator(".tv-body .tv-tok.unattended")
        assert unattended.count() == int(blank[query].sum())
        assert all(d.endswith(hover) for d in unattended.evaluate_all("els => els.map((e) => e.dataset.describe)"))
        page.screenshot(path=ARTIFACTS / "explorer-translation-decoder.png", full_page=True)
        paper_pdf_hatches_the_unattended(page, blank)

        # a reference: the decoder reads it, and the loss against it is attributed
        page.fill("#reference", REFERENCE)
        page.evaluate("() => { document.querySelector('#status').textContent = ''; }")
        page.click("#explain-button")
        explained(page)
        reference = attribute_translation(model, tokenizer, SOURCE, REFERENCE, kind="decoder", layers=(0,))
        assert ticks(page, "y") == reference.target_tokens
        assert page.locator("#reference-text").inner_text() == REFERENCE
        assert page.locator("#target").inner_text() == "negative loss against the reference"

        # the model view: every layer and head, each thumbnail as many rows as the map
        page.click("#view button[data-value='model']")
        page.wait_for_function("document.querySelectorAll('#grid canvas').length === 8", timeout=60_000)
        size = page.eval_on_selector("#grid canvas", "c => [c.width, c.height]")
        assert size == [len(reference.target_tokens)] * 2

        # a classifier beside it keeps its sentence pair, compare and walk-through, and no kinds
        page.click("#view button[data-value='layer']")
        page.select_option("#model", "minilm")
        assert page.locator("#pair-field").is_visible() and page.locator("#reference-field").is_hidden()
        assert page.locator("#kind-field").is_hidden()
        assert page.locator("#view button[data-value='compare']").is_visible()
