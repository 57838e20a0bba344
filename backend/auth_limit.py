"""Failed API-token attempts per client address, so that nobody on the network can try tokens as fast as the
server answers: past ``allowed`` failures within ``window`` seconds, an address is locked out until its oldest
failure leaves the window (a moving window)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

from cachetools import TTLCache


class FailedAttempts:
    """The recent token failures of each client address, in this process's memory: the API runs as one process
    (uvicorn without ``--workers``), so one table sees every attempt; a restart forgets them.

    At most ``addresses`` addresses are kept, each with at most ``allowed`` times, so memory stays bounded
    however many addresses try: past that, of the addresses kept, the one that sent a token least recently is
    forgotten first, and an address leaves the table on its own once its last failure has left the window."""

    def __init__(self, allowed: int, window: float, addresses: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._allowed = allowed
        self._window = window
        self._clock = clock
        self._failures: TTLCache[str, deque[float]] = TTLCache(addresses, window, timer=clock)
        # Sync routes run on a thread pool: a check and the failure it records must not interleave with another
        # request's, or a burst of parallel guesses would all pass the check before any of them counted.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many addresses are remembered (expired ones may still be, until the next failure)."""
        with self._lock:
            return len(self._failures)

    def _wait(self, address: str) -> float | None:
        times = self._failures.get(address)
        if times is None or len(times) < self._allowed:
            return None
        wait = times[0] + self._window - self._clock()
        return wait if wait > 0 else None

    def locked_for(self, address: str) -> float | None:
        """Seconds until ``address`` may send a token again, or None when it may now."""
        with self._lock:
            return self._wait(address)

    def attempt(self, address: str, right: bool) -> float | None:
        """One token from ``address``, ``right`` or not: None when it is let through (a wrong one then counts),
        else the seconds the address is still locked out (the token is refused whatever it is, and not counted)."""
        with self._lock:
            wait = self._wait(address)
            if wait is None and not right:
                times = self._failures.get(address) or deque(maxlen=self._allowed)
                times.append(self._clock())
                self._failures[address] = times  # stored again, so that it expires a window after this failure
            return wait
