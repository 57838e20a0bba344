"""A hand-edited explorer link in a real browser: values out of bounds, an unknown method, a layer or head the
model lacks. The page stays usable (maps, layer and head selectors) and says what it changed."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.browser import ARTIFACTS, chromium_page, explained, explorer_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with explorer_server(tmp_path_factory) as url:
        yield url


def notices(page) -> list[str]:
    return page.eval_on_selector_all("#changes .notice", "els => els.map(e => e.textContent)")


def test_a_link_to_a_layer_and_head_the_model_lacks_shows_layer_0_and_says_so(server):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        page.goto(f"{server}/?{urlencode({'text': 'The cat sat on the mat.', 'layer': 9, 'head': 40})}")
        explained(page)
        said = " ".join(notices(page))
        # MiniLM-L6-H384 has 6 layers of 12 heads
        assert "layer 9 does not exist" in said and "layer 0 is shown" in said
        assert "head 40 does not exist, head 0 is shown" in said
        assert page.locator("#layer-figure .xtick").count() > 0  # the maps are drawn
        assert page.eval_on_selector("#layer", "s => [s.value, s.options.length, s.offsetParent !== null]") == ["0", 6, True]
        assert page.input_value("#head") == "0"
        page.wait_for_function("!location.search.includes('layer=9') && !location.search.includes('head=40')")
        page.screenshot(path=ARTIFACTS / "explorer-missing-layer.png", full_page=True)


def test_values_out_of_bounds_in_a_link_are_named_with_what_is_used(server):
    with chromium_page() as page:
        page.goto(f"{server}/?{urlencode({'text': 'A fine day.', 'p': 1.5, 'q': 0, 'seed': -4, 'method': 'xx'})}")
        explained(page)
        said = notices(page)
        assert any('p "1.5" is not 0.05 to 0.95: 0.95 is shown' in n for n in said)
        assert any('q "0" is not 0.05 to 0.95: 0.05 is shown' in n for n in said)
        assert any('seed "-4"' in n and "0 is shown" in n for n in said)
        assert any('method "xx"' in n and "GA is shown" in n for n in said)
        assert page.input_value("#p") == "0.95"
        # a typed IGA step count past its bound is changed where it is typed, with a word
        page.click("#method button[data-value='IGA']")
        page.fill("#steps", "500")
        page.dispatch_event("#steps", "change")
        page.wait_for_function("[...document.querySelectorAll('#changes .notice')].some(n => n.textContent.includes('IGA steps'))")
        assert page.input_value("#steps") == "100"
        assert any('IGA steps "500" is not a whole number from 1 to 100: 100 is used instead.' in n for n in notices(page))
