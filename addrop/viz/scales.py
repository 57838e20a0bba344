"""How a value map's colours span its values, by the definition's ``colour_range`` (the explorer's scales.js): to
the largest |value|, to a percentile of |value| (a few strong cells no longer wash the rest out), or each row to its
own largest |value|.  A cell without a value (NaN: a key its row cannot attend) takes no part in any of them."""

from __future__ import annotations

import numpy as np

from addrop.figure_style import figure_style

SCALE_MODES = tuple(figure_style()["colour_range"]["notes"])


def percentile_abs(values: np.ndarray, pct: float) -> float:
    """The ``pct``-th percentile of ``|values|`` (NaN left out), interpolated linearly between ranks."""
    shown = np.abs(np.asarray(values, dtype=float))
    shown = shown[~np.isnan(shown)]
    return float(np.percentile(shown, pct)) if shown.size else 0.0


def row_normalised(values: np.ndarray) -> np.ndarray:
    """Each row divided by its largest |value| (a row of zeros stays zeros; NaN stays NaN)."""
    values = np.asarray(values, dtype=float)
    top = np.max(np.abs(np.nan_to_num(values)), axis=-1, keepdims=True)
    out = np.where(np.isnan(values), np.nan, 0.0)
    return np.divide(values, top, out=out, where=top > 0)


def colour_values(maps: list[np.ndarray], mode: str) -> tuple[list[np.ndarray], float]:
    """Each map's coloured values under ``mode`` and the |value| the scale's end colour stands for (never 0), one
    scale for all of ``maps``."""
    if mode not in SCALE_MODES:
        raise ValueError(f"unknown colour scale {mode!r}: choose from {', '.join(SCALE_MODES)}")
    if mode == "row":
        return [row_normalised(np.asarray(z, dtype=float)) for z in maps], 1.0
    flat = np.concatenate([np.ravel(z) for z in maps]).astype(float)
    largest = float(np.abs(np.nan_to_num(flat)).max()) if flat.size else 0.0
    top = percentile_abs(flat, figure_style()["colour_range"]["percentile"]) if mode == "percentile" else largest
    return list(maps), top or 1.0


def scale_note(mode: str) -> str:
    """What the colour bar adds to its title: which scale is in use ("" for the largest value)."""
    ranges = figure_style()["colour_range"]
    return ranges["notes"][mode].replace("{percentile}", str(ranges["percentile"]))
