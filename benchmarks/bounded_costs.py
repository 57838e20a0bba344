"""What one client can make a real server spend: the probes of issue 11's "Bounded costs", printed as figures.

* uploads: a chunked 1.5 GB upload (no Content-Length) against the 50 MiB cap, with the bytes the server
  read before answering and its peak disk use meanwhile (the files it holds open, deleted spool files
  included); the server's memory growth for a 50 MB CSV; the answer to a 1-million-column CSV;
* explain: 64 concurrent explains with the latency of /api/health meanwhile (and before, alone); a cheap
  explain sent while an expensive IGA one (100 steps, 128 tokens) runs; and how busy the server stays after
  a client leaves such an IGA request.

    python benchmarks/bounded_costs.py [--parts uploads,concurrent,iga,leave] [--clients 64]
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
from serving import served

WORDS = ("the film is a gorgeous witty and seductive movie with a story that never quite finds its feet but the "
         "cast makes every scene worth watching from the first minute to the last one").split()


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def server_process() -> psutil.Process:
    """The server started by :func:`serving.served` (this process's only Python child)."""
    return next(child for child in psutil.Process().children() if "backend" in " ".join(child.cmdline()))


def open_file_bytes(process: psutil.Process) -> int:
    """Bytes in the regular files the process holds open (a deleted temporary file still counts)."""
    total = 0
    for entry in Path(f"/proc/{process.pid}/fd").iterdir():
        try:
            info = entry.stat()
        except OSError:
            continue
        if entry.resolve().as_posix().startswith(("/dev", "/proc")) or not (info.st_mode & 0o100000):
            continue
        total += info.st_size
    return total


def tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def chunked_upload(url: str, data: Path, total: int = 1536 * 2**20) -> None:
    server = server_process()
    sent = 0
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, open_file_bytes(server) + tree_bytes(data / "uploads") if (data / "uploads").exists()
                       else open_file_bytes(server))
            time.sleep(0.05)

    def body():
        nonlocal sent
        boundary = "probe"
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
               "text,label\r\n").encode()
        chunk = b"x" * 2**20
        while sent < total:
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    try:
        answer = httpx.post(f"{url}/api/uploads", content=body(), timeout=600,
                            headers={"Content-Type": "multipart/form-data; boundary=probe"})
        outcome = f"{answer.status_code} {answer.json()['detail']!r}"
    except httpx.HTTPError as error:  # the server may close the connection while the client still sends
        outcome = f"connection closed by the server ({type(error).__name__})"
    elapsed = time.perf_counter() - started
    time.sleep(0.5)
    stop.set()
    watcher.join()
    left = tree_bytes(data / "uploads") if (data / "uploads").exists() else 0
    print(f"chunked 1.5 GB upload, cap 50 MiB: {outcome}; client sent {sent / 2**20:.0f} MiB in {elapsed:.1f} s; "
          f"server disk peak {peak / 2**20:.0f} MiB; left under uploads/: {left} bytes", flush=True)


def csv_memory(url: str, folder: Path) -> None:
    path = folder / "big50.csv"
    rng = random.Random(0)
    with path.open("w") as out:
        out.write("sentence,label\n")
        while out.tell() < 50 * 2**20 - 200:
            out.write(f"{sentence(rng, 6)} {rng.random()},{rng.randint(0, 1)}\n")
    server = server_process()
    before = server.memory_info().rss
    peak = before
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    with path.open("rb") as handle:
        answer = httpx.post(f"{url}/api/uploads", files={"file": ("big50.csv", handle, "text/csv")}, timeout=600)
    elapsed = time.perf_counter() - started
    stop.set()
    watcher.join()
    print(f"50 MB CSV upload: {answer.status_code}, {answer.json().get('rows')} rows, {elapsed:.1f} s; server RSS "
          f"peak +{(peak - before) / 2**20:.0f} MiB; answer {len(answer.content) / 1e3:.1f} kB", flush=True)
    wide = ",".join(f"c{i}" for i in range(1_000_000)) + "\n" + ",".join("1" * 1_000_000) + "\n"
    started = time.perf_counter()
    answer = httpx.post(f"{url}/api/uploads", files={"file": ("wide.csv", wide.encode(), "text/csv")}, timeout=600)
    print(f"1-million-column CSV upload: {answer.status_code} in {time.perf_counter() - started:.1f} s, answer "
          f"{len(answer.content) / 1e6:.3f} MB: {answer.text[:160]}", flush=True)


