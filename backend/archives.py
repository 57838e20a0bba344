"""Zip archives of checkpoint directories, built once and kept beside them for every later download."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import zipfile
from pathlib import Path

from jobstore.outputs import archive_path

_building: dict[Path, threading.Lock] = {}
_building_lock = threading.Lock()


def directory_archive(directory: Path) -> Path:
    """The zip of ``directory`` (its files, relative to it), built on first use and again only when the
    directory changed since: the zip's comment records the names, sizes and times of the files it was built
    from. Concurrent callers wait for one build; a reader of an older zip keeps reading it while a new one
    replaces it."""
    archive = archive_path(directory)
    with _building_lock:
        lock = _building.setdefault(archive, threading.Lock())
    with lock:
        signature = _signature(directory)
        if _comment(archive) == signature:
            return archive
        handle, partial = tempfile.mkstemp(prefix=f".{archive.name}.", suffix=".part", dir=archive.parent)
        os.close(handle)
        try:
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as out:
                # taken before the files are read: one rewritten meanwhile makes the next call build again
                out.comment = signature
                for path in sorted(directory.rglob("*")):
                    if path.is_file():
                        out.write(path, path.relative_to(directory).as_posix())
            os.replace(partial, archive)  # atomic: a download sees the old zip or the new one, whole
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    return archive


def _signature(directory: Path) -> bytes:
    files = sorted((path.relative_to(directory).as_posix(), stat.st_size, stat.st_mtime_ns)
                   for path in directory.rglob("*") if path.is_file() and (stat := path.stat()))
    return hashlib.sha256(repr(files).encode()).hexdigest().encode()


def _comment(archive: Path) -> bytes | None:
    try:
        with zipfile.ZipFile(archive) as existing:
            return existing.comment
    except (FileNotFoundError, zipfile.BadZipFile):
        return None
