"""Loading a task's splits from its Hugging Face Hub dataset, and whether that dataset can be had here."""

from __future__ import annotations

from typing import Any

import datasets
import huggingface_hub.constants
from datasets import ClassLabel, Dataset

from addrop.data.errors import DataError
from addrop.data.rows import RawSplit
from addrop.tasks import TaskSpec

# Hub datasets with several dev sets (MNLI) name the in-domain one "validation_matched".
HUB_VALIDATION_SPLITS = ("validation", "validation_matched", "dev")


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


def load_hub(task: TaskSpec) -> dict[str, RawSplit]:
    """The train and (in-domain) validation splits of ``task``'s Hub dataset, labels given by class name."""
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


def _hub_split(split: Dataset, source: str) -> RawSplit:
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
    return RawSplit(source, rows)


def _class_name(feature: ClassLabel, value: Any) -> Any:
    return feature.int2str(value) if isinstance(value, int) and 0 <= value < feature.num_classes else value
