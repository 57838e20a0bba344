"""The explorer in a real browser: Debian's Chromium, driven by Playwright, against a real server."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest

from tests.browser import ARTIFACTS, COMPUTED, chromium_page, explained, explorer_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with explorer_server(tmp_path_factory) as url:
        yield url


def status(page) -> str:
    return page.locator("#status").inner_text()


def overlay(page, figure: str = "#layer-figure") -> dict[str, int]:
    """What the canvas over the figure paints: candidate cells and dropped cells of the first map."""
    return page.eval_on_selector(
        f"{figure} + canvas.map-overlay",
        "c => ({candidates: Number(c.dataset.candidates), dropped: Number(c.dataset.dropped)})",
    )


def trace_ranges(page, figure: str = "#compare-figure") -> list[float]:
    return page.eval_on_selector(figure, "f => f._fullData.filter(t => t.type === 'heatmap').map(t => t.zmax)")


COUNT_ENCODED_IMAGES = """() => {
    window.__encoded = 0;
    const encode = HTMLCanvasElement.prototype.toDataURL;
    HTMLCanvasElement.prototype.toDataURL = function (...args) { window.__encoded++; return encode.apply(this, args); };
}"""


def test_explore_a_sentence_pair(server, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        page.goto(server)
        page.fill("#text", "The cat sat on the mat.")
        page.fill("#text-pair", "A cat was sitting on a mat.")
        page.click("#explain-button")
        explained(page)
        ticks = page.eval_on_selector_all("#layer-figure .xtick text", "els => els.map(e => e.textContent)")
        assert ticks[:9] == ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]
        assert ticks[9:13] == ["a", "cat", "was", "sitting"] and ticks[-1] == "[SEP]"
        assert page.locator("#prediction").inner_text() in ("LABEL_0", "LABEL_1")
        assert page.locator("#token-strip .tok").count() == 18
        before = overlay(page)
        assert before["dropped"] > 0 and before["candidates"] > before["dropped"]
        page.screenshot(path=ARTIFACTS / "explorer-layer.png", full_page=True)

        # A slider move repaints the overlay canvas only: Plotly renders no heatmap (each one it renders
        # goes through canvas.toDataURL), and neither does a head change: the canvas paints the maps too.
        page.evaluate(COUNT_ENCODED_IMAGES)
        page.locator("#p").fill("0.7")
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('Masks redrawn')",
                               timeout=COMPUTED)
        assert "no new forward pass" in status(page)
        after = overlay(page)
        assert after["candidates"] > before["candidates"]
        assert after["dropped"] > before["dropped"]  # a larger region at the same q drops more
        assert page.evaluate("window.__encoded") == 0
        assert any("p=0.7" in t for t in page.eval_on_selector_all(
            "#layer-figure .annotation-text", "els => els.map(e => e.textContent)"))
        page.wait_for_function("location.search.includes('p=0.7')")
        assert "text=The+cat" in page.url
        page.screenshot(path=ARTIFACTS / "explorer-p07.png", full_page=True)

        page.select_option("#head", "mean")
        titles = page.eval_on_selector_all("#layer-figure .annotation-text", "els => els.map(e => e.textContent)")
        assert any("mean over heads" in title for title in titles)
        # The share of heads dropping is coloured up to its largest value (well under 100% at q = 0.2).
        assert 0 < page.eval_on_selector("#layer-figure + canvas", "c => JSON.parse(c.dataset.ranges)[2][1]") < 1
        assert page.evaluate("window.__encoded") == 0
        assert page.locator("#legend-drop").is_hidden()  # no marks are drawn over the mean of heads
        page.select_option("#head", "3")

        page.click("#view button[data-value=model]")
        page.wait_for_function("document.querySelectorAll('#grid canvas').length === 72", timeout=COMPUTED)
        page.fill("#layer-filter", "0-2")
        page.wait_for_function("document.querySelectorAll('#grid canvas').length === 36")
        page.click("#grid-quantity button[data-value=mask]")
        page.screenshot(path=ARTIFACTS / "explorer-model-view.png", full_page=True)
        assert page.locator("[data-export=json]").is_hidden() and page.locator("[data-export=svg]").is_visible()
        # Hover names the layer, head, both tokens and the value: the cell in row 2 ("cat"), column 4 ("on").
        box = page.locator("#grid canvas[data-layer='1'][data-head='4']").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 4.5 / 18, box["y"] + box["height"] * 2.5 / 18)
        tip = page.locator("#grid .grid-tip")
        tip.wait_for(state="visible")
        assert tip.inner_text().splitlines()[:2] == ["layer 1 · head 4", "query cat (2) → key on (4)"]
        assert tip.inner_text().splitlines()[2] in ("mask: kept", "mask: candidate", "mask: dropped")
        page.click("#grid-quantity button[data-value=attention]")
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('All 6 layers')",
                               timeout=COMPUTED)
        page.mouse.move(box["x"] + box["width"] * 4.5 / 18, box["y"] + box["height"] * 2.5 / 18 + 1)
        assert re.fullmatch(r"attention: 0\.\d+|attention: \d(\.\d+)?e-\d+", tip.inner_text().splitlines()[2])
        page.screenshot(path=ARTIFACTS / "explorer-model-hover.png", full_page=True)
        page.mouse.move(0, 0)
        assert tip.is_hidden()
        with page.expect_download() as download:
            page.click("[data-export=svg]")
        svg = download.value.path().read_text()
        assert download.value.suggested_filename.endswith(".svg") and svg.startswith("<svg")
        assert svg.count("<image ") == 36 and ">L2</text>" in svg and ">H11</text>" in svg
        page.click("#grid-quantity button[data-value=mask]")
        with page.expect_download() as download:
            page.click("[data-export=png]")
        grid_png = download.value.path().read_bytes()
        assert grid_png[:4] == b"\x89PNG" and int.from_bytes(grid_png[16:20], "big") > 12 * 96  # 12 heads wide
        page.click("#grid canvas[data-layer='2'][data-head='5']")
        explained(page)
        assert page.locator("#layer").input_value() == "2" and page.locator("#head").input_value() == "5"
        assert not page.locator("#layer-view").is_hidden()

        page.click("#view button[data-value=compare]")
        page.fill("#text-b", "The dog sat on the mat.")
        page.fill("#text-pair-b", "A cat was sitting on a mat.")
        page.click("#compare-button")
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('B explained')",
                               timeout=COMPUTED)
        assert "over the 17 tokens they share in order (of 18 in A and 18 in B)" in page.locator("#compare-note").inner_text()
        # B − A over the shared tokens: every token but the first sentence's "cat" / "dog", in A's order
        assert page.locator("#compare-aligned-figure").is_visible()
        ticks = page.evaluate("document.querySelector('#compare-aligned-figure').layout.yaxis.ticktext")
        assert len(ticks) == 17 and sum("cat" in tick for tick in ticks) == 1 and not any("dog" in t for t in ticks)
        with page.expect_download() as download:
            page.click("[data-export=json]")
        aligned = json.loads(download.value.path().read_text())["difference"]
        assert aligned["indices"] == [i for i in range(18) if i != 2] and len(aligned["attention"]) == 17
        shared = trace_ranges(page)
        assert len(shared) == 2 and shared[0] == shared[1]  # one colour scale for A and B by default
        page.check("#own-scales")
        page.wait_for_function("new Set(document.querySelector('#compare-figure')._fullData.map(t => t.zmax)).size === 2")
        own = trace_ranges(page)
        assert own[0] != own[1] and max(own) == shared[0] and "scales=own" in page.url
        page.uncheck("#own-scales")
        page.fill("#text-b", "")
        page.fill("#text-pair-b", "")
        page.click("#compare-button")
        # the note is written before Plotly redraws the figure, the status once the figure is drawn
        page.wait_for_function("document.querySelector('#compare-note').textContent === '' && "
                               "document.querySelector('#status').textContent.startsWith('B explained')",
                               timeout=COMPUTED)
        titles = page.eval_on_selector_all("#compare-figure .annotation-text", "els => els.map(e => e.textContent)")
        assert any(title.startswith("Difference B − A") for title in titles)
        assert page.locator("#compare-aligned-figure").is_hidden()
        page.screenshot(path=ARTIFACTS / "explorer-compare.png", full_page=True)
        with page.expect_download() as download:
            page.click("[data-export=json]")
        both = json.loads(download.value.path().read_text())
        assert both["a"]["tokens"] == both["b"]["tokens"] and len(both["difference"]["attribution"]) == 18
        assert both["a"]["text"] == "The cat sat on the mat."
        with page.expect_download() as download:
            page.click("[data-export=csv]")
        lines = download.value.path().read_text().splitlines()
        assert lines[0].startswith("side,query_index") and len(lines) == 1 + 3 * 18 * 18

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
        assert '"x-thin"' in html and '"type":"path"' in html  # the drop marks and the outline travel along
        assert "plotly.js (cartesian - minified)" in html and len(html.encode()) < 2_000_000
        exported_page = tmp_path / "view.html"
        exported_page.write_text(html)
        offline = page.context.browser.new_context()
        try:
            offline.set_offline(True)
            requests = []

            def no_network(route):
                requests.append(route.request.url)
                route.abort()

            offline.route("http*://**/*", no_network)
            standalone = offline.new_page()
            standalone.goto(exported_page.as_uri())
            standalone.wait_for_function("document.querySelectorAll('#figure .hm image').length === 3")
            drawn = standalone.eval_on_selector("#figure", "f => f._fullData.map(t => t.type).join(',')")
            assert drawn.startswith("heatmap,scatter") and standalone.locator("#figure .xtick").count() >= 18
            assert requests == []
            standalone.screenshot(path=ARTIFACTS / "explorer-standalone-offline.png")
        finally:
            offline.close()
        with page.expect_download() as download:
            page.click("[data-export=png]")
        assert download.value.path().read_bytes()[:4] == b"\x89PNG"

        shared = page.url
        page.goto(shared)
        explained(page)
        assert page.locator("#p").input_value() == "0.7" and page.locator("#layer").input_value() == "2"
        assert page.locator("#text-pair").input_value() == "A cat was sitting on a mat."
        # Every script, module (relative imports too, through the import map), style and icon came under its
        # content version: one URL per file, cached for good.
        fetched = page.evaluate("performance.getEntriesByType('resource').map((r) => r.name).filter((n) => n.includes('/static/'))")
        assert any("/static/js/explorer/overlay.js?v=" in url for url in fetched)
        assert all("?v=" in url for url in fetched), [url for url in fetched if "?v=" not in url]


def test_what_is_typed_while_the_model_list_loads_is_kept(server):
    """The page fills its controls from the URL before it waits for the model list: typing (and Explain)
    before the list arrives must not be undone when it does (CI's sentence-pair test lost its text so)."""
    with chromium_page() as page:
        held = []
        page.route("**/api/models", lambda route: held.append(route))  # answered only when the test says so
        page.goto(server)
        while not held:
            page.wait_for_timeout(50)
        page.fill("#text", "The cat sat on the mat.")
        held[0].continue_()
        page.wait_for_function("document.querySelector('#model').options.length > 0")
        assert page.input_value("#text") == "The cat sat on the mat."
        page.click("#explain-button")
        explained(page)
        assert page.locator("#token-strip .tok").count() == 9


def test_hostile_text_is_shown_not_run(server):
    with chromium_page() as page:
        page.goto(server)
        page.fill("#text", '<img src=x onerror="window.__pwned = 1"> & <b>bold</b>')
        page.click("#explain-button")
        explained(page)
        assert page.evaluate("window.__pwned") is None
        ticks = page.eval_on_selector_all("#layer-figure .xtick text", "els => els.map(e => e.textContent)")
        tokens = page.eval_on_selector_all("#token-strip .tok", "els => els.map(e => e.lastChild.textContent)")
        # the labels (thinned to a line of text apart) are the tokens as text, the markup's "<" and '"' among them
        # (the escape writes quotes as numeric references, which Plotly decodes: it showed "&quot;" before)
        assert "<" in tokens and '"' in tokens and "bold" in tokens
        assert ticks == tokens[::tokens.index(ticks[1])]
        assert page.locator("#layer-figure img, #layer-figure b").count() == 0
        page.fill("#text", "")
        page.click("#explain-button")
        assert "Type a sentence" in status(page)


def test_bad_input_shows_the_servers_message(server):
    with chromium_page() as page:
        # (a layer the model lacks is no longer an error: the page shows layer 0 and says so,
        # tests/test_explorer_links_browser.py)
        page.goto(f"{server}/?text=hello&model=nosuch")
        page.wait_for_function("document.querySelector('#status').classList.contains('error')", timeout=COMPUTED)
        assert "unknown model 'nosuch'; the explorer can load: minilm" in status(page)


def test_a_long_input_repaints_only_its_overlays(server):
    """128 tokens at 1280 and 1440 px: a q move leaves the maps alone, and the overlay follows a resize."""
    words = ("the film is a gorgeous witty and seductive movie with a story that never quite finds its feet but the "
             "cast makes every scene worth watching from the first minute to the last one even when plot turns slow").split()
    first = " ".join(words[i % len(words)] for i in range(61)) + "."
    second = " ".join(words[(i * 7) % len(words)] for i in range(62)) + "."
    with chromium_page(width=1280, height=1000) as page:
        page.goto(f"{server}/?" + urlencode({"text": first, "pair": second}))
        explained(page)
        assert page.locator("#token-count").inner_text() == "128"
        page.screenshot(path=ARTIFACTS / "explorer-128-1280.png", full_page=True)
        # Hover goes through the overlay canvas and names the query and the key with the values there.
        box = page.eval_on_selector("#layer-figure", """f => { const x = f._fullLayout.xaxis, y = f._fullLayout.yaxis,
            r = f.getBoundingClientRect(); return [r.left + x._offset + x._length / 2, r.top + y._offset + y._length / 2]; }""")
        page.mouse.move(*box)
        page.wait_for_selector("#layer-view .map-hover:not(.hidden)")
        hover = page.eval_on_selector("#layer-view .map-hover", "e => e.textContent")
        assert "→" in hover and "attention" in hover and "rank" in hover
        page.evaluate(COUNT_ENCODED_IMAGES)
        before = overlay(page)
        page.locator("#q").fill("0.6")
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('Masks redrawn')",
                               timeout=COMPUTED)
        after = overlay(page)
        assert after["candidates"] == before["candidates"] and after["dropped"] > before["dropped"]
        assert page.evaluate("window.__encoded") == 0
        # About 2 px a cell: no marks on the maps, and the legend says where the drops are instead.
        assert page.eval_on_selector("#layer-figure + canvas", "c => c.dataset.marked") == "no"
        assert page.locator("#layer-view .legend .unmarked").is_visible()
        width = page.eval_on_selector("#layer-figure + canvas", "c => c.getBoundingClientRect().width")
        page.set_viewport_size({"width": 1440, "height": 1000})
        page.wait_for_function(
            f"document.querySelector('#layer-figure + canvas').getBoundingClientRect().width > {width}")
        plotted = page.eval_on_selector("#layer-figure", "f => f._fullLayout.width")
        assert page.eval_on_selector("#layer-figure + canvas", "c => c.getBoundingClientRect().width") == plotted
        page.screenshot(path=ARTIFACTS / "explorer-128-1440.png", full_page=True)
        # Zoomed in on a corner of both marked maps, the cells are large enough to carry their marks again.
        page.evaluate("""Plotly.relayout('layer-figure', {'xaxis.range': [-0.5, 15.5], 'yaxis.range': [15.5, -0.5],
                                                          'xaxis2.range': [-0.5, 15.5], 'yaxis2.range': [15.5, -0.5]})""")
        page.wait_for_function("document.querySelector('#layer-figure + canvas').dataset.marked === 'yes'")
        assert page.locator("#layer-view .legend .unmarked").is_hidden()
        page.screenshot(path=ARTIFACTS / "explorer-128-zoomed.png", full_page=True)
