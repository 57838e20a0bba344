"""What jobs leave on disk, and its removal: a job's output directory (``StoreSettings.job_dir``), the best
checkpoint in it with the zip of it that downloads are served from, kept beside it."""

from __future__ import annotations

import shutil
from pathlib import Path


def archive_path(directory: Path) -> Path:
    """Where the zip of ``directory`` is kept: beside it, so it is not part of what it archives."""
    return directory.with_name(directory.name + ".zip")


def remove_tree(path: Path) -> None:
    """Remove a directory and everything in it; one already gone is fine, any other error is raised (a delete
    that could not remove its files must not go on to forget them)."""
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass


def remove_checkpoint(directory: Path) -> None:
    """Remove a checkpoint directory and its download zip."""
    remove_tree(directory)
    archive_path(directory).unlink(missing_ok=True)


def remove_if_empty(directory: Path) -> bool:
    """Remove ``directory`` when nothing is in it (a job that failed before it wrote anything lasting); whether
    it is gone."""
    try:
        directory.rmdir()
    except FileNotFoundError:
        return True
    except OSError:  # not empty
        return False
    return True
