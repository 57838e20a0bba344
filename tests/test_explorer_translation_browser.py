"""A translation model in the explorer, in Debian's Chromium: a tiny Marian fine-tuned in the test (a checkpoint
saved by ``save_pretrained``, as a translation job's) opens like a classifier's; the page shows its translation,
the three kinds of map with source and target tokens on their axes, and which source words a target word leans
on. A classifier beside it keeps its own controls."""

from __future__ import annotations

import json

import pytest
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from addrop.explain_seq2seq import attribute_translation
from tests.browser import ARTIFACTS, chromium_page, explained, running_server
from tests.tiny_translation import save_finetuned_marian

pytestmark = pytest.mark.browser

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
           "ADDROP_MODELS": json.dumps(["minilm", str(checkpoint)])}
    with running_server(env) as url:
        yield url


def ticks(page, axis: str) -> list[str]:
    return page.eval_on_selector("#layer-figure", TICKS, axis)


def choose_kind(page, kind: str) -> None:
    page.evaluate("() => { document.querySelector('#status').textContent = ''; }")
    page.click(f"#kind button[data-value='{kind}']")
    explained(page, f"document.querySelector('#layer-figure .gtitle, #layer-figure .annotation-text')")


def test_a_fine_tuned_translation_checkpoint_explains_each_kind(server, checkpoint):
    model = AutoModelForSeq2SeqLM.from_pretrained(checkpoint, attn_implementation="sdpa").eval()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    expected = attribute_translation(model, tokenizer, SOURCE, kind="cross", layers=(0,))
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        page.goto(server)
        page.select_option("#model", str(checkpoint))
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
        page.screenshot(path=ARTIFACTS / "explorer-translation-decoder.png", full_page=True)

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
