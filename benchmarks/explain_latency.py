"""Server-side latency of ``POST /api/explain`` on the MiniLM default, warm, against a real uvicorn server.

Each request is a new 64-token input (so the attribution is computed, not reused), GA, all four maps.
The server-side time is the app's ``Server-Timing`` header (routing, validation, the forward and backward
pass, mask drawing and rendering the JSON body); the client time adds HTTP and the client's JSON parse.

    python benchmarks/explain_latency.py [--requests 50] [--clients 8]
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time

import httpx
import numpy as np
from serving import served

WORDS = (
    "the film is a gorgeous witty and seductive movie with a story that never quite finds its feet but the "
    "cast makes every scene worth watching from the first minute to the last one even when plot turns slow"
).split()


def sentence(rng: random.Random, tokens: int = 64) -> str:
    """A sentence of ``tokens - 2`` single-token words ([CLS] and [SEP] make up the rest)."""
    return " ".join(rng.choice(WORDS) for _ in range(tokens - 2))


def timed(client: httpx.Client, body: dict) -> tuple[float, float, int, int]:
    """(server ms, client ms, status, response bytes) of one request."""
    started = time.perf_counter()
    response = client.post("/api/explain", json=body)
    payload = response.json()
    client_ms = (time.perf_counter() - started) * 1000
    server_ms = float(response.headers["server-timing"].split("dur=")[1])
    if response.status_code == 200 and body.get("layers") is None:
        assert len(payload["tokens"]) == 64, len(payload["tokens"])
    return server_ms, client_ms, response.status_code, len(response.content)


def report(name: str, rows: list[tuple[float, float, int, int]], wall: float | None = None) -> None:
    server = np.array([r[0] for r in rows])
    client = np.array([r[1] for r in rows])
    errors = sum(r[2] != 200 for r in rows)
    line = (f"{name:<44} n={len(rows):>3}  server p50 {np.percentile(server, 50):6.1f} ms  p99 "
            f"{np.percentile(server, 99):6.1f} ms  | client p50 {np.percentile(client, 50):6.1f} ms  p99 "
            f"{np.percentile(client, 99):6.1f} ms  | {rows[0][3] / 1e6:5.2f} MB  errors {errors}")
    if wall is not None:
        line += f"  | {len(rows) / wall:5.1f} req/s"
    print(line, flush=True)


def concurrent(url: str, clients: int, requests: int, layers: list[int] | None, seed: int) -> tuple[list, float]:
    """``clients`` threads, each sending ``requests`` new inputs (from seeds ``seed``, ``seed + 1``, ...; give
    each run its own so no input is already cached); returns the rows and the wall time."""
    rows: list[tuple[float, float, int, int]] = []
    lock = threading.Lock()

    def client_loop(client_seed: int) -> None:
        local = random.Random(client_seed)
        with httpx.Client(base_url=url, timeout=300) as own:
            for _ in range(requests):
                row = timed(own, {"text": sentence(local)} | ({"layers": layers} if layers else {}))
                with lock:
                    rows.append(row)

    threads = [threading.Thread(target=client_loop, args=(seed + i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    rng = random.Random(0)
    with served() as (url, _):
        with httpx.Client(base_url=url, timeout=120) as client:
            for _ in range(5):
                timed(client, {"text": sentence(rng)})
            print(f"POST /api/explain, MiniLM (6 layers x 12 heads), 64 tokens, GA, warm, {os.cpu_count()} CPUs")
            report("all layers and heads, 4 maps, new input",
                   [timed(client, {"text": sentence(rng)}) for _ in range(args.requests)])
            report("one layer (12 heads), 4 maps, new input",
                   [timed(client, {"text": sentence(rng), "layers": [0]}) for _ in range(args.requests)])
            text = sentence(rng)
            timed(client, {"text": text, "layers": [0]})
            report("slider move: masks only, one layer, reused",
                   [timed(client, {"text": text, "layers": [0], "p": round(0.05 + 0.9 * i / args.requests, 3),
                                   "fields": ["candidate", "dropped"]}) for i in range(args.requests)])
            report("slider move: masks only, all layers, reused",
                   [timed(client, {"text": text, "q": round(0.05 + 0.9 * i / args.requests, 3),
                                   "fields": ["candidate", "dropped"]}) for i in range(args.requests)])
        for run, (layers, name) in enumerate(((None, "all layers and heads"), ([0], "one layer"))):
            rows, wall = concurrent(url, args.clients, args.requests, layers, seed=1000 * (run + 1))
            report(f"{args.clients} concurrent clients, {name}", rows, wall)


if __name__ == "__main__":
    main()
