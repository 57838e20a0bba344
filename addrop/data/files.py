"""Finding a task's split files in a data directory and parsing JSONL, JSON, CSV and TSV files row by row."""

from __future__ import annotations

import codecs
import csv
import itertools
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from addrop.data.errors import DataError, NoDataFiles
from addrop.data.rows import RawSplit

EXTENSIONS = (".jsonl", ".json", ".csv", ".tsv")
VALIDATION_NAMES = ("validation", "dev")


def find_split_files(data_dir: Path, task_name: str) -> tuple[Path, Path]:
    """The train and validation files in ``data_dir``, ``data_dir/<task>`` or ``data_dir/glue/<task>``."""
    if not data_dir.is_dir():
        raise NoDataFiles(f"data directory {data_dir} does not exist")
    searched = [data_dir, data_dir / task_name, data_dir / "glue" / task_name]
    for directory in searched:
        train = _first_existing(directory, ("train",))
        if train is not None:
            validation = _first_existing(directory, VALIDATION_NAMES)
            if validation is None:
                raise DataError(
                    f"{directory} has {train.name} but no validation.<ext> or dev.<ext> ({', '.join(EXTENSIONS)})"
                )
            return train, validation
    raise NoDataFiles(f"no train.<ext> ({', '.join(EXTENSIONS)}) found in {', '.join(str(d) for d in searched)}")


def _first_existing(directory: Path, stems: Sequence[str]) -> Path | None:
    for stem in stems:
        for ext in EXTENSIONS:
            if (directory / f"{stem}{ext}").is_file():
                return directory / f"{stem}{ext}"
    return None


def read_file(path: Path) -> RawSplit:
    """All rows of a data file, with their lines for error messages."""
    rows, lines = [], []
    for line, row in file_rows(path):
        rows.append(row)
        lines.append(line)
    # a JSON array's rows are its items: they have no line of their own
    return RawSplit(str(path), rows, None if None in lines else lines)


def file_rows(path: Path, max_columns: int | None = None) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """Each row of a data file with its 1-based line (None for an item of a JSON array), one at a time, so
    that a caller that does not keep them needs memory for one row, not for the whole file as objects.
    A CSV/TSV header of more than ``max_columns`` columns is refused before any row is built from it."""
    if not path.is_file():
        raise DataError(f"data file {path} does not exist")
    ext = path.suffix.lower()
    if ext not in EXTENSIONS:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; use one of {', '.join(EXTENSIONS)}")
    _check_utf8(path)
    source = str(path)
    # utf-8-sig: files saved by spreadsheet programs often start with a byte-order mark. JSON lines end at
    # "\n" only: U+2028 and other characters that end a line for Python may stand unescaped in JSON strings.
    with path.open(encoding="utf-8-sig", newline="" if ext in (".csv", ".tsv") else "\n") as handle:
        if ext == ".csv":
            yield from _delimited_rows(handle, source, csv.excel, max_columns)
        elif ext == ".tsv":
            yield from _delimited_rows(handle, source, _TsvDialect, max_columns)
        elif ext == ".jsonl":
            yield from _json_line_rows(handle, source)
        else:
            text = handle.read()
            if text.lstrip().startswith("["):
                yield from _json_array_rows(text, source)
            else:
                yield from _json_line_rows(text.split("\n"), source)


def too_many_columns(source: str, limit: int, count: int | None = None) -> str:
    """The message for a file with more than ``limit`` columns (``count`` of them, where known)."""
    found = f"{count} columns" if count is not None else f"more than {limit} columns"
    return f"{source} has {found}; a data file may have at most {limit}"


def _check_utf8(path: Path, chunk: int = 1 << 20) -> None:
    # Decoded here in chunks, so that the error can name its byte in the file, not in a reader's buffer.
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as handle:
        while True:
            data = handle.read(chunk)
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                raise DataError(f"{path} is not UTF-8 text ({exc.reason} at byte {offset + exc.start})") from None
            if not data:
                return
            offset += len(data)


class _TsvDialect(csv.Dialect):
    # GLUE's TSV files contain unbalanced double quotes, so quotes are ordinary characters.
    delimiter = "\t"
    quoting = csv.QUOTE_NONE
    quotechar = None
    escapechar = None
    doublequote = False
    skipinitialspace = False
    lineterminator = "\n"


