"""Rows of one split as Python objects, before validation, and the Hub's nested translation layout as columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class RawSplit:
    """Rows of one split as Python objects, with where each row came from for error messages."""

    source: str
    rows: list[dict[str, Any]]
    lines: list[int] | None = None  # 1-based source line of each row, when the format has lines

    def where(self, i: int) -> str:
        return f"{self.source}, line {self.lines[i]}" if self.lines is not None else f"{self.source}, row {i}"


def languages(row: dict[str, Any]) -> dict[str, Any]:
    """A translation row with its languages as columns (``{"translation": {"en": ..}}`` -> ``{"en": ..}``)."""
    nested = row.get("translation")
    return {**nested, **{k: v for k, v in row.items() if k != "translation"}} if isinstance(nested, dict) else row
