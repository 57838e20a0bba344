"""Server-Sent Events of one job: its status whenever it changes, its metric points and log lines as they
land in the database, resumable from the last event id.

An event id is the cursor ``"<last metric point id>:<last log line id>"``; a client that reconnects with
``Last-Event-ID`` gets exactly the points and lines it has not seen. One poller per process reads the database
(the source of truth, whichever process wrote to it) for all open streams, so it works the same on SQLite and
PostgreSQL and costs the database the same however many pages are open.

A stream holds a connection for as long as its page is open (a queued job's, for good), so the streams a process
holds are bounded (:class:`StreamSlots`): per client address, so one client cannot take them all, and in all, so that
connections and open files remain for everything else and the feed's one query stays within what SQLite reads (it
failed every round at 1000 watched jobs).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import AsyncIterator

from anyio import to_thread
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse
from starlette.types import Receive, Scope, Send

from backend.jobs import JobChanges, JobService, JobWatch
from backend.schemas.common import MAX_ROW_ID
from jobstore.orm import FINISHED, LogLine, MetricPoint

log = logging.getLogger(__name__)


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


STREAM_RETRY_SECONDS = 30


class StreamSlots:
    """How many live streams this process holds open: at most ``total``, and ``per_client`` for one client
    address. Only the event loop's thread takes and gives slots, so the counters need no lock."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.taken = 0
        self._held: Counter[str] = Counter()

    def take(self, address: str) -> JSONResponse | None:
        """Take a slot for a stream to ``address``; when none is free, the answer to send instead (429 when the
        address holds its share, 503 when the server holds all it may), with Retry-After."""
        if self._held[address] >= self.per_client:
            return _busy(429, f"this client holds {self.per_client} live streams of this server already; close a job "
                              f"page or try again in {STREAM_RETRY_SECONDS} s")
        if self.taken >= self.total:
            return _busy(503, f"this server holds {self.total} live streams already; try again in "
                              f"{STREAM_RETRY_SECONDS} s")
        self.taken += 1
        self._held[address] += 1
        return None

    def give(self, address: str) -> None:
        """Give a slot of ``address`` back (an address holding none is forgotten, so memory stays bounded)."""
        self.taken -= 1
        self._held[address] -= 1
        if not self._held[address]:
            del self._held[address]


def _busy(status: int, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail},
                        headers={"Retry-After": str(STREAM_RETRY_SECONDS)})


class LiveStream(EventSourceResponse):
    """An event stream that holds a slot of ``slots`` from its first byte to its end, however it ends (the client
    leaves, the job ends, the server stops), or answers the refusal when no slot is free. The slot is taken and
    given here, where the response runs, so no path between a route and its response can lose one."""

    def __init__(self, events: AsyncIterator[dict], slots: StreamSlots, address: str, ping: int) -> None:
        super().__init__(events, ping=ping)
        self.slots = slots
        self.address = address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self.slots.take(self.address)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slots.give(self.address)


class _Stream:
    """One open event stream: what the feed has handed it, and the round it has not taken yet."""

    def __init__(self, cursor: Cursor) -> None:
        self.fetched = Cursor(cursor.metric, cursor.log)
        self.revision = -1
        self.pending: JobChanges | None = None
        self.ready = asyncio.Event()

    def hand(self, changes: JobChanges) -> None:
        """Give the stream what of ``changes`` it has not seen; a round it has not taken yet is merged into, so
        a slow client holds at most one round, however many ticks pass."""
        points = [p for p in changes.points if p.id > self.fetched.metric]
        lines = [line for line in changes.lines if line.id > self.fetched.log]
        out = changes.out if changes.revision != self.revision else None
        if not points and not lines and out is None and changes.state not in FINISHED:
            return
        if points:
            self.fetched.metric = points[-1].id
        if lines:
            self.fetched.log = lines[-1].id
        if out is not None:
            self.revision = changes.revision
        if self.pending is not None:
            points = self.pending.points + points
            lines = self.pending.lines + lines
            out = out or self.pending.out
        self.pending = JobChanges(changes.state, changes.revision, out, points, lines)
        self.ready.set()


class JobFeed:
    """Feeds every open event stream of this process from one database poller.

    Each round reads, for every job someone watches, the job and its points and lines after the furthest-behind
    stream's cursor, all in one transaction, and hands each stream what it has not seen: N open pages of a job
    cost one read per round, not N. The poller runs only while a stream is open.
    """

    def __init__(self, service: JobService, poll_seconds: float, slots: StreamSlots) -> None:
        self.service = service
        self.poll_seconds = poll_seconds
        self.slots = slots
        self._streams: dict[int, set[_Stream]] = {}
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    def stream(self, job_id: int, cursor: Cursor, address: str, ping: int = 15) -> LiveStream:
        """The response that streams :meth:`events` to ``address`` while a slot is free (``ping``: seconds between
        keep-alive comments)."""
        return LiveStream(self.events(job_id, cursor), self.slots, address, ping)

    async def events(self, job_id: int, cursor: Cursor) -> AsyncIterator[dict]:
        """Events for ``job_id`` after ``cursor``: ``status`` (the job), ``metrics`` and ``log`` (lists, in
        order), and ``end`` once the job has finished and everything was sent."""
        stream = _Stream(cursor)
        self._streams.setdefault(job_id, set()).add(stream)
        if self._task is None or self._task.done():
            # made with the task, in the loop that serves the streams
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._poll(), name="job-events-feed")
        self._wake.set()  # a new stream gets its first round now, not after a poll interval
        try:
            while True:
                await stream.ready.wait()
                stream.ready.clear()
                changes, stream.pending = stream.pending, None
                if changes.points:
                    cursor.metric = changes.points[-1].id
                    yield {"event": "metrics", "id": str(cursor), "data": json.dumps([point_json(p) for p in changes.points])}
                if changes.lines:
                    cursor.log = changes.lines[-1].id
                    yield {"event": "log", "id": str(cursor), "data": json.dumps([log_json(line) for line in changes.lines])}
                if changes.out is not None:
                    yield {"event": "status", "id": str(cursor), "data": changes.out.model_dump_json()}
                if changes.state in FINISHED and not changes.points and not changes.lines:
                    yield {"event": "end", "id": str(cursor), "data": json.dumps({"state": changes.state})}
                    return
        finally:
            watchers = self._streams.get(job_id, set())
            watchers.discard(stream)
            if not watchers:
                self._streams.pop(job_id, None)

    async def _poll(self) -> None:
        assert self._wake is not None
        while self._streams:
            self._wake.clear()
            # Streams that open during the read wait for the next round: what was read may start past their cursor.
            streams = {job_id: list(watchers) for job_id, watchers in self._streams.items()}
            watched = {job_id: JobWatch(min(s.fetched.metric for s in watchers), min(s.fetched.log for s in watchers),
                                        frozenset(s.revision for s in watchers))
                       for job_id, watchers in streams.items()}
            try:
                found = await to_thread.run_sync(self.service.changes_many, watched)
            except Exception as error:  # the database may be away for a moment: the streams stay open and wait
                log.warning("job events: could not read the database (%s); trying again", error)
                found = {}
            for job_id, changes in found.items():
                for stream in streams[job_id]:
                    stream.hand(changes)
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except asyncio.TimeoutError:
                pass
