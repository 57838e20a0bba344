"""The explorer in a real browser: Debian's Chromium, driven by Playwright, against a real server."""

from __future__ import annotations

import json

import pytest

from tests.browser import ARTIFACTS, chromium_page, running_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("studio")
    env = {"ADDROP_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "ADDROP_EMBEDDED_WORKER": "false"}
    with running_server(env) as url:
        yield url


def status(page) -> str:
    return page.locator("#status").inner_text()


def region_path(page, figure: str = "#layer-figure") -> str:
    """The candidate-region outline (the longest path among the figure's shapes)."""
    paths = page.eval_on_selector_all(f"{figure} .shapelayer path", "els => els.map(e => e.getAttribute('d'))")
    return max(paths, key=len)


def drop_marks(page) -> int:
    return page.locator("#layer-figure .scatterlayer .point").count()


def test_explore_a_sentence_pair(server, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        page.goto(server)
        page.fill("#text", "The cat sat on the mat.")
        page.fill("#text-pair", "A cat was sitting on a mat.")
        page.click("#explain-button")
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('Explained')")
        ticks = page.eval_on_selector_all("#layer-figure .xtick text", "els => els.map(e => e.textContent)")
        assert ticks[:9] == ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]
        assert ticks[9:13] == ["a", "cat", "was", "sitting"] and ticks[-1] == "[SEP]"
        assert page.locator("#prediction").inner_text() in ("LABEL_0", "LABEL_1")
        assert page.locator("#token-strip .tok").count() == 18
        before_region, before_drops = region_path(page), drop_marks(page)
        assert before_drops > 0
        page.screenshot(path=ARTIFACTS / "explorer-layer.png", full_page=True)

        page.locator("#p").fill("0.7")
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('Masks redrawn')")
        assert "no new forward pass" in status(page)
        assert region_path(page) != before_region
        assert drop_marks(page) > before_drops  # a larger region at the same q drops more
        assert "p=0.7" in page.url and "text=The+cat" in page.url
        page.screenshot(path=ARTIFACTS / "explorer-p07.png", full_page=True)

        page.select_option("#head", "mean")
        titles = page.eval_on_selector_all("#layer-figure .annotation-text", "els => els.map(e => e.textContent)")
        assert any("mean over heads" in title for title in titles)
        page.select_option("#head", "3")

        page.click("#view button[data-value=model]")
        page.wait_for_function("document.querySelectorAll('#grid canvas').length === 72")
        page.fill("#layer-filter", "0-2")
        page.wait_for_function("document.querySelectorAll('#grid canvas').length === 36")
        page.click("#grid-quantity button[data-value=mask]")
        page.screenshot(path=ARTIFACTS / "explorer-model-view.png", full_page=True)
        assert page.locator("[data-export=json]").is_hidden()
        with page.expect_download() as download:
            page.click("[data-export=png]")
        grid_png = download.value.path().read_bytes()
        assert grid_png[:4] == b"\x89PNG" and int.from_bytes(grid_png[16:20], "big") > 12 * 96  # 12 heads wide
        page.click("#grid canvas[data-layer='2'][data-head='5']")
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('Explained')")
        assert page.locator("#layer").input_value() == "2" and page.locator("#head").input_value() == "5"
        assert not page.locator("#layer-view").is_hidden()

        page.click("#view button[data-value=compare]")
        page.fill("#text-b", "The dog sat on the mat.")
        page.fill("#text-pair-b", "A cat was sitting on a mat.")
        page.click("#compare-button")
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('B explained')")
        assert "tokenise differently" in page.locator("#compare-note").inner_text()
        page.fill("#text-b", "")
        page.fill("#text-pair-b", "")
        page.click("#compare-button")
        page.wait_for_function("document.querySelector('#compare-note').textContent === ''")
        titles = page.eval_on_selector_all("#compare-figure .annotation-text", "els => els.map(e => e.textContent)")
        assert any(title.startswith("Difference B − A") for title in titles)
        page.screenshot(path=ARTIFACTS / "explorer-compare.png", full_page=True)

        page.click("#view button[data-value=layer]")
        with page.expect_download() as download:
            page.click("[data-export=json]")
        exported = json.loads(download.value.path().read_text())
        assert exported["tokens"][2] == "cat" and exported["layer"] == 2 and exported["head"] == "5"
        assert len(exported["attribution"]) == 18 and exported["p"] == 0.7
        with page.expect_download() as download:
            page.click("[data-export=csv]")
        lines = download.value.path().read_text().splitlines()
        assert lines[0].startswith("query_index,query_token,key_index") and len(lines) == 1 + 18 * 18
        with page.expect_download() as download:
            page.click("[data-export=html]")
        html = download.value.path().read_text()
        assert "Plotly.newPlot" in html and "cdn" not in html.lower().split("<script>")[0]
        with page.expect_download() as download:
            page.click("[data-export=png]")
        assert download.value.path().read_bytes()[:4] == b"\x89PNG"

        shared = page.url
        page.goto(shared)
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('Explained')")
        assert page.locator("#p").input_value() == "0.7" and page.locator("#layer").input_value() == "2"
        assert page.locator("#text-pair").input_value() == "A cat was sitting on a mat."


def test_hostile_text_is_shown_not_run(server):
    with chromium_page() as page:
        page.goto(server)
        page.fill("#text", '<img src=x onerror="window.__pwned = 1"> & <b>bold</b>')
        page.click("#explain-button")
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('Explained')")
        assert page.evaluate("window.__pwned") is None
        ticks = page.eval_on_selector_all("#layer-figure .xtick text", "els => els.map(e => e.textContent)")
        assert "<" in ticks and "im" in ticks and "bold" in ticks
        page.fill("#text", "")
        page.click("#explain-button")
        assert "Type a sentence" in status(page)


def test_bad_input_shows_the_servers_message(server):
    with chromium_page() as page:
        page.goto(f"{server}/?text=hello&layer=9")
        page.wait_for_function("document.querySelector('#status').classList.contains('error')")
        assert "layer 9 does not exist" in status(page)
