"""What answers show of server paths: a job's data directory and local model relative to the data directory (the
form a request may give a data directory in), or nothing outside it. The stored request and the run's
configuration keep the real paths; only what clients see changes."""

from __future__ import annotations

import os
from pathlib import Path

# How a model that is a path starts (absolute, relative to the home or current directory); a hub id never does.
LOCAL_PREFIXES = ("/", ".", "~", "\\")


def shown_path(value: str, data_dir: Path) -> str | None:
    """How answers show a server path: relative to the data directory (the form a request may give it in),
    or None outside it. Computed from the text alone: no look at the disk."""
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # "~name" for a user this machine does not have
        return None
    base = data_dir.resolve()
    try:
        return Path(os.path.normpath(base / path)).relative_to(base).as_posix()
    except ValueError:
        return None


def shown_model(model: str, data_dir: Path) -> str | None:
    """A job's model as answers show it: a hub id or alias as given, a local directory as :func:`shown_path`
    (one relative to the server's current directory is not under the data directory: None)."""
    if not model.startswith(LOCAL_PREFIXES):
        return model
    return shown_path(model, data_dir) if model.startswith(("/", "~")) else None


def shown_spec(spec: dict, data_dir: Path) -> dict:
    """A stored job request as answers show it: its data directory and a local model's path relative to the
    data directory, or null outside it. The stored request and the run's configuration keep the paths."""
    shown = {**spec, "model": shown_model(spec.get("model") or "", data_dir)}
    data = spec.get("data") or {}
    if data.get("data_dir"):
        shown["data"] = {**data, "data_dir": shown_path(data["data_dir"], data_dir)}
    return shown


def without_paths(message: str, files: dict[str, str], data_dir: Path) -> str:
    """``message`` (a data error, which names the files it read) with each of the job's data paths shown as
    :func:`shown_path` shows it, or as "the data directory" outside the data directory."""
    for path in sorted(files.values(), key=len, reverse=True):
        message = message.replace(path, shown_path(path, data_dir) or "the data directory")
    return message
