"""Which process table a process lives in: the same boot of the same kernel and the same PID namespace. A
worker records it beside its pids, so that the API knows when it may look those pids up in its own table (a
worker in another container or on another machine shares neither, whatever its host name)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path


@cache
def process_table() -> str | None:
    """This process's table as ``<boot id>/<PID namespace inode>``; None where the system does not say (not Linux)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return f"{boot}/{namespace}"
