"""The validated train and validation splits of a task, from files, a data directory or the Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from addrop.data.errors import DataError
from addrop.data.files import find_split_files, read_file
from addrop.data.hub import load_hub
from addrop.data.labels import label_converter
from addrop.data.rows import RawSplit, languages
from addrop.tasks import TaskSpec


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
        raw = load_hub(task)
    else:
        if data_dir is not None and (train_file is None or validation_file is None):
            found_train, found_validation = find_split_files(Path(data_dir), task.name)
            train_file = train_file or found_train
            validation_file = validation_file or found_validation
        if train_file is None or validation_file is None:
            raise DataError("both a train file and a validation file are needed (or a --data-dir holding both)")
        raw = {"train": read_file(Path(train_file)), "validation": read_file(Path(validation_file))}
    limits = {"train": max_train_samples, "validation": max_eval_samples}
    return DatasetDict({name: _subsample(_to_dataset(task, split), limits[name], seed) for name, split in raw.items()})


def _to_dataset(task: TaskSpec, split: RawSplit) -> Dataset:
    if not split.rows:
        raise DataError(f"{split.source} has no examples")
    if task.kind == "translation":  # the Hub's wmt16 layout nests both languages under "translation"
        split = RawSplit(split.source, [languages(row) for row in split.rows], split.lines)
    needed = (*task.text_fields, task.label_field)
    for i, row in enumerate(split.rows):
        missing = [c for c in needed if c not in row]
        if missing:
            raise DataError(
                f"{split.where(i)}: missing column {', '.join(map(repr, missing))} needed by task {task.name!r}; "
                f"columns present: {', '.join(row)}"
            )
    convert_label = label_converter(task)
    columns: dict[str, list] = {c: [] for c in needed}
    for i, row in enumerate(split.rows):
        try:
            for field in task.text_fields:
                columns[field].append(_check_text(task, field, row[field]))
            columns[task.label_field].append(convert_label(row[task.label_field], row))
        except DataError as exc:
            raise DataError(f"{split.where(i)}: {exc}") from None
    return Dataset.from_dict(columns, features=_features(task))


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


def _subsample(dataset: Dataset, limit: int | None, seed: int) -> Dataset:
    if limit is not None and limit < 1:
        raise DataError(f"a sample limit must be at least 1, got {limit}")
    if limit is None or limit >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(limit))
