"""Loading train/validation splits from files or the Hub, validating them, and tokenising."""

from __future__ import annotations

import codecs
import csv
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import huggingface_hub.constants
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from transformers import (
    DataCollatorForSeq2Seq,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    PreTrainedTokenizerBase,
)

from addrop.tasks import TaskSpec

EXTENSIONS = (".jsonl", ".json", ".csv", ".tsv")
VALIDATION_NAMES = ("validation", "dev")
# Hub datasets with several dev sets (MNLI) name the in-domain one "validation_matched".
HUB_VALIDATION_SPLITS = ("validation", "validation_matched", "dev")
IGNORE_INDEX = -100


class DataError(ValueError):
    """The data cannot be used for the task; the message says what is wrong and where."""


class NoDataFiles(DataError):
    """A data directory holds no train file (or is not there): a server answers both alike."""


@dataclass
class _RawSplit:
    """Rows of one split as Python objects, with where each row came from for error messages."""

    source: str
    rows: list[dict[str, Any]]
    lines: list[int] | None = None  # 1-based source line of each row, when the format has lines

    def where(self, i: int) -> str:
        return f"{self.source}, line {self.lines[i]}" if self.lines is not None else f"{self.source}, row {i}"


def load_splits(
    task: TaskSpec,
    *,
    data_dir: str | Path | None = None,
    train_file: str | Path | None = None,
    validation_file: str | Path | None = None,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
    seed: int = 0,
) -> DatasetDict:
    """Load, validate and optionally subsample the "train" and "validation" splits of ``task``.

    Sources, in order: explicit files (they override what ``data_dir`` holds); ``data_dir`` with
    ``train.<ext>`` and ``validation.<ext>``/``dev.<ext>`` (also looked up in ``data_dir/<task>`` and
    ``data_dir/glue/<task>``); else the task's Hub dataset by name. Labels are returned as ints
    (class ids), floats (regression) or lists of tag ids; text columns are kept byte for byte.
    """
    if data_dir is None and train_file is None and validation_file is None:
        raw = _load_hub(task)
    else:
        if data_dir is not None and (train_file is None or validation_file is None):
            found_train, found_validation = _find_split_files(Path(data_dir), task.name)
            train_file = train_file or found_train
            validation_file = validation_file or found_validation
        if train_file is None or validation_file is None:
            raise DataError("both a train file and a validation file are needed (or a --data-dir holding both)")
        raw = {"train": _read_file(Path(train_file)), "validation": _read_file(Path(validation_file))}
    limits = {"train": max_train_samples, "validation": max_eval_samples}
    return DatasetDict({name: _subsample(_to_dataset(task, split), limits[name], seed) for name, split in raw.items()})


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
    for _, row in _file_rows(path, max_columns):
        row = _languages(row)  # a translation in the Hub's wmt16 layout lists its languages as columns
        rows += 1
        if len(first) < preview:
            first.append(row)
        for column in row:
            if column not in distinct:
                if max_columns is not None and len(distinct) >= max_columns:
                    raise DataError(_too_many_columns(str(path), max_columns))
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


def _too_many_columns(source: str, limit: int, count: int | None = None) -> str:
    found = f"{count} columns" if count is not None else f"more than {limit} columns"
    return f"{source} has {found}; a data file may have at most {limit}"


def tokenize_splits(
    splits: DatasetDict, tokenizer: PreTrainedTokenizerBase, task: TaskSpec, max_length: int = 128
) -> DatasetDict:
    """Tokenise without padding (the collator pads per batch); keep only model inputs and ``labels``.

    For token classification the tag goes to the first sub-token of each word; other sub-tokens and
    special tokens get -100. A translation's ``labels`` are its target's token ids (``max_length`` caps both sides).
    """

    def encode(batch: dict[str, list]) -> dict[str, list]:
        if task.kind == "token_classification":
            return _encode_words(batch, tokenizer, task, max_length)
        if task.kind == "translation":
            (source,) = task.text_fields
            return tokenizer(batch[source], text_target=batch[task.label_field], truncation=True, max_length=max_length)
        encoded = tokenizer(*(batch[f] for f in task.text_fields), truncation=True, max_length=max_length)
        return {**encoded, "labels": batch[task.label_field]}

    tokenized = DatasetDict(
        {
            name: split.map(encode, batched=True, remove_columns=split.column_names, desc=f"Tokenising {name}")
            for name, split in splits.items()
        }
    )
    if task.kind == "regression":
        # map() stores Python floats as float64; keep targets in the model's dtype so the loss is not promoted.
        tokenized = tokenized.cast_column("labels", Value("float32"))
    return tokenized


