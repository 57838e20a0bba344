"""Server-Sent Events of one job: its status whenever it changes, its metric points and log lines as they
land in the database, resumable from the last event id.

An event id is the cursor ``"<last metric point id>:<last log line id>"``; a client that reconnects with
``Last-Event-ID`` gets exactly the points and lines it has not seen. The stream polls the database (the
source of truth, whichever process wrote to it), so it works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import AsyncIterator

from anyio import to_thread

from backend.jobs import JobService
from backend.orm import FINISHED, LogLine, MetricPoint
from backend.schemas.common import MAX_ROW_ID


@dataclass
class Cursor:
    """The last metric point and log line a client has received."""

    metric: int = 0
    log: int = 0

    @classmethod
    def parse(cls, value: str | None) -> Cursor:
        """Read a ``Last-Event-ID``; anything unreadable starts from the beginning. An id past the database's
        64-bit range was never sent (the queries could not even compare it): :class:`ValueError`."""
        try:
            metric, log = (int(part) for part in (value or "").split(":"))
        except ValueError:
            return cls()
        if max(metric, log) > MAX_ROW_ID:
            raise ValueError(f"{value!r} is no event id: its ids are at most {MAX_ROW_ID}")
        return cls(max(metric, 0), max(log, 0))

    def __str__(self) -> str:
        return f"{self.metric}:{self.log}"


def point_json(point: MetricPoint) -> dict:
    """A metric point as the API shows it."""
    return {"id": point.id, "kind": point.kind, "step": point.step, "epoch": point.epoch, "values": point.values,
            "time": point.created_at.isoformat()}


def log_json(line: LogLine) -> dict:
    """A log line as the API shows it."""
    return {"id": line.id, "time": line.created_at.isoformat(), "level": line.level, "message": line.message}


async def job_events(service: JobService, job_id: int, cursor: Cursor, poll_seconds: float) -> AsyncIterator[dict]:
    """Events for ``job_id`` after ``cursor``: ``status`` (the job), ``metrics`` and ``log`` (lists, in
    order), and ``end`` once the job has finished and everything was sent."""
    revision = -1
    while True:
        state, out, points, lines = await to_thread.run_sync(service.changes, job_id, cursor.metric, cursor.log, revision)
        if points:
            cursor.metric = points[-1].id
            yield {"event": "metrics", "id": str(cursor), "data": json.dumps([point_json(p) for p in points])}
        if lines:
            cursor.log = lines[-1].id
            yield {"event": "log", "id": str(cursor), "data": json.dumps([log_json(line) for line in lines])}
        if out is not None:
            revision = out.revision
            yield {"event": "status", "id": str(cursor), "data": out.model_dump_json()}
        if state in FINISHED and not points and not lines:
            yield {"event": "end", "id": str(cursor), "data": json.dumps({"state": state})}
            return
        await asyncio.sleep(poll_seconds)
