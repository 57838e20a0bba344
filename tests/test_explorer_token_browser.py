"""A token classifier (a CoNLL-2003 checkpoint) in the explorer, in Debian's Chromium: the page shows each
token's predicted tag, the same tags the library predicts."""

from __future__ import annotations

import json

import pytest

from addrop.explain import explain
from addrop.models import load_classifier, load_tokenizer
from tests.browser import ARTIFACTS, chromium_page, explained, running_server
from tests.test_token_explain import SENTENCE, save_token_model

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def token_dir(tmp_path_factory):
    return save_token_model(tmp_path_factory.mktemp("tiny-ner"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, token_dir):
    data = tmp_path_factory.mktemp("studio")
    env = {"ADDROP_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "ADDROP_EMBEDDED_WORKER": "false",
           "ADDROP_MODELS": json.dumps(["minilm", str(token_dir)])}
    with running_server(env) as url:
        yield url


def test_a_token_classifier_shows_a_tag_under_each_token(server, token_dir):
    expected = explain(load_classifier(str(token_dir)), load_tokenizer(str(token_dir)), SENTENCE, layers=(0,))
    tags = [None if c is None else expected.label_names[c] for c in expected.token_predictions]
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        page.goto(server)
        page.select_option("#model", token_dir.name)  # a configured directory is listed by its name
        page.fill("#text", SENTENCE)
        page.click("#explain-button")
        explained(page)

        chips = page.locator("#token-strip .tok")
        assert chips.count() == len(expected.tokens)
        shown = [chips.nth(i).locator(".tag").all_inner_texts() for i in range(chips.count())]
        assert shown == [[] if tag is None else [tag] for tag in tags]
        assert page.locator("#token-strip .tok .tag.tag-o").count() == tags.count("O")
        prediction = page.locator("#prediction").inner_text()
        assert "tokens in an entity" in prediction or prediction.startswith("no entity")
        assert not page.locator("#probabilities").is_visible()
        assert "predicted tags" in page.locator("#target").inner_text()
        ticks = page.eval_on_selector_all("#layer-figure .xtick text", "els => els.map(e => e.textContent)")
        assert ticks == expected.tokens
        page.screenshot(path=ARTIFACTS / "explorer-token-tags.png", full_page=True)

        # back to a sequence classifier: one prediction with its probabilities, and no tags
        page.select_option("#model", "minilm")
        explained(page, also="!document.querySelector('#token-strip .tag')")
        assert page.locator("#probabilities").is_visible()
        assert page.locator("#prediction").inner_text() in ("LABEL_0", "LABEL_1")
