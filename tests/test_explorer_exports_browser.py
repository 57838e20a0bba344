"""The explorer's exports in a real browser: at 18 and 128 tokens the SVG is at least as readable as the screen (no
two token labels touch, outlines and marks only where cells carry them), names what it shows in its title and file
name, follows the colour scale chosen, exports the zoomed region on request, and the paper figure does the same."""

from __future__ import annotations

import io
import json
import re
from urllib.parse import urlencode

import pypdf
import pytest

from addrop.figure_style import figure_style
from tests.browser import ARTIFACTS, OVERLAPPING_QUADS, chromium_page, explained, explorer_server

pytestmark = pytest.mark.browser
STYLE = figure_style()

WORDS = ("the film is a gorgeous witty and seductive movie with a story that never quite finds its feet but the "
         "cast makes every scene worth watching from the first minute to the last one even when plot turns slow").split()
LONG = {"text": " ".join(WORDS[i % len(WORDS)] for i in range(61)) + ".",
        "pair": " ".join(WORDS[(i * 7) % len(WORDS)] for i in range(62)) + "."}  # 128 MiniLM tokens
SHORT = {"text": "The cat sat on the mat.", "pair": "A cat was sitting on a mat."}  # 18

# What an exported SVG draws.  Every text as the polygon it covers on the drawing (its box, through its rotation),
# and the pairs of texts whose polygons overlap by more than half a pixel (the separating axis test on two convex
# quadrilaterals): token labels, titles, axis titles, colour bars' ticks and titles alike; the texts that reach
# outside the drawing; the token labels (each axis's tick labels) with their font sizes, and every text's; the maps'
# images' sizes.
DRAWN = """() => {
  const svg = document.querySelector('svg');
  const width = svg.width.baseVal.value, height = svg.height.baseVal.value;
  const texts = [...svg.querySelectorAll('text')].filter((t) => t.textContent.trim());
  const labels = [...svg.querySelectorAll('.cartesianlayer g[class$="tick"] > text')].filter((t) => t.textContent.trim());
  const quads = texts.map((t) => {
    const b = t.getBBox(), m = t.getCTM();
    return [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]]
      .map(([x, y]) => { const p = new DOMPoint(x, y).matrixTransform(m); return [p.x, p.y]; });
  });
  const bad = (""" + OVERLAPPING_QUADS + """)(quads).map(([i, j]) => [texts[i].textContent, texts[j].textContent]);
  const outside = texts.filter((t, k) => quads[k].some(([x, y]) => x < -0.5 || y < -0.5 || x > width + 0.5 || y > height + 0.5))
    .map((t) => t.textContent);
  const size = (t) => parseFloat(getComputedStyle(t).fontSize);
  const byAxis = {};
  for (const t of labels) (byAxis[t.parentNode.getAttribute('class')] ??= []).push(t.textContent);
  return { count: labels.length, overlaps: bad, outside, width, height, byAxis,
           labelSizes: [...new Set(labels.map(size))], smallest: Math.min(...texts.map(size)),
           maps: [...svg.querySelectorAll('.hm image')].map((i) => [i.width.baseVal.value, i.height.baseVal.value]),
           title: svg.querySelector('.gtitle') ? svg.querySelector('.gtitle').textContent : '',
           text: [...svg.querySelectorAll('.annotation-text')].map((a) => a.textContent).join(' | '),
           marks: svg.querySelectorAll('.scatterlayer .point').length,
           // the candidate outlines: the shapes drawn solid (sentence boundaries are dashed)
           outlines: [...svg.querySelectorAll('.shapelayer path')].filter((p) => !/dasharray/.test(p.getAttribute('style') || '')).length };
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with explorer_server(tmp_path_factory) as url:
        yield url


def exported(page, button: str, name: str) -> tuple[str, dict]:
    """Clicks an export button; returns the file's suggested name and what its SVG draws, with a screenshot of it."""
    with page.expect_download() as download:
        page.click(f"[data-export={button}]")
    svg = download.value.path().read_text()
    assert svg.startswith("<svg")
    (ARTIFACTS / f"export-{name}.svg").write_text(svg)
    context = page.context.browser.new_context(device_scale_factor=2)
    try:
        viewer = context.new_page()
        viewer.set_content(f'<html><body style="margin:0">{svg}</body></html>')
        drawn = viewer.evaluate(DRAWN)
        viewer.screenshot(path=ARTIFACTS / f"export-{name}.png", full_page=True)
    finally:
        context.close()
    return download.value.suggested_filename, drawn


@pytest.mark.parametrize(("words", "tokens"), [(SHORT, 18), (LONG, 128)])
def test_exported_svgs_are_readable_and_say_what_they_show(server, words, tokens):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(width=1280, height=1000) as page:
        page.goto(f"{server}/?" + urlencode({**words, "head": "3"}))
        explained(page)
        assert page.locator("#token-count").inner_text() == str(tokens)
        marked_on_screen = page.eval_on_selector("#layer-figure + canvas", "c => c.dataset.marked") == "yes"
        name, drawn = exported(page, "svg", f"maps-{tokens}")
        assert drawn["overlaps"] == [] and drawn["outside"] == [] and drawn["count"] >= 12, drawn
        assert re.fullmatch(r"addrop_maps_minilm_[a-z-]+_L0-h3_GA_p0\.3_q0\.2_high_seed0\.svg", name), name
        assert drawn["title"].startswith("minilm · “") and "layer 0, head 3 · GA · p=0.3, q=0.2, high · seed 0" in drawn["title"]
        # the export marks what the screen marks: the outline and the marks on both maps at 18 tokens, none at 128
        assert marked_on_screen == (tokens == 18)
        assert (drawn["marks"] > 0, drawn["outlines"] == 2) == (marked_on_screen, marked_on_screen), drawn["outlines"]
        assert ("cells too small" in drawn["text"]) == (not marked_on_screen)

        name, paper = exported(page, "paper", f"paper-{tokens}")
        assert paper["overlaps"] == [] and paper["outside"] == [] and paper["count"] >= 12, paper
        assert name.startswith("addrop_paper_minilm_") and paper["title"].startswith("minilm · “")
        paper_is_printable(paper, tokens)
        if tokens == 18:
            pdf_has_the_papers_figure(page, name, paper)


