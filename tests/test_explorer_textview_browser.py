"""The explorer's text view and its walk-through in Debian's Chromium, checked against the API's own maps."""

from __future__ import annotations

import json
import math
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest

from backend.encoding import decode_array
from tests.browser import ARTIFACTS, COMPUTED, chromium_page, explained, explorer_server

pytestmark = pytest.mark.browser

HEAD = 3


@pytest.fixture(scope="module")
def pair(shared_data) -> dict[str, str]:
    """An RTE pair of 113 MiniLM tokens with wordpieces in both sentences ("wa ##bc", "k ##tl ##k")."""
    rte = shared_data / "glue" / "rte" / "validation.jsonl"
    rows = [json.loads(line) for line in rte.read_text().splitlines()]
    row = next(r for r in rows if r["idx"] == 45)
    return {"text": row["sentence1"], "pair": row["sentence2"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with explorer_server(tmp_path_factory) as url:
        yield url


def api_maps(server: str, pair: dict[str, str], **settings) -> tuple[dict, dict[str, np.ndarray]]:
    """What the page's own request gets: layer 0, every head, the given p, q, mode and seed."""
    body = {"text": pair["text"], "text_pair": pair["pair"], "layers": [0], **settings}
    payload = httpx.post(f"{server}/api/explain", json=body, timeout=300).raise_for_status().json()
    maps = {key: decode_array(payload[key])[0] for key in ("attribution", "candidate", "dropped")}
    return payload, maps


def open_explained(page, server: str, pair: dict[str, str], **extra) -> None:
    page.goto(f"{server}/?{urlencode({'text': pair['text'], 'pair': pair['pair'], 'head': str(HEAD), **extra})}")
    explained(page, timeout=300_000)


READ_TOKENS = """view => [...view.querySelectorAll('.tv-body .tv-tok')].map(t => ({
    index: Number(t.dataset.index), value: Number(t.dataset.value), rank: Number(t.dataset.rank),
    background: getComputedStyle(t).backgroundColor, text: t.textContent,
    candidate: t.classList.contains('candidate'), dropped: t.classList.contains('dropped'),
    query: t.classList.contains('query')}))"""


def text_view(page) -> list[dict]:
    tokens = page.eval_on_selector("#text-view", READ_TOKENS)
    return sorted(tokens, key=lambda t: t["index"])


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(part) for part in css[css.index("(") + 1 : css.index(")")].split(","))


def assert_shaded_like(tokens: list[dict], row: np.ndarray) -> None:
    """Each token carries its key's value in the row, and its shade grows with the value's size on
    the side of its sign: red above zero, blue below, near white at zero."""
    assert len(tokens) == len(row)
    for token, value in zip(tokens, row):
        assert token["value"] == pytest.approx(float(value), rel=1e-6, abs=1e-12)
    top = float(np.abs(row).max())
    white = np.array([0xF7, 0xF7, 0xF7])
    distance = [float(np.linalg.norm(np.array(rgb(t["background"])) - white)) for t in tokens]
    for sign in (1, -1):
        side = sorted((sign * float(v), d) for v, d in zip(row, distance) if sign * v > 0)
        assert all(b[1] >= a[1] - 2 for a, b in zip(side, side[1:])), "shade does not grow with the value"
    for token, value in zip(tokens, row):
        r, _, b = rgb(token["background"])
        if value > 0.1 * top:
            assert r > b, token
        elif value < -0.1 * top:
            assert b > r, token
    extreme = int(np.abs(row).argmax())
    assert distance[extreme] == max(distance)


def marked(tokens: list[dict], kind: str) -> set[int]:
    return {t["index"] for t in tokens if t[kind]}


def query_shown(page) -> int:
    return int(page.get_attribute("#text-view", "data-query"))


def test_text_view_follows_the_api(server, pair):
    payload, maps = api_maps(server, pair)
    n = len(payload["tokens"])
    assert 100 < n <= 128
    with chromium_page(1280, 900) as page:
        open_explained(page, server, pair)
        tokens = text_view(page)
        title = page.locator("#text-view .tv-title").inner_text()
        assert title.startswith("Attribution to query “[CLS]” (0) · layer 0, head 3")
        assert marked(tokens, "query") == {0}
        assert_shaded_like(tokens, maps["attribution"][HEAD, 0])
        assert tokens[int(maps["attribution"][HEAD, 0].argmax())]["rank"] == 1
        assert marked(tokens, "dropped") == set(np.flatnonzero(maps["dropped"][HEAD, 0]))
        assert marked(tokens, "candidate") == set(np.flatnonzero(maps["candidate"][HEAD, 0]))
        assert marked(tokens, "dropped") and marked(tokens, "dropped") < marked(tokens, "candidate")

        # Running text: "wa ##bc" reads as one word, and the pair's second sentence is its own paragraph.
        words = page.eval_on_selector_all("#text-view .tv-word", "ws => ws.map(w => w.textContent)")
        assert "wabc" in words and "ktlk" in words and "##bc" not in " ".join(words)
        assert page.locator("#text-view .tv-paragraph").count() == 2
        assert page.locator("#text-view .tv-separator").inner_text() == "sentence 2"

        # Hover tells the value, the rank and the mask state.
        dropped = min(marked(tokens, "dropped"))
        page.hover(f"#text-view .tv-tok[data-index='{dropped}']")
        tip = page.locator("#text-view .tv-tip").inner_text()
        assert f"({dropped})" in tip and f"rank {tokens[dropped]['rank']} of {n}" in tip and "dropped" in tip

        # A click on a word makes it the query.
        page.click("#text-view .tv-tok[data-index='10']")
        assert query_shown(page) == 10
        assert "“appearing” (10)" in page.locator("#text-view .tv-title").inner_text()
        tokens = text_view(page)
        assert marked(tokens, "query") == {10}
        assert_shaded_like(tokens, maps["attribution"][HEAD, 10])
        assert marked(tokens, "dropped") == set(np.flatnonzero(maps["dropped"][HEAD, 10]))
        page.wait_for_function("location.search.includes('query=10')")
        # The maps outline the same row: one outline per map, around row 10.
        rows = page.evaluate("""() => [...document.querySelectorAll('.figure-stack > .query-row')].map(m => {
            const ya = document.querySelector('#layer-figure')._fullLayout.yaxis;
            return {query: m.dataset.query, middle: m.offsetTop + m.offsetHeight / 2 - ya._offset - ya.l2p(10)};
        })""")
        assert len(rows) == 3 and all(r["query"] == "10" and abs(r["middle"]) < 1.5 for r in rows)

        # A click on a row of a map too: row 20 of the attribution map.
        box = page.eval_on_selector("#layer-figure", """f => {
            const xa = f._fullLayout.xaxis2, ya = f._fullLayout.yaxis2, r = f.getBoundingClientRect();
            return {x: r.left + xa._offset + xa.l2p(5), y: r.top + ya._offset + ya.l2p(20)};
        }""")
        page.mouse.click(box["x"], box["y"])
        page.wait_for_function("document.querySelector('#text-view').dataset.query === '20'")
        assert_shaded_like(text_view(page), maps["attribution"][HEAD, 20])

        # p and q redraw the marks with the new masks.
        page.locator("#p").fill("0.7")
        page.locator("#q").fill("0.5")
        # The mask panel's title and the text view are repainted together, from the same response.
        page.wait_for_function("""[...document.querySelectorAll('#layer-figure .annotation-text')]
            .some(a => a.textContent.includes('p=0.7, q=0.5'))""", timeout=COMPUTED)
        _, wider = api_maps(server, pair, p=0.7, q=0.5)
        tokens = text_view(page)
        assert marked(tokens, "candidate") == set(np.flatnonzero(wider["candidate"][HEAD, 20]))
        assert marked(tokens, "dropped") == set(np.flatnonzero(wider["dropped"][HEAD, 20]))
        assert len(marked(tokens, "dropped")) > len(set(np.flatnonzero(maps["dropped"][HEAD, 20])))

        # Over the mean of heads: the mean row, and no single head's marks.
        page.select_option("#head", "mean")
        assert "mean over heads" in page.locator("#text-view .tv-title").inner_text()
        tokens = text_view(page)
        assert_shaded_like(tokens, maps["attribution"][:, 20].astype(np.float64).mean(axis=0))
        assert not marked(tokens, "dropped") and not marked(tokens, "candidate")
        page.hover("#text-view .tv-tok[data-index='3']")
        assert "heads, dropped in" in page.locator("#text-view .tv-tip").inner_text()


def panel_box(page, k: int) -> dict[str, float]:
    """Where figure panel k's map is drawn, in page pixels."""
    suffix = "" if k == 0 else str(k + 1)
    return page.eval_on_selector("#layer-figure", f"""f => {{
        const xa = f._fullLayout.xaxis{suffix}, ya = f._fullLayout.yaxis{suffix}, r = f.getBoundingClientRect();
        const left = r.left + scrollX + xa._offset, top = r.top + scrollY + ya._offset;
        return {{left, top, right: left + xa._length, bottom: top + ya._length}};
    }}""")


def spots(page, viewport: bool = False) -> list[dict[str, float]]:
    """The walk-through's highlights: in page pixels (independent of scrolling), or in the viewport's. Queried and
    measured in one evaluation: the walk-through replaces its highlights whenever the figure redraws, so elements
    queried in one round trip may be detached by the next (eval_on_selector_all takes two)."""
    return page.evaluate(f"""() => [...document.querySelectorAll('.wt-spot')].map(e => {{
        const r = e.getBoundingClientRect(), x = {'0' if viewport else 'scrollX'}, y = {'0' if viewport else 'scrollY'};
        return {{left: r.left + x, top: r.top + y, right: r.right + x, bottom: r.bottom + y,
                 parent: e.parentElement.id || e.parentElement.className}};
    }})""")


# Where scrollIntoView({block: "start"}) brings the first highlight: its top at its scroll margin, unless the
# page cannot scroll that far.
SCROLLED_TO_SPOT = """() => { const spot = document.querySelector('.wt-spot');
    if (!spot) return false;
    const margin = parseFloat(getComputedStyle(spot).scrollMarginTop) || 0;
    const end = document.scrollingElement.scrollHeight - innerHeight;
    const target = Math.min(end, Math.max(0, spot.getBoundingClientRect().top + scrollY - margin));
    return Math.abs(scrollY - target) < 2; }"""


def surrounds(spot: dict, box: dict) -> bool:
    return all(abs(spot[side] - box[side]) <= 10 for side in ("left", "top", "right", "bottom")) and (
        spot["left"] <= box["left"] and spot["right"] >= box["right"]
    )


def test_walkthrough_steps_through_the_four_steps(server, pair):
    payload, maps = api_maps(server, pair)
    n = len(payload["tokens"])
    card = "#walkthrough"
    with chromium_page(1280, 900) as page:
        open_explained(page, server, pair, focus="mask")
        page.click("#view button[data-value=compare]")
        assert page.locator(card).is_hidden()
        page.click("#walkthrough-open")
        # the steps point at the layer view's three maps
        assert not page.locator("#layer-view").is_hidden() and page.locator("#focus").input_value() == ""

        step = lambda: page.get_attribute(card, "data-step")  # noqa: E731
        text = lambda: page.locator(card).text_content()  # noqa: E731
        assert step() == "pass1" and "Step 1 of 4" in text()
        label = payload["labels"][payload["pseudo_label"]]
        assert f"predicts “{label}” with probability {payload['probabilities'][payload['pseudo_label']]:.3f}" in text()
        assert [s["parent"] for s in spots(page)] == ["summary"]
        assert page.get_attribute(f"{card} a.wt-paper", "href") == "https://arxiv.org/abs/2210.05883"
        assert page.locator(f"{card} button:text('Back')").is_disabled()

        page.click(f"{card} button:text('Next')")
        # the walk-through left focus mode: the three maps are drawn (and the step's highlight placed on them)
        # once Plotly has drawn their axes and the canvas painted them (while Plotly draws it repaints the one)
        page.wait_for_function("JSON.parse(document.querySelector('#layer-figure + canvas').dataset.ranges).length === 3")
        assert step() == "attribution" and "layer 0, head 3: B = ∂F/∂A" in text()
        page.wait_for_timeout(600)  # the smooth scroll to the panel
        [spot] = spots(page)
        assert surrounds(spot, panel_box(page, 1))

        page.click(f"{card} button:text('Next')")
        page.wait_for_timeout(600)
        assert step() == "candidates" and "p = 0.3" in text()
        assert f"⌈0.3 × {n}⌉ = {math.ceil(0.3 * n)} keys" in text()
        assert f"{int(maps['candidate'][HEAD, 0].sum())} candidates." in text()
        assert [surrounds(s, panel_box(page, k)) for s, k in zip(spots(page), (1, 2))] == [True, True]

        page.click(f"{card} button:text('Next')")
        page.wait_for_timeout(600)
        dropped = int(maps["dropped"][HEAD, 0].sum())
        assert step() == "dropped" and "q = 0.2" in text() and "−∞" in text()
        assert f"{dropped} keys are dropped (seed 0)" in text()
        [spot] = spots(page)
        assert surrounds(spot, panel_box(page, 2))
        page.screenshot(path=ARTIFACTS / "explorer-walkthrough-step4.png")

        # The texts follow the numbers while the card is open.
        page.locator("#q").fill("0.5")
        page.wait_for_function("document.querySelector('#walkthrough').textContent.includes('q = 0.5')",
                               timeout=COMPUTED)

        page.click(f"{card} button:text('Back')")
        assert step() == "candidates"
        page.click(f"{card} .wt-close")
        assert page.locator(card).is_hidden() and not spots(page)
        page.click("#walkthrough-open")
        assert step() == "pass1"
        for _ in range(3):
            page.click(f"{card} button:text('Next')")
        page.click(f"{card} button:text('Done')")
        assert page.locator(card).is_hidden()


@pytest.mark.parametrize("width", [1280, 1440])
def test_text_view_screenshots(server, pair, width):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(width, 900) as page:
        open_explained(page, server, pair, query="2")
        page.hover("#text-view .tv-tok[data-index='5']")
        page.screenshot(path=ARTIFACTS / f"explorer-textview-{width}.png", full_page=True)
        page.locator("#text-view").screenshot(path=ARTIFACTS / f"explorer-textview-only-{width}.png")
        page.click("#walkthrough-open")
        page.click("#walkthrough button:text('Next')")
        page.click("#walkthrough button:text('Next')")
        # the smooth scroll to the step's first highlight has ended (the check below is in window coordinates)
        page.wait_for_function(SCROLLED_TO_SPOT)
        page.screenshot(path=ARTIFACTS / f"explorer-walkthrough-{width}.png")
        # Nothing of the card may cover the panel the step points at.
        card = page.locator("#walkthrough").bounding_box()
        for spot in spots(page, viewport=True):
            below, beside = card["y"] >= spot["bottom"], card["x"] >= spot["right"]
            assert below or beside or card["x"] + card["width"] <= spot["left"]
