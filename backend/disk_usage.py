"""The data directory's size for the health answer: a walk of its tree, cached, so that health stays fast and
its probes do not walk the disk on every call."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

CACHE_SECONDS = 30.0


def tree_bytes(root: Path) -> int:
    """Bytes ``root`` and everything under it take on disk: allocated blocks, of directories too, as ``du``
    counts them (0 for a root that does not exist). What vanishes during the walk is skipped."""
    try:
        total = root.stat().st_blocks * 512
    except OSError:
        return 0
    stack = [str(root)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:  # removed, or not readable, while the walk went on
            continue
        with entries:
            for entry in entries:
                try:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                except OSError:
                    continue
    return total


class DiskUsage:
    """``tree_bytes`` of one directory, measured at most every ``cache_seconds``; while one caller measures,
    the others get the previous figure instead of waiting."""

    def __init__(self, root: Path, cache_seconds: float = CACHE_SECONDS) -> None:
        self.root = root
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._value: int | None = None
        self._at = float("-inf")

    def bytes(self) -> int | None:
        """The directory's size in bytes (None only while the first measurement runs in another thread)."""
        if time.monotonic() - self._at < self.cache_seconds or not self._lock.acquire(blocking=self._value is None):
            return self._value
        try:
            if time.monotonic() - self._at >= self.cache_seconds:  # another caller may have just measured
                self._value = tree_bytes(self.root)
                self._at = time.monotonic()
            return self._value
        finally:
            self._lock.release()

    def free_bytes(self) -> int:
        """Space left on the directory's file system (that of its nearest existing parent, before it exists)."""
        path = self.root
        while not path.exists() and path != path.parent:
            path = path.parent
        return shutil.disk_usage(path).free
