"""What open job pages cost: a small real job's run time and the health check's latency with no event stream
open, and with ``--clients`` (200) streams of that job open, side by side in one run.

Starts the server with its embedded worker (``serving.py``) on a fresh data directory; each round submits the
same job (a tiny random 3-layer BERT, 1 epoch on the first rows of the shared SST-2), measures from the job's
start to its end while /api/health is asked every 0.2 s, first with no stream, then with the streams open.

    python benchmarks/sse_load.py [--clients 200] [--rounds 1] [--out benchmarks/results/sse_load_cpu.txt]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
from serving import ROOT, served

sys.path.insert(0, str(ROOT))

from tests.jobs_stack import job_request, make_sst2_slice, sse_events  # noqa: E402
from tests.tiny_models import save_tiny_model  # noqa: E402


def stream(base: str, job_id: int, opened: threading.Semaphore, stop: threading.Event) -> None:
    """One job page's event stream, read until the job ends."""
    try:
        with httpx.Client(timeout=120) as client, client.stream("GET", f"{base}/api/jobs/{job_id}/events") as response:
            opened.release()
            for event, _, _ in sse_events(response):
                if event == "end" or stop.is_set():
                    return
    except httpx.HTTPError:
        opened.release()


def one_job(base: str, body: dict, clients: int) -> dict:
    """Run the job with ``clients`` streams open; its run time and the health latencies meanwhile."""
    job_id = httpx.post(f"{base}/api/jobs", json=body, timeout=60).json()["id"]
    opened, stop = threading.Semaphore(0), threading.Event()
    threads = [threading.Thread(target=stream, args=(base, job_id, opened, stop), daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for _ in threads:
        opened.acquire(timeout=120)
    latencies = []
    with httpx.Client(base_url=base, timeout=60) as client:
        while True:
            started = time.perf_counter()
            client.get("/api/health")
            latencies.append(time.perf_counter() - started)
            job = client.get(f"/api/jobs/{job_id}").json()
            if job["state"] not in ("queued", "running"):
                break
            time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(30)
    run = (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])).total_seconds()
    return {"state": job["state"], "run_s": run, "health_p50_ms": 1000 * statistics.median(latencies),
            "health_p90_ms": 1000 * statistics.quantiles(latencies, n=10)[-1], "health_n": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        model = save_tiny_model(Path(scratch) / "tiny")
        data = make_sst2_slice(args.data, Path(scratch) / "sst2", train=400, validation=100)
        body = job_request(model, data, epochs=1)
        with served(worker=True, timeout=600) as (base, _):
            one_job(base, body, 0)  # warm-up: the first pool process and the model files
            rows = {0: [], args.clients: []}
            for _ in range(args.rounds):
                for clients in rows:
                    rows[clients].append(one_job(base, body, clients))
    lines = [f"open job pages against a small job: {os.cpu_count()} cores, 15-min load {os.getloadavg()[2]:.2f}; "
             f"{args.rounds} round(s), each job with no stream and with {args.clients} streams open"]
    for clients, runs in rows.items():
        for run in runs:
            lines.append(f"{clients:>4} streams: job {run['state']} in {run['run_s']:.1f} s; health p50 "
                         f"{run['health_p50_ms']:.0f} ms, p90 {run['health_p90_ms']:.0f} ms ({run['health_n']} checks)")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
