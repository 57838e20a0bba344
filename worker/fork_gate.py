"""Keeps the worker's parent from forking a pool process while one of its threads is inside SQLite.

With the embedded default's SQLite broker, Celery's prefork pool forks from billiard's supervisor thread
while the main thread polls the broker. A fork taken at the moment that thread holds one of SQLite's
process-wide mutexes (its allocator's, seen in ``sqlite3Malloc``) hands the child a lock nobody will ever
release: the child's first SQLite call blocks for good. Every SQLite use in the parent therefore runs
under one lock, and a fork waits for it (``os.register_at_fork``); a fork then always copies a process
with no thread inside SQLite.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from celery import Celery

from jobstore.broker import EmbeddedChannel, EmbeddedTransport

# Held by every block of SQLite work in the parent that no fork may interrupt.
GATE = threading.Lock()
_installed = False


def install() -> None:
    """Make every fork of this process wait until no thread holds the gate (once per process)."""
    global _installed
    if _installed:
        return
    # The child is a copy taken while the forking thread held the gate: it releases its copy.
    os.register_at_fork(before=GATE.acquire, after_in_parent=GATE.release, after_in_child=GATE.release)
    _installed = True


class GatedChannel(EmbeddedChannel):
    """The embedded broker's channel with each of its database operations under the gate."""

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        with GATE:
            super()._new_queue(queue, **kwargs)

    def _put(self, queue: str, payload: dict, **kwargs: Any) -> None:
        with GATE:
            super()._put(queue, payload, **kwargs)

    def _get(self, queue: str) -> dict:
        with GATE:
            return super()._get(queue)

    def _purge(self, queue: str) -> int:
        with GATE:
            return super()._purge(queue)

    def _size(self, queue: str) -> int:
        with GATE:
            return super()._size(queue)


class GatedTransport(EmbeddedTransport):
    """The embedded broker's transport on :class:`GatedChannel`."""

    Channel = GatedChannel


def gate_embedded_broker(app: Celery) -> None:
    """Carry ``app``'s messages through :class:`GatedTransport` when its broker is the embedded SQLite one
    (``make_celery`` chose :class:`EmbeddedTransport` for it); any other broker is left alone."""
    if app.conf.broker_transport is EmbeddedTransport:
        app.conf.broker_transport = GatedTransport