def data_collator(
    task: TaskSpec, tokenizer: PreTrainedTokenizerBase
) -> DataCollatorWithPadding | DataCollatorForTokenClassification | DataCollatorForSeq2Seq:
    """Dynamic-padding collator for ``task`` (token labels and translation targets are padded with -100)."""
    if task.kind == "token_classification":
        return DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE_INDEX)
    if task.kind == "translation":
        return DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE_INDEX)
    return DataCollatorWithPadding(tokenizer)


def _encode_words(
    batch: dict[str, list], tokenizer: PreTrainedTokenizerBase, task: TaskSpec, max_length: int
) -> dict[str, list]:
    (field,) = task.text_fields
    encoded = tokenizer(batch[field], is_split_into_words=True, truncation=True, max_length=max_length)
    labels = []
    for i, tags in enumerate(batch[task.label_field]):
        aligned, previous = [], None
        for word in encoded.word_ids(i):
            aligned.append(tags[word] if word is not None and word != previous else IGNORE_INDEX)
            previous = word
        labels.append(aligned)
    return {**encoded, "labels": labels}


# --- sources ------------------------------------------------------------------------------------


def hub_dataset_available(task: TaskSpec) -> bool:
    """Whether ``task``'s Hugging Face dataset can be loaded here: online, assumed so (nothing is fetched to
    check); offline (``HF_HUB_OFFLINE``), only when the datasets cache already holds it."""
    if task.hf_dataset is None:
        return False
    if not huggingface_hub.constants.HF_HUB_OFFLINE:
        return True
    try:
        datasets.load_dataset_builder(*task.hf_dataset)
    except Exception:  # offline and not cached (ConnectionError), or a cache entry that cannot be read
        return False
    return True


def _load_hub(task: TaskSpec) -> dict[str, _RawSplit]:
    if task.hf_dataset is None:
        raise DataError(f"task {task.name!r} has no Hub dataset; give --data-dir or --train-file/--validation-file")
    name, config = task.hf_dataset
    label = f"{name} ({config})" if config else name
    try:
        loaded = datasets.load_dataset(name, config)
    except Exception as exc:  # offline, unknown name, network or Hub errors: all mean "use local files"
        raise DataError(
            f"could not load dataset {label} by name ({type(exc).__name__}: {exc}); "
            "give --data-dir or --train-file/--validation-file instead"
        ) from exc
    if "train" not in loaded:
        raise DataError(f"dataset {label} has no 'train' split; splits: {', '.join(loaded)}")
    validation = next((s for s in HUB_VALIDATION_SPLITS if s in loaded), None)
    if validation is None:
        raise DataError(f"dataset {label} has no validation split; splits: {', '.join(loaded)}")
    return {
        "train": _hub_split(loaded["train"], f"{label} train"),
        "validation": _hub_split(loaded[validation], f"{label} {validation}"),
    }


def _hub_split(split: Dataset, source: str) -> _RawSplit:
    rows = split.to_list()
    # Hub labels are ids into the dataset's own name list; turn them into names so they are matched
    # against the task's names instead of trusting that both orders agree. Negative ids (GLUE's
    # unlabelled -1) stay as they are and are rejected later.
    for column, feature in split.features.items():
        inner = getattr(feature, "feature", None)  # the element type of a sequence feature
        if isinstance(feature, ClassLabel):
            for row in rows:
                row[column] = _class_name(feature, row[column])
        elif isinstance(inner, ClassLabel):
            for row in rows:
                row[column] = [_class_name(inner, v) for v in row[column]]
    return _RawSplit(source, rows)


def _class_name(feature: ClassLabel, value: Any) -> Any:
    return feature.int2str(value) if isinstance(value, int) and 0 <= value < feature.num_classes else value


def _find_split_files(data_dir: Path, task_name: str) -> tuple[Path, Path]:
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


def _read_file(path: Path) -> _RawSplit:
    rows, lines = [], []
    for line, row in _file_rows(path):
        rows.append(row)
        lines.append(line)
    # a JSON array's rows are its items: they have no line of their own
    return _RawSplit(str(path), rows, None if None in lines else lines)


def _file_rows(path: Path, max_columns: int | None = None) -> Iterator[tuple[int | None, dict[str, Any]]]:
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
            raise DataError(_too_many_columns(source, max_columns, len(header)))
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


def _json_line_rows(lines: Iterable[str], source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, parse_constant=_refuse_constant)
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
    decoder = json.JSONDecoder(parse_constant=_refuse_constant)
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
    """NaN or Infinity in a JSON file: Python's decoder takes them, but they are not JSON, and as a label or a
    feature they would poison training."""


def _refuse_constant(name: str) -> float:
    raise _NonStandardConstant(f"{name} is not a JSON value (write a finite number, or the text in quotes)")


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


# --- validation -----------------------------------------------------------------------------------


