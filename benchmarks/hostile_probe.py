"""Issue 24's hostile probes, run again against a real server (``python -m backend`` on a fresh data directory,
SQLite, no worker): what each answers and, for the large and slow bodies, what they cost the server.

- path parts of 255, 256 and 5,000 characters as a model name and as a data directory (a 500 before the fix);
- a foreign ``Host`` header (DNS rebinding; answered 200 before) and the security headers of a page;
- a 200 MB JSON body to ``/api/explain``: the answer and the server's RSS before and after (it grew by 785 MB);
- a body that never finishes (held open for good before) and an endless chunked one;
- one strictness: an unknown field and ``"p": "0.3"`` on explain; a 100,000-character model name not echoed;
- the log of a missing job answered as declared;
- schemathesis over HTTP (every operation but the endless job stream, valid and invalid requests): the 5xx count;
- a start on a non-loopback address with a whitespace-only API token (refused before).

Usage: python benchmarks/hostile_probe.py [--examples 25] [--out benchmarks/results/hostile_probe_cpu.txt]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import free_port  # noqa: E402


def start_server(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """The app on a free port with no worker, answering health."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "backend", "--port", str(port), "--no-worker"], cwd=ROOT,
                              env={**os.environ, "HF_HUB_OFFLINE": "1", "ADDROP_DATA_DIR": str(data_dir), **env},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.3)
    os.killpg(server.pid, signal.SIGKILL)
    raise RuntimeError("the server did not answer within 120 s")


def rss_mb(server: subprocess.Popen) -> float:
    return psutil.Process(server.pid).memory_info().rss / 2**20


def raw_request(url: str, head: str, send: Callable[[socket.socket], None], wait: float) -> tuple[str, float]:
    """Send ``head`` then let ``send`` write (or not) the body; the status line answered and the seconds until
    the server answered or closed, at most ``wait``."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        started = time.monotonic()
        sock.sendall(head.encode())
        try:
            send(sock)
        except OSError:  # the server closed while the body was still being sent
            pass
        try:
            first = sock.recv(200).decode(errors="replace").split("\r\n")[0]
        except (socket.timeout, OSError) as error:
            first = f"no answer ({type(error).__name__})"
        return first or "closed without an answer", time.monotonic() - started


def endless_chunks(sock: socket.socket) -> None:
    """Chunks of 64 KiB for up to 60 s, until the server stops reading."""
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sock.sendall(chunk)


def probes(url: str, server: subprocess.Popen, lines: list[str]) -> None:
    client = httpx.Client(base_url=url, timeout=120)

    def record(what: str, answer: str) -> None:
        lines.append(f"{what:<68} {answer}")
        print(lines[-1], flush=True)

    for length in (255, 256, 5000):
        for field, body in (("model", {"model": "m" * length, "data": {"task": "sst2"}}),
                            ("data directory", {"model": "minilm", "data": {"source": "directory", "task": "sst2",
                                                                            "path": "d" * length}})):
            answer = client.post("/api/jobs", json=body)
            record(f"POST /api/jobs, {field} of {length} characters", f"{answer.status_code}")
    answer = client.get("/", headers={"Host": "attacker.example"})
    record("GET / with Host: attacker.example", f"{answer.status_code}")
    page = client.get("/")
    for header in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        record(f"GET /: {header}", "present" if header in page.headers else "MISSING")

    before = rss_mb(server)
    big = b'{"text": "' + b"a" * (200 * 2**20) + b'"}'
    started = time.monotonic()
    answer = client.post("/api/explain", content=big, headers={"Content-Type": "application/json"})
    record("POST /api/explain, a 200 MB JSON body",
           f"{answer.status_code} in {time.monotonic() - started:.1f} s; server RSS {before:.0f} MB before, "
           f"{rss_mb(server):.0f} MB after")
    del big

    status, seconds = raw_request(url, "POST /api/explain HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                  "application/json\r\nContent-Length: 1000\r\n\r\n{\"text\": ",
                                  lambda sock: None, wait=120)
    record("POST /api/explain, a body that never finishes", f"{status!r} after {seconds:.1f} s")
    status, seconds = raw_request(url, "POST /api/explain HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                  "application/json\r\nTransfer-Encoding: chunked\r\n\r\n", endless_chunks, wait=120)
    record("POST /api/explain, an endless chunked body", f"{status!r} after {seconds:.1f} s")

    answer = client.post("/api/explain", json={"text": "a cat", "model": "minilm", "colour": "red"})
    record("POST /api/explain, an unknown field", f"{answer.status_code}")
    answer = client.post("/api/explain", json={"text": "a cat", "model": "minilm", "p": "0.3"})
    record('POST /api/explain, "p": "0.3"', f"{answer.status_code}")
    answer = client.post("/api/explain", json={"text": "a cat", "model": "m" * 100_000})
    record("POST /api/explain, a 100,000-character model name",
           f"{answer.status_code}, answer of {len(answer.content)} bytes"
           f"{', name echoed' if 'm' * 1000 in answer.text else ''}")
    answer = client.get("/api/jobs/999999/log")
    record("GET /api/jobs/999999/log", f"{answer.status_code} {answer.headers.get('content-type')}")
    assert server.poll() is None, "the server died during the probes"


def whitespace_token(data_dir: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "backend", "--port", str(free_port()), "--host", "0.0.0.0",
                           "--no-worker"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "ADDROP_DATA_DIR": str(data_dir),
                               "ADDROP_API_TOKEN": "   "})
    return f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1][:90] if done.stderr.strip() else ''}"


def fuzz(url: str, examples: int, workdir: Path) -> str:
    """schemathesis over HTTP: how many requests, and how many answered 5xx (its own files go in ``workdir``)."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("schemathesis")), "run", f"{url}/openapi.json", "--checks",
         "not_a_server_error", "--max-examples", str(examples), "--mode", "all", "--seed", "24",
         "--exclude-path-regex", r"/events$", "--request-timeout", "60", "--no-color"],
        capture_output=True, text=True, timeout=3600, cwd=workdir)
    output = done.stdout + done.stderr
    cases = re.findall(r"(\d+) (?:generated|test cases)", output)
    summary = [line.strip() for line in output.splitlines() if re.search(r"\b(passed|failed|error)s?\b", line)]
    return f"exit {done.returncode}; {cases[-1] if cases else '?'} cases; {summary[-1] if summary else output[-300:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=25, help="schemathesis examples per operation and mode")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "hostile_probe_cpu.txt")
    args = parser.parse_args()
    lines = [f"# benchmarks/hostile_probe.py, {time.strftime('%Y-%m-%d')}: a fresh data directory, SQLite, no worker"]
    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_server(Path(tmp) / "data", {})
        try:
            probes(url, server, lines)
            lines.append(f"{'schemathesis over HTTP (not_a_server_error)':<68} {fuzz(url, args.examples, Path(tmp))}")
            print(lines[-1], flush=True)
            assert server.poll() is None, "the server died during the fuzzing"
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        lines.append(f"{'start on 0.0.0.0 with a whitespace-only ADDROP_API_TOKEN':<68} "
                     f"{whitespace_token(Path(tmp) / 'data')}")
    args.out.write_text("\n".join(lines) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
