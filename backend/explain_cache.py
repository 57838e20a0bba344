"""The explorer's cache of pass-1 attributions, bounded by the memory its entries take.

An entry's maps grow with layers x heads x length squared: one 512-token input held 144 MiB on MiniLM (6 layers x
12 heads) and 288 MiB on a 12 x 12 model, so a bound on the number of entries bounded nothing (32 MiniLM entries
of 512 tokens are 4.6 GiB; ``benchmarks/explain_cache_memory.py``).
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from addrop.explain import LayerMaps

ENTRY_OVERHEAD = 12 * 1024
"""Bytes an entry takes besides its maps and its key's texts (tensor and list objects, tokens, the key): 11.4 KB
measured per entry of a 6-token input (26.1 KB of resident memory each, 14.7 KB of them maps), rounded up, so
that a budget filled with short inputs holds about what it says."""

Maps = TypeVar("Maps", bound=LayerMaps)


def entry_bytes(key: tuple[Hashable, ...], maps: LayerMaps) -> int:
    """The memory one entry takes: its maps, its key's texts and :data:`ENTRY_OVERHEAD`."""
    texts = sum(sys.getsizeof(part) for part in key if isinstance(part, str))
    return maps.nbytes + texts + ENTRY_OVERHEAD


class AttributionCache(Generic[Maps]):
    """Attributions by key, at most ``max_bytes`` of them (:func:`entry_bytes`), least recently used leaving first;
    safe to use from many threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[Hashable, ...], tuple[Maps, int]] = OrderedDict()  # least recent first
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[Hashable, ...]) -> Maps | None:
        """The maps kept under ``key`` (now the most recently used), or None."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: tuple[Hashable, ...], maps: Maps) -> None:
        """Keep ``maps`` under ``key`` in place of what it held, evicting the least recently used entries until it
        fits. Maps larger than the whole budget are not kept, and the cache stays as it was (what ``key`` held
        still answers its layers)."""
        size = entry_bytes(key, maps)
        if size > self.max_bytes:
            return
        with self._lock:
            self._drop(key)
            while self._bytes + size > self.max_bytes:
                self._drop(next(iter(self._entries)))
            self._entries[key] = (maps, size)
            self._bytes += size

    def usage(self) -> tuple[int, int]:
        """(bytes, entries) held now."""
        with self._lock:
            return self._bytes, len(self._entries)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _drop(self, key: tuple[Hashable, ...]) -> None:
        # the caller holds the lock
        found = self._entries.pop(key, None)
        if found is not None:
            self._bytes -= found[1]