def _to_dataset(task: TaskSpec, split: _RawSplit) -> Dataset:
    if not split.rows:
        raise DataError(f"{split.source} has no examples")
    if task.kind == "translation":  # the Hub's wmt16 layout nests both languages under "translation"
        split = _RawSplit(split.source, [_languages(row) for row in split.rows], split.lines)
    needed = (*task.text_fields, task.label_field)
    for i, row in enumerate(split.rows):
        missing = [c for c in needed if c not in row]
        if missing:
            raise DataError(
                f"{split.where(i)}: missing column {', '.join(map(repr, missing))} needed by task {task.name!r}; "
                f"columns present: {', '.join(row)}"
            )
    convert_label = _label_converter(task)
    columns: dict[str, list] = {c: [] for c in needed}
    for i, row in enumerate(split.rows):
        try:
            for field in task.text_fields:
                columns[field].append(_check_text(task, field, row[field]))
            columns[task.label_field].append(convert_label(row[task.label_field], row))
        except DataError as exc:
            raise DataError(f"{split.where(i)}: {exc}") from None
    return Dataset.from_dict(columns, features=_features(task))


def _languages(row: dict[str, Any]) -> dict[str, Any]:
    """A translation row with its languages as columns (``{"translation": {"en": ..}}`` -> ``{"en": ..}``)."""
    nested = row.get("translation")
    return {**nested, **{k: v for k, v in row.items() if k != "translation"}} if isinstance(nested, dict) else row


def _features(task: TaskSpec) -> Features:
    if task.kind == "token_classification":
        (field,) = task.text_fields
        return Features({field: [Value("string")], task.label_field: [ClassLabel(names=list(task.label_names))]})
    if task.kind == "translation":
        return Features({f: Value("string") for f in (*task.text_fields, task.label_field)})
    label = Value("float32") if task.kind == "regression" else ClassLabel(names=list(task.label_names))
    return Features({**{f: Value("string") for f in task.text_fields}, task.label_field: label})


def _check_text(task: TaskSpec, field: str, value: Any) -> str | list[str]:
    if task.kind == "token_classification":
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise DataError(f"{field!r} must be a list of token strings, got {value!r}")
    elif not isinstance(value, str):
        raise DataError(f"{field!r} must be a string, got {value!r}")
    return value


_INTEGER = re.compile(r"[+-]?[0-9]+")


def _integer(value: Any) -> int | None:
    """``value`` as an integer when it is one: an int, an integral float, or the text of an integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    return None


def class_names(values: Iterable[Any]) -> list[str]:
    """The distinct labels among ``values`` as class names in id order: numerically when all are integers
    (``"2"`` before ``"10"``; ``2``, ``2.0`` and ``"2"`` are one class), else in text order."""
    present = [value for value in values if value is not None]
    numbers = [_integer(value) for value in present]
    if numbers and None not in numbers:
        return [str(number) for number in sorted(set(numbers))]
    return sorted({str(value) for value in present})


def _label_converter(task: TaskSpec) -> Callable[[Any, dict], Any]:
    names = task.label_names
    allowed = f"an id 0..{len(names) - 1} or one of {', '.join(names)}"
    numbered = {_integer(name): index for index, name in enumerate(names)}
    # Classes named by integers (1..5 stars): a number is a class name, whether a CSV gives it as text
    # or JSON as a number, never an id, so that both files of the same data give the same classes.
    by_name = None not in numbered and len(numbered) == len(names)

    def class_id(value: Any) -> int:
        if isinstance(value, str) and value in names:
            return names.index(value)
        number = _integer(value)
        if by_name:
            if number not in numbered:
                raise DataError(f"label {value!r} is not one of {', '.join(names)}")
            return numbered[number]
        if number is None or not 0 <= number < len(names):
            raise DataError(f"label {value!r} is not {allowed}")
        return number

    def score(value: Any, row: dict) -> float:
        try:
            result = float(value)
        except (TypeError, ValueError):
            result = math.nan
        if isinstance(value, bool) or not math.isfinite(result):
            raise DataError(f"regression label {value!r} is not a finite number")
        return result

    def tags(value: Any, row: dict) -> list[int]:
        tokens = row[task.text_fields[0]]
        if not isinstance(value, list) or len(value) != len(tokens):
            raise DataError(
                f"{task.label_field!r} must be a list with one tag per token ({len(tokens)}), got {value!r}"
            )
        return [class_id(v) for v in value]

    def target(value: Any, row: dict) -> str:
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"the target {task.label_field!r} must be a non-empty string, got {value!r}")
        return value

    if task.kind == "regression":
        return score
    if task.kind == "token_classification":
        return tags
    if task.kind == "translation":
        return target
    return lambda value, row: class_id(value)


def _subsample(dataset: Dataset, limit: int | None, seed: int) -> Dataset:
    if limit is not None and limit < 1:
        raise DataError(f"a sample limit must be at least 1, got {limit}")
    if limit is None or limit >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(limit))
