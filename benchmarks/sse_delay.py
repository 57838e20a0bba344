"""Delay from a metric point committed by a worker to its arrival in an SSE client.

Starts the API (``python -m backend --no-worker``, see ``serving.py``) on a fresh data directory, creates a job row, then
plays the worker: commits metric points through the worker's own recorder at a steady rate while a client
reads ``GET /api/jobs/{id}/events``. Each point carries its commit time; the client subtracts it on arrival.
Prints the distribution for the embedded default (SQLite) or, with ``--database-url``, another database.

    python benchmarks/sse_delay.py [--points 200] [--interval 0.05] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time

import httpx
from serving import ROOT, served

sys.path.insert(0, str(ROOT))

from addrop.callbacks import MetricEvent  # noqa: E402
from jobstore.database import Database  # noqa: E402
from jobstore.orm import Job  # noqa: E402
from jobstore.transitions import JobRecorder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between points")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--poll", default="0.25", help="ADDROP_EVENTS_POLL_SECONDS for the server")
    args = parser.parse_args()

    env = {"ADDROP_EVENTS_POLL_SECONDS": args.poll} | ({"DATABASE_URL": args.database_url} if args.database_url else {})
    with served(env) as (base, data):
        measure(args.database_url or f"sqlite:///{data / 'studio.db'}", base, args)


def measure(url: str, base: str, args: argparse.Namespace) -> None:
    """Play the worker against the server at ``base`` (database ``url``) and print the delay distribution."""
    db = Database(url)
    with db.session() as session:
        job = Job(name="sse delay", state="running", spec={}, config={"epochs": 1}, task="sst2", model="-",
                  metric_name="accuracy", worker="bench:0")
        session.add(job)
        session.flush()
        job_id = job.id
    recorder = JobRecorder(db, job_id, "bench:0")
    delays: list[float] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{base}/api/jobs/{job_id}/events", timeout=60) as response:
            for line in response.iter_lines():
                if line.startswith("event: status"):
                    ready.set()
                if line.startswith("data: [") and '"kind"' in line:
                    now = time.time()
                    delays.extend(now - point["values"]["sent"] for point in json.loads(line[6:]))
                    if len(delays) >= args.points:
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(30)
    for step in range(args.points):
        # the commit time is taken just before the transaction, so the figure includes the write itself
        recorder.point(MetricEvent("step", step, 0.0, {"loss": 0.5, "sent": time.time()}, args.points), "accuracy")
        time.sleep(args.interval)
    listener.join(30)
    delays_ms = sorted(d * 1000 for d in delays)
    q = lambda f: delays_ms[min(len(delays_ms) - 1, int(f * len(delays_ms)))]  # noqa: E731
    backend = url.split(":", 1)[0]
    print(f"{backend}, poll {args.poll} s: {len(delays_ms)} points, one every {args.interval * 1000:.0f} ms")
    print(f"delay worker commit -> SSE client: median {statistics.median(delays_ms):.0f} ms, "
          f"p90 {q(0.9):.0f} ms, p99 {q(0.99):.0f} ms, max {delays_ms[-1]:.0f} ms")
    db.dispose()


if __name__ == "__main__":
    main()