def _delimited_rows(
    handle: Any, source: str, dialect: type[csv.Dialect] | csv.Dialect, max_columns: int | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(handle, dialect=dialect)
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(f"{source} is empty")
        if max_columns is not None and len(header) > max_columns:
            raise DataError(too_many_columns(source, max_columns, len(header)))
        _check_distinct(header, source)
        for values in reader:
            if not values:  # blank line
                continue
            if len(values) != len(header):
                raise DataError(
                    f"{source}, line {reader.line_num}: {len(values)} fields, but the header has {len(header)}"
                )
            yield reader.line_num, dict(zip(header, values))
    except csv.Error as exc:
        # e.g. a field over the csv module's limit (128 KiB), usually a quote that is never closed
        message = str(exc)
        if "field limit" in message:
            message = f"a field is longer than {csv.field_size_limit()} characters (is a quote left open?)"
        raise DataError(f"{source}, line {reader.line_num}: {message}") from None


def _check_distinct(header: list[str], source: str) -> None:
    # A row is a dict by column name: of two columns of one name, the later would silently replace the earlier.
    first: dict[str, int] = {}
    for number, name in enumerate(header, start=1):
        if name in first:
            shown = name if len(name) <= 100 else name[:100] + "…"
            raise DataError(f"{source}: the header names column {shown!r} twice (columns {first[name]} and {number}); "
                            "give each column its own name")
        first[name] = number


def _json_line_rows(lines: Iterable[str], source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, **_JSON_NUMBERS)
        except json.JSONDecodeError as exc:
            raise DataError(f"{source}, line {number}: malformed JSON ({exc.msg})") from None
        except _NonStandardConstant as exc:
            raise DataError(f"{source}, line {number}: {exc}") from None
        except RecursionError:
            raise DataError(f"{source}, line {number}: {_TOO_DEEP}") from None
        if not isinstance(row, dict):
            raise DataError(f"{source}, line {number}: expected a JSON object, got {type(row).__name__}")
        if _ESCAPED_SURROGATE.search(line) and _has_lone_surrogate(row):
            raise DataError(f"{source}, line {number}: {_LONE_SURROGATE}")
        yield number, row

_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _json_array_rows(text: str, source: str) -> Iterator[tuple[None, dict[str, Any]]]:
    """The items of the JSON array ``text``, decoded one at a time (``json.loads`` would build every item
    before the first could be looked at, several times the file's size in objects)."""
    decoder = json.JSONDecoder(**_JSON_NUMBERS)
    surrogates = _ESCAPED_SURROGATE.search(text) is not None
    try:
        position = _JSON_SPACE.match(text).end()
        if not text.startswith("[", position):
            raise json.JSONDecodeError("Expecting value", text, position)
        position = _JSON_SPACE.match(text, position + 1).end()
        if text.startswith("]", position):
            position += 1
        else:
            for i in itertools.count():
                try:
                    row, position = decoder.raw_decode(text, position)
                except _NonStandardConstant as exc:
                    raise DataError(f"{source}, item {i}: {exc}") from None
                if not isinstance(row, dict):
                    raise DataError(f"{source}, item {i}: expected a JSON object, got {type(row).__name__}")
                if surrogates and _has_lone_surrogate(row):
                    raise DataError(f"{source}, item {i}: {_LONE_SURROGATE}")
                yield None, row
                position = _JSON_SPACE.match(text, position).end()
                if text.startswith("]", position):
                    position += 1
                    break
                if not text.startswith(",", position):
                    raise json.JSONDecodeError("Expecting ',' delimiter", text, position)
                position = _JSON_SPACE.match(text, position + 1).end()
        position = _JSON_SPACE.match(text, position).end()
        if position != len(text):
            raise json.JSONDecodeError("Extra data", text, position)
    except json.JSONDecodeError as exc:
        raise DataError(f"{source}, line {exc.lineno}: malformed JSON ({exc.msg})") from None
    except RecursionError:
        raise DataError(f"{source}: {_TOO_DEEP}") from None


class _NonStandardConstant(ValueError):
    """NaN or Infinity in a JSON file (or a number Python reads as infinity, or cannot read): Python's decoder
    takes the first, but they are not JSON, and as a label or a feature they would poison training."""


def _refuse_constant(name: str) -> float:
    raise _NonStandardConstant(f"{name} is not a JSON value (write a finite number, or the text in quotes)")


def _finite_float(text: str) -> float:
    # 1e400 is JSON, but Python reads it as infinity: as poisonous as Infinity itself.
    value = float(text)
    if not math.isfinite(value):
        raise _NonStandardConstant(f"{_cut(text)} is too large for a number (write a finite one, or the text in quotes)")
    return value


def _integer(text: str) -> int:
    # Python reads at most sys.get_int_max_str_digits() digits (4300) and raises a ValueError past them.
    try:
        return int(text)
    except ValueError:
        raise _NonStandardConstant(f"a number of {len(text.lstrip('-'))} digits is too long to read "
                                   f"(write the text in quotes)") from None


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


_JSON_NUMBERS = {"parse_constant": _refuse_constant, "parse_float": _finite_float, "parse_int": _integer}

_TOO_DEEP = "the JSON is nested too deeply to read"
_LONE_SURROGATE = "a string holds a lone surrogate (an escape \\ud800-\\udfff without its pair), which is not text"
# The file was decoded as UTF-8, so a lone surrogate in parsed JSON can only come from a \u escape.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _has_lone_surrogate(row: dict[str, Any]) -> bool:
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
