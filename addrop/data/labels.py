"""Labels as the task's classes: class ids from names or numbers, regression scores, tags and targets."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from addrop.data.errors import DataError
from addrop.tasks import TaskSpec

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


def label_converter(task: TaskSpec) -> Callable[[Any, dict], Any]:
    """A function of a row's label (and the row) giving the label as ``task`` trains on it; raises DataError."""
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
