"""The API's loop that advances running sweeps."""

from __future__ import annotations

import asyncio
import logging

from anyio import to_thread

from backend.sweeps.rounds import SweepRounds

log = logging.getLogger("backend.sweeps")


async def advance_periodically(rounds: SweepRounds, interval: float) -> None:
    """Advance running sweeps every ``interval`` seconds for as long as the app runs."""
    while True:
        try:
            await to_thread.run_sync(rounds.advance_all)
        except Exception:  # a database hiccup must not end the loop
            log.exception("advancing sweeps failed")
        await asyncio.sleep(interval)
