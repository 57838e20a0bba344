"""The pages and addrop.viz draw from one definition of the figures: the JS modules read the same file Python
reads (and the app serves), and apply its size rules as addrop.viz does."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient

from addrop.figure_style import FIGURE_STYLE, figure_style
from addrop.viz import maps
from backend.main import create_app
from backend.settings import Settings
from tests.browser import ROOT

SIZES = [1, 8, 18, 32, 33, 48, 49, 64, 65, 128, 512]

# What the page modules make of the definition, printed by Node.
SCRIPT = """
import { STYLE } from "./frontend/static/js/common/figure-style.js";
import { ATTENTION_SCALE, ATTRIBUTION_SCALE, COLORS, markSize, markWidth, methodLabel, regionWidth, tickFontSize, tickStep }
  from "./frontend/static/js/explorer/figures.js";
import { quantityTitle } from "./frontend/static/js/explorer/legends.js";
const sizes = %s;
console.log(JSON.stringify({
  style: STYLE, attention: ATTENTION_SCALE, attribution: ATTRIBUTION_SCALE, colours: COLORS,
  rules: sizes.map((n) => [tickStep(n), tickFontSize(n), regionWidth(n), markSize(n), markWidth(n)]),
  titles: ["GA", "IGA", "AA", "RD"].map((m) => [quantityTitle("attribution", m), methodLabel(m)]),
  other: ["attention", "mask", "mask-mean"].map((q) => quantityTitle(q)),
}));
"""


@pytest.fixture(scope="module")
def page_side() -> dict:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    out = subprocess.run(["node", "--input-type=module", "-e", SCRIPT % json.dumps(SIZES)], cwd=ROOT,
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
