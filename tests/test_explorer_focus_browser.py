"""The explorer's maps painted on canvas, in a real browser: focus mode (one map at full width, zoom and pan,
token labels that thin out and come back, the URL) and layer and head changes drawing the API's own maps."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.browser import ARTIFACTS, OVERLAPPING_QUADS, chromium_page, explained, explorer_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with explorer_server(tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="module")
def rte_pair(shared_data) -> dict[str, str]:
    """An RTE validation pair of 120 MiniLM tokens: a long input of the kind focus mode is for."""
    row = json.loads((shared_data / "glue" / "rte" / "validation.jsonl").read_text().splitlines()[51])
    return {"text": row["sentence1"], "pair": row["sentence2"]}


def into_view(page) -> None:
    """The maps at the top of the window, where the pointer can reach them."""
    page.eval_on_selector("#layer-figure", "f => f.scrollIntoView()")


def canvas_data(page) -> dict:
    return page.eval_on_selector("#layer-figure + canvas.map-overlay", "c => Object.assign({}, c.dataset)")


def x_range(page) -> list[float]:
    return page.eval_on_selector("#layer-figure", "f => f._fullLayout.xaxis.range.slice()")


# The page position of cell (i, j) of panel k, and the overlay canvas's colour there (device pixels).
CELL = """([k, i, j]) => {
    const f = document.getElementById('layer-figure'), s = k ? String(k + 1) : '';
    const xa = f._fullLayout['xaxis' + s], ya = f._fullLayout['yaxis' + s];
    const x = xa._offset + xa.l2p(j), y = ya._offset + ya.l2p(i), box = f.getBoundingClientRect();
    const canvas = f.parentElement.querySelector(':scope > canvas.map-overlay'), ratio = canvas.width / box.width;
    const rgb = [...canvas.getContext('2d').getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data].slice(0, 3);
    return {x: box.left + x, y: box.top + y, rgb};
}"""

# The colour the page's own scale gives the API's value at (i, j) of one layer and head, with the panel's range.
API_COLOUR = """async ([body, quantity, i, j]) => {
    const { decode } = await import('/static/js/explorer/decode.js');
    const { colourTable, tableColour } = await import('/static/js/explorer/colormap.js');
    const { ATTENTION_SCALE, ATTRIBUTION_SCALE } = await import('/static/js/explorer/figures.js');
    const answer = await (await fetch('/api/explain', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                      body: JSON.stringify(body)})).json();
    const values = decode(answer[quantity]).values, n = answer.tokens.length;
    const dropped = decode(answer.dropped).values, candidate = decode(answer.candidate).values;
    let low = Infinity, high = -Infinity;
    for (const v of values) { low = Math.min(low, v); high = Math.max(high, v); }
    const value = values[i * n + j];
    const rgb = quantity === 'attention'
        ? tableColour(colourTable(ATTENTION_SCALE), value, low, high)
        : tableColour(colourTable(ATTRIBUTION_SCALE), value, -Math.max(-low, high), Math.max(-low, high));
    return {value, text: value.toPrecision(4), rgb, dropped: dropped[i * n + j], candidate: candidate[i * n + j],
            free: [...Array(n * n).keys()].filter((c) => !candidate[c]).map((c) => [Math.floor(c / n), c % n])};
}"""


# Records every text painted on a map's overlay canvas since its last full clear (a repaint), each as the
# quadrilateral its font box covers on the canvas (through the rotation it is painted at).
RECORD_TEXTS = """(() => {
  const proto = CanvasRenderingContext2D.prototype, fill = proto.fillText, clear = proto.clearRect;
  proto.clearRect = function (x, y, ...rest) {
    if (this.canvas.classList.contains('map-overlay') && x === 0 && y === 0) this.canvas.painted = [];
    return clear.call(this, x, y, ...rest);
  };
  proto.fillText = function (text, x, y, ...rest) {
    if (this.canvas.painted) {
      const m = this.measureText(text), t = this.getTransform();
      const left = x - (this.textAlign === 'right' || this.textAlign === 'end' ? m.width : this.textAlign === 'center' ? m.width / 2 : 0);
      const top = y - m.fontBoundingBoxAscent, bottom = y + m.fontBoundingBoxDescent;
      const quad = [[left, top], [left + m.width, top], [left + m.width, bottom], [left, bottom]]
        .map(([a, b]) => { const p = t.transformPoint(new DOMPoint(a, b)); return [p.x, p.y]; });
      this.canvas.painted.push({ text, quad });
    }
    return fill.call(this, text, x, y, ...rest);
  };
})();"""

# The pairs of texts last painted on the layer view's canvas whose boxes overlap (the separating axis test on two
# convex quadrilaterals), and how many texts there were.
PAINTED_OVERLAPS = """() => {
  const painted = document.querySelector('#layer-figure + canvas.map-overlay').painted || [];
  const bad = (""" + OVERLAPPING_QUADS + """)(painted.map((t) => t.quad)).map(([i, j]) => [painted[i].text, painted[j].text]);
  return { count: painted.length, overlaps: bad };
}"""


def close(a: list[int], b: list[int], tolerance: int = 3) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def test_layer_and_head_changes_paint_the_apis_maps(server):
    text, pair = "The cat sat on the mat.", "A cat was sitting on a mat."
    with chromium_page(width=1280, height=1000) as page:
        page.goto(f"{server}/?" + urlencode({"text": text, "pair": pair}))
        explained(page)
        into_view(page)
        body = {"text": text, "text_pair": pair, "p": 0.3, "q": 0.2, "seed": 0, "method": "GA", "mode": "high"}
        for layer, head in (("0", "5"), ("2", "5"), ("2", "9"), ("4", "9")):
            if page.locator("#layer").input_value() != layer:
                page.select_option("#layer", layer)
                explained(page, also=f"document.querySelector('#layer-figure').layout.annotations[0].text.includes('layer {layer},')")
            page.select_option("#head", head)
            request = dict(body, layers=[int(layer)], heads=[int(head)])
            # cells off the candidate region carry no outline or mark: their centre shows the map's colour
            probe = page.evaluate(API_COLOUR, [request, "attention", 0, 0])
            for i, j in probe["free"][:: max(1, len(probe["free"]) // 6)]:
                for k, quantity in enumerate(("attention", "attribution")):
                    expected = page.evaluate(API_COLOUR, [request, quantity, i, j])
                    shown = page.evaluate(CELL, [k, i, j])
                    assert close(shown["rgb"], expected["rgb"]), (layer, head, quantity, i, j, shown, expected)
            # and the hover reads the same numbers
            i, j = probe["free"][len(probe["free"]) // 2]
            attention = page.evaluate(API_COLOUR, [request, "attention", i, j])["text"]
            spot = page.evaluate(CELL, [0, i, j])
            page.mouse.move(spot["x"], spot["y"])
            # the tip changes on the pointer's move; the one of the last layer and head may name the same query
            page.wait_for_function(f"""() => {{ const tip = document.querySelector('#layer-view .map-hover').textContent;
                return tip.includes('({i}) → ') && tip.includes('({j})') && tip.includes('attention    {attention}'); }}""")
            hover = page.inner_text("#layer-view .map-hover")
            assert f"({i}) → " in hover and f"({j})" in hover and f"attention    {attention}" in hover, hover


# Whether the overlay canvas is painted just left and just right of the map's left edge, at row ``row``, where
# the axes put that edge now.
EDGE = """(row) => {
    const f = document.getElementById('layer-figure'), xa = f._fullLayout.xaxis, ya = f._fullLayout.yaxis;
    const canvas = f.parentElement.querySelector(':scope > canvas.map-overlay'), ratio = canvas.width / f.clientWidth;
    const edge = xa._offset + xa.l2p(-0.5), y = ya._offset + ya.l2p(row);
    const alpha = (x) => canvas.getContext('2d').getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data[3];
    return {edge: edge - xa._offset, outside: alpha(edge - 4), inside: alpha(edge + 4)};
}"""


def test_the_painted_map_moves_with_the_axes_during_a_pan(server):
    """Plotly moves its axes while a drag is under way but redraws only when it ends; the canvas follows each
    frame, so the map is not left behind its own axes (and the empty band the pan opens stays empty)."""
    with chromium_page(width=1280, height=1000) as page:
        page.goto(f"{server}/?" + urlencode({"text": "The cat sat on the mat.", "focus": "attribution"}))
        explained(page)
        page.wait_for_function("JSON.parse(document.querySelector('#layer-figure + canvas').dataset.ranges).length === 1")
        into_view(page)
        before = page.evaluate(EDGE, 3)
        assert before["inside"] > 0
        start = page.evaluate(CELL, [0, 3, 3])
        page.mouse.move(start["x"], start["y"])
        page.mouse.down()
        for step in range(1, 11):
            page.mouse.move(start["x"] + 12 * step, start["y"])
        # still dragging: the axes have moved the map's left edge 120 px to the right ...
        page.wait_for_function(f"() => ({EDGE})(3).edge > {before['edge']} + 100")
        # ... and within a frame the canvas shows it there: blank to its left, painted to its right
        page.wait_for_function(f"() => {{ const e = ({EDGE})(3); return e.outside === 0 && e.inside > 0; }}", timeout=5000)
        page.mouse.up()


def test_focus_mode_zooms_pans_and_keeps_its_place_in_the_url(server, rte_pair):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(width=1280, height=1000) as page:
        page.goto(f"{server}/?" + urlencode(rte_pair))
        explained(page)
        assert page.locator("#token-count").inner_text() == "120"
        page.screenshot(path=ARTIFACTS / "explorer-rte-1280.png", full_page=True)
        page.select_option("#focus", "attribution")
        # the canvas paints the one map (and its labels) once Plotly has drawn the new axes; while Plotly draws,
        # the canvas repaints the three maps it had
        page.wait_for_function("""() => !document.querySelector('#layer-figure')._fullLayout.xaxis2
            && JSON.parse(document.querySelector('#layer-figure + canvas').dataset.ranges).length === 1""")
        page.wait_for_function("location.search.includes('focus=attribution')")
        whole = canvas_data(page)
        assert int(whole["labelStep"]) > 1 and int(whole["labelsShown"]) < 120  # 7.5 px cells: every other label
        assert whole["marked"] == "yes"  # cells large enough for outlines and marks
        page.screenshot(path=ARTIFACTS / "explorer-focus-1280.png", full_page=True)

        # The mouse wheel zooms in around the pointer: fewer tokens in view, every one of them labelled.
        into_view(page)
        centre = page.evaluate(CELL, [0, 60, 60])
        page.mouse.move(centre["x"], centre["y"])
        for _ in range(16):
            page.mouse.wheel(0, -120)
            page.wait_for_timeout(30)
        # Plotly moves the axes at once and the overlay repaints at the next frame, each wheel step: wait for the
        # labels of the final range, not those of a range passed on the way in.
        page.wait_for_function("""() => { const f = document.querySelector('#layer-figure');
            const r = f._fullLayout.xaxis.range, c = document.querySelector('#layer-figure + canvas');
            return Math.abs(r[1] - r[0]) < 40 && c.dataset.labelStep === '1'
                && Number(c.dataset.labelsShown) <= Math.abs(r[1] - r[0]) + 1; }""")
        zoomed = x_range(page)
        shown = int(canvas_data(page)["labelsShown"])
        assert 5 < shown <= abs(zoomed[1] - zoomed[0]) + 1
        # The marks follow: the centre of a dropped cell in view is covered by its mark, of a kept one not.
        masks = page.evaluate("""async () => { const { decode } = await import('/static/js/explorer/decode.js');
            const f = document.getElementById('layer-figure');
            const body = {text: %s, text_pair: %s, layers: [0], heads: [0], fields: ['candidate', 'dropped']};
            const a = await (await fetch('/api/explain', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                          body: JSON.stringify(body)})).json();
            return {dropped: [...decode(a.dropped).values], candidate: [...decode(a.candidate).values], n: a.tokens.length}; }"""
                              % (json.dumps(rte_pair["text"]), json.dumps(rte_pair["pair"])))
        n = masks["n"]
        (left, right), (top, bottom) = sorted(zoomed), sorted(page.eval_on_selector(
            "#layer-figure", "f => f._fullLayout.yaxis.range.slice()"))
        in_view = [(c // n, c % n) for c in range(n * n)
                   if top + 1 < c // n < bottom - 1 and left + 1 < c % n < right - 1]
        drops = [cell for cell in in_view if masks["dropped"][cell[0] * n + cell[1]]]
        kept = [cell for cell in in_view if not masks["candidate"][cell[0] * n + cell[1]]]
        assert drops and kept
        request = {"text": rte_pair["text"], "text_pair": rte_pair["pair"], "layers": [0], "heads": [0]}
        for i, j in drops[:4]:
            colour = page.evaluate(API_COLOUR, [request, "attribution", i, j])["rgb"]
            assert not close(page.evaluate(CELL, [0, i, j])["rgb"], colour, 20), (i, j)
        for i, j in kept[:4]:
            colour = page.evaluate(API_COLOUR, [request, "attribution", i, j])["rgb"]
            assert close(page.evaluate(CELL, [0, i, j])["rgb"], colour), (i, j)
        page.screenshot(path=ARTIFACTS / "explorer-focus-zoomed-1280.png", full_page=True)

        # Dragging pans: the same span, further right; the place goes into the address.
        centre = page.evaluate(CELL, [0, round(sum(zoomed) / 2), round(sum(zoomed) / 2)])
        page.mouse.move(centre["x"], centre["y"])
        page.mouse.down()
        page.mouse.move(centre["x"] - 150, centre["y"], steps=6)
        page.mouse.up()
        page.wait_for_function(f"document.querySelector('#layer-figure')._fullLayout.xaxis.range[0] > {min(zoomed) + 1}")
        panned = x_range(page)
        assert abs(abs(panned[1] - panned[0]) - abs(zoomed[1] - zoomed[0])) < 0.01
        page.wait_for_function(f"new URLSearchParams(location.search).get('zoom')?.startsWith('{round(panned[0], 2):g},')")

        # Hover names query and key with every value there.
        spot = page.evaluate(CELL, [0, round(sum(panned) / 2), round(sum(panned) / 2)])
        page.mouse.move(spot["x"], spot["y"])
        page.wait_for_selector("#layer-view .map-hover:not(.hidden)")
        hover = page.inner_text("#layer-view .map-hover")
        for word in ("query", "→ key", "attention", "attribution", "rank"):
            assert word in hover
        assert "candidate" in hover or "not a candidate" in hover

        # The link opens the same map at the same place, and a double click shows the whole map again.
        link = page.url
        page.goto(link)
        explained(page)
        into_view(page)
        page.wait_for_function("document.querySelector('#layer-figure + canvas').dataset.labelStep === '1'")
        assert page.locator("#focus").input_value() == "attribution"
        assert all(abs(a - b) < 0.02 for a, b in zip(x_range(page), panned))
        spot = page.evaluate(CELL, [0, round(sum(panned) / 2), round(sum(panned) / 2)])
        page.mouse.dblclick(spot["x"], spot["y"])
        page.wait_for_function("document.querySelector('#layer-figure')._fullLayout.xaxis.range[1] > 119 && "
                               "document.querySelector('#layer-figure + canvas').dataset.labelStep !== '1'")
        assert int(canvas_data(page)["labelStep"]) > 1

        page.set_viewport_size({"width": 1440, "height": 1000})
        page.select_option("#focus", "")
        page.wait_for_function("Boolean(document.querySelector('#layer-figure')._fullLayout.xaxis3)")
        page.screenshot(path=ARTIFACTS / "explorer-rte-1440.png", full_page=True)
        page.select_option("#focus", "mask")
        page.wait_for_function("!document.querySelector('#layer-figure')._fullLayout.xaxis2")
        page.screenshot(path=ARTIFACTS / "explorer-focus-mask-1440.png", full_page=True)
        # the address follows a focus change once it rests (300 ms), as it does a layer or head change
        page.wait_for_function("location.search.includes('focus=mask')")
        assert "zoom=" not in page.url


@pytest.mark.parametrize("focus", ["attribution", "mask"])
def test_focus_modes_labels_never_touch_at_any_zoom(server, rte_pair, focus):
    """In focus mode the canvas paints the token labels, thinned for the cell size at every zoom: at each zoom
    from the whole 120-token map to a few tokens, no two painted texts (key labels along their slant, row labels,
    the colour bar's) overlap."""
    with chromium_page(width=1280, height=1000) as page:
        page.add_init_script(RECORD_TEXTS)
        page.goto(f"{server}/?" + urlencode({**rte_pair, "focus": focus}))
        explained(page)
        page.wait_for_function("JSON.parse(document.querySelector('#layer-figure + canvas').dataset.ranges).length === 1")
        for span in (120, 90, 64, 48, 40, 32, 26, 20, 16, 12, 8):
            # a zoom on the map's middle, span tokens each way, as a wheel zoom would leave it
            low = 60 - span / 2 - 0.5
            page.evaluate("([a, b]) => Plotly.relayout(document.getElementById('layer-figure'), "
                          "{'xaxis.range': [a, b], 'yaxis.range': [b, a]})", [low, low + span])
            page.wait_for_function(f"""() => {{ const f = document.getElementById('layer-figure');
                const r = f._fullLayout.xaxis.range, c = f.parentElement.querySelector(':scope > canvas.map-overlay');
                return Math.abs(Math.abs(r[1] - r[0]) - {span}) < 0.01 && c.painted && c.painted.length > 0; }}""")
            page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
            painted = page.evaluate(PAINTED_OVERLAPS)
            assert painted["count"] > 10 and painted["overlaps"] == [], (focus, span, painted)
            if span in (120, 20):
                page.screenshot(path=ARTIFACTS / f"explorer-focus-{focus}-{span}.png", full_page=True)
