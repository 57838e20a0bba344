"""The figures' one definition: colour scales, outline and mark styles, the label stride, fonts and titles, in
``addrop/assets/figure-style.json``.  :mod:`addrop.viz` draws from it, and the web app serves the same file to
its explorer and job pages, so that a notebook's figure and a page's cannot drift apart."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
FIGURE_STYLE = ASSETS_DIR / "figure-style.json"


@functools.cache
def figure_style() -> dict[str, Any]:
    """The parsed definition (read once)."""
    return json.loads(FIGURE_STYLE.read_text(encoding="utf-8"))


def by_size(rules: list[dict[str, float]], n: int) -> float:
    """The value of the first rule whose ``above`` the size ``n`` exceeds (as the pages' ``bySize``)."""
    return next((rule["value"] for rule in rules if n > rule["above"]), rules[-1]["value"])