def paper_is_printable(paper: dict, tokens: int) -> None:
    """The paper figure at the definition's width in points (a figure across both columns of a paper) prints its
    four maps large, its cells square, its token labels at one fixed size and nothing smaller; at 18 tokens every
    token is labelled on every map's keys and on the left maps' rows, at 128 enough to find one's place."""
    style = STYLE["paper"]
    assert paper["width"] == style["width"] == 504  # 7 in at 72 points an inch
    assert len(paper["maps"]) == 4
    for wide, high in paper["maps"]:
        assert wide >= 0.3 * paper["width"] and abs(wide - high) < 1, paper["maps"]  # each over 2.1 in, square
    assert paper["labelSizes"] == [style["label_size"]] and paper["smallest"] >= style["label_size"]
    keys = [labels for axis, labels in paper["byAxis"].items() if axis.startswith("x")]
    rows = [labels for axis, labels in paper["byAxis"].items() if axis.startswith("y")]
    assert len(keys) == 4 and len(rows) == 2  # the rows named on the left maps only
    if tokens == 18:
        assert all(len(labels) == 18 for labels in keys + rows), paper["byAxis"]
    else:
        assert all(12 <= len(labels) < 128 for labels in keys + rows), paper["byAxis"]


def pdf_has_the_papers_figure(page, svg_name: str, svg: dict) -> None:
    """The "Paper PDF" export is the paper SVG's figure as a vector PDF page of the figure's size, with its font
    embedded, so that its text (title, token labels, a colour bar's minus signs) is the SVG's, character for
    character."""
    with page.expect_download() as download:
        page.click("[data-export=paper-pdf]")
    assert download.value.suggested_filename == svg_name.removesuffix(".svg") + ".pdf"
    body = download.value.path().read_bytes()
    (ARTIFACTS / "export-paper.pdf").write_bytes(body)
    assert body.startswith(b"%PDF-")
    document = pypdf.PdfReader(io.BytesIO(body))
    assert len(document.pages) == 1
    sheet = document.pages[0]
    assert float(sheet.mediabox.width) == pytest.approx(STYLE["paper"]["width"], abs=1)
    chosen = {f"/{name.decode()}" for name in re.findall(rb"/(F\d+)\s+[-\d.]+\s+Tf", sheet.get_contents().get_data())}
    used = {str(font.get_object()["/BaseFont"]) for name, font in sheet["/Resources"]["/Font"].items() if name in chosen}
    assert used == {"/LiberationSans"}, used  # every text in the embedded font, none in a standard one
    text = sheet.extract_text()
    for token in ("cat", "mat", "sitting"):  # labelled tokens of the 18 (every other one is)
        assert token in text, text[:500]
    title = svg["title"].split(" · ")
    assert all(part.split()[0] in text for part in title), (title, text[:500])
    assert "\u2212" in text  # the attribution colour bar's negative ticks, Plotly's minus sign
    assert "Export failed" not in page.inner_text("#status")


def test_colour_scales_travel_in_the_url_and_the_zoomed_region_exports_alone(server):
    with chromium_page(width=1280, height=1000) as page:
        page.goto(f"{server}/?" + urlencode({**LONG, "head": "3"}))
        explained(page)
        painted = page.eval_on_selector("#layer-figure + canvas", "c => c.dataset.ranges")
        largest = json.loads(painted)
        page.select_option("#colour-scale", "percentile")
        page.wait_for_function(f"document.querySelector('#layer-figure + canvas').dataset.ranges !== '{painted}'")
        clipped = page.eval_on_selector("#layer-figure + canvas", "c => JSON.parse(c.dataset.ranges)")
        assert "colour=percentile" in page.url
        assert clipped[1][1] < largest[1][1] and clipped[0][1] <= largest[0][1]
        page.screenshot(path=ARTIFACTS / "explorer-128-percentile.png", full_page=True)
        page.select_option("#colour-scale", "row")
        page.wait_for_function("JSON.parse(document.querySelector('#layer-figure + canvas').dataset.ranges)[1][1] === 1")
        page.reload()
        explained(page)
        assert page.locator("#colour-scale").input_value() == "row"

        # focus mode, zoomed on the first 24 tokens: the export shows them alone, marked and labelled
        page.goto(f"{server}/?" + urlencode({**LONG, "head": "3", "focus": "attribution", "zoom": "-0.5,23.5,23.5,-0.5"}))
        explained(page)
        assert page.locator("#zoomed-field").is_visible()
        page.check("#export-zoomed")
        name, drawn = exported(page, "svg", "zoomed-128")
        assert "-k0-23-q0-23_" in name and "keys 0–23 × queries 0–23" in drawn["title"]
        assert drawn["overlaps"] == [] and drawn["outside"] == [] and drawn["marks"] > 0 and drawn["outlines"] == 1
