"""What an uploaded data file holds (columns, rows, distinct values), read as training reads it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from addrop.data.errors import DataError
from addrop.data.files import file_rows, too_many_columns
from addrop.data.rows import languages


@dataclass
class FileSummary:
    """What a data file holds, read with the same parser training uses: its columns and row count."""

    columns: list[str]
    rows: int
    preview: list[dict[str, Any]]
    # each column's distinct values in first-seen order, or None when there are more than a form can offer
    distinct: dict[str, list[Any] | None]


def summarize_file(
    path: str | Path, preview: int = 5, max_distinct: int = 50, max_columns: int | None = None
) -> FileSummary:
    """Parse ``path`` (JSONL/JSON/CSV/TSV) and list its columns (in first-seen order), rows and, per column,
    up to ``max_distinct`` distinct scalar values (enough to offer a label column's classes). Rows in the Hub's
    ``wmt16`` layout (``{"translation": {"en": ..., "ro": ...}}``) list their languages as columns, as training
    reads them.

    Rows are read one at a time and not kept, so memory stays near the size of what is returned.
    Raises :class:`DataError` when the file cannot be parsed, or has more than ``max_columns`` columns,
    so a tool can reject it before training.
    """
    path = Path(path)
    rows = 0
    first: list[dict[str, Any]] = []
    # each column's distinct values so far (dict keys keep first-seen order), None once there are too many
    distinct: dict[str, dict[Any, None] | None] = {}
    for _, row in file_rows(path, max_columns):
        row = languages(row)  # a translation in the Hub's wmt16 layout lists its languages as columns
        rows += 1
        if len(first) < preview:
            first.append(row)
        for column in row:
            if column not in distinct:
                if max_columns is not None and len(distinct) >= max_columns:
                    raise DataError(too_many_columns(str(path), max_columns))
                # a column missing from earlier rows had the value None there, as row.get() reads it
                distinct[column] = {None: None} if rows > 1 else {}
        for column, values in distinct.items():
            if values is None:
                continue
            value = row.get(column)
            if isinstance(value, (list, dict)):
                distinct[column] = None
                continue
            values.setdefault(value, None)
            if len(values) > max_distinct:
                distinct[column] = None
    if not rows:
        raise DataError(f"{path} has no examples")
    return FileSummary(list(distinct), rows, first,
                       {column: None if values is None else list(values) for column, values in distinct.items()})