def concurrent_explains(url: str, clients: int) -> None:
    httpx.post(f"{url}/api/explain", json={"text": "warm up", "fields": ["attention"]}, timeout=600).raise_for_status()
    rng = random.Random(1)
    bodies = [{"text": sentence(rng, 62), "fields": ["attention", "attribution", "candidate", "dropped"]}
              for _ in range(clients)]
    health: list[float] = []
    statuses: list[int] = []
    retry_after: list[str] = []
    done = threading.Event()

    def ping() -> None:
        with httpx.Client(base_url=url, timeout=600) as pinger:
            while not done.is_set():
                started = time.perf_counter()
                pinger.get("/api/health").raise_for_status()
                health.append((time.perf_counter() - started) * 1000)
                time.sleep(0.1)

    def one(body: dict) -> None:
        with httpx.Client(base_url=url, timeout=600) as client:
            answer = client.post("/api/explain", json=body)
            statuses.append(answer.status_code)
            if "retry-after" in answer.headers:
                retry_after.append(answer.headers["retry-after"])

    pinger = threading.Thread(target=ping)
    pinger.start()
    time.sleep(5.0)  # health alone first: what the machine's own load costs it
    idle = np.array(health)
    del health[:]
    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    done.set()
    pinger.join()
    counts = {status: statuses.count(status) for status in sorted(set(statuses))}
    h = np.array(health)
    print(f"/api/health with no explains: n={len(idle)} p50 {np.percentile(idle, 50):.0f} ms p99 "
          f"{np.percentile(idle, 99):.0f} ms max {idle.max():.0f} ms", flush=True)
    print(f"{clients} concurrent explains (GA, 64 tokens, all maps): {counts} in {wall:.1f} s"
          + (f", Retry-After {sorted(set(retry_after))}" if retry_after else "")
          + f"; /api/health meanwhile n={len(h)} p50 {np.percentile(h, 50):.0f} ms p99 {np.percentile(h, 99):.0f} "
          f"ms max {h.max():.0f} ms", flush=True)



def costly_explains(url: str) -> None:
    http = httpx.Client(base_url=url, timeout=600)
    http.post("/api/explain", json={"text": "warm up", "fields": ["attention"]}).raise_for_status()
    rng = random.Random(2)
    expensive = {"text": sentence(rng, 126), "method": "IGA", "steps": 100, "fields": ["attribution"]}
    cheap = {"text": "a short and cheap input", "fields": ["attention"]}
    result: dict[str, float] = {}

    def timed(name: str, body: dict) -> None:
        with httpx.Client(base_url=url, timeout=600) as client:
            started = time.perf_counter()
            client.post("/api/explain", json=body)
            result[name] = time.perf_counter() - started

    heavy = threading.Thread(target=timed, args=("iga", expensive))
    heavy.start()
    time.sleep(1.0)
    timed("cheap", cheap)
    heavy.join()
    print(f"cheap explain sent 1 s into an IGA one (100 steps, 128 tokens): cheap {result['cheap']:.2f} s, "
          f"IGA {result['iga']:.1f} s", flush=True)



def left_explain(url: str) -> None:
    """A client leaves its IGA request after a second: how busy the server stays in the seconds after."""
    httpx.post(f"{url}/api/explain", json={"text": "warm up", "fields": ["attention"]}, timeout=600).raise_for_status()
    leaving = {"text": sentence(random.Random(3), 126), "method": "IGA", "steps": 100, "fields": ["attribution"]}
    try:
        httpx.post(f"{url}/api/explain", json=leaving, timeout=1.0)
    except httpx.TimeoutException:
        pass  # the client leaves after one second
    server = server_process()
    time.sleep(1.0)
    server.cpu_percent()
    time.sleep(4.0)
    busy = server.cpu_percent()
    started = time.perf_counter()
    httpx.post(f"{url}/api/explain", json={"text": "another cheap input", "fields": ["attention"]},
               timeout=600).raise_for_status()
    print(f"a client left its IGA request (100 steps, 128 tokens) 1 s in: server CPU {busy:.0f}% from 1 to 5 s "
          f"later; a cheap explain then answered in {time.perf_counter() - started:.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="uploads,concurrent,iga,leave", help="which probes to run, in order")
    parser.add_argument("--clients", type=int, default=64, help="concurrent explains")
    args = parser.parse_args()
    parts = args.parts.split(",")
    print(f"{psutil.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    with served() as (url, data):
        if "uploads" in parts:
            chunked_upload(url, data)
            csv_memory(url, data)
        if "concurrent" in parts:
            concurrent_explains(url, args.clients)
        if "iga" in parts:
            costly_explains(url)
        if "leave" in parts:
            left_explain(url)
    print(f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
