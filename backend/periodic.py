"""The app's background loops: a blocking round of work, run in a worker thread every few seconds for as long as
the app runs."""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from anyio import to_thread

log = logging.getLogger(__name__)


async def every(interval: float, work: Callable[[], object], failure: str) -> None:
    """Run ``work`` every ``interval`` seconds; an exception is logged as ``failure`` and the loop goes on (a
    database hiccup must not end it)."""
    while True:
        try:
            await to_thread.run_sync(work)
        except Exception:
            log.exception("%s", failure)
        await asyncio.sleep(interval)
