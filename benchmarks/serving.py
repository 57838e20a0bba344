"""A real AD-DROP Studio server for the benchmarks: ``python -m backend`` on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def served(env: dict[str, str] | None = None, timeout: float = 120.0, worker: bool = False,
           root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """Start the API (with its embedded job worker when ``worker``) on a fresh data directory with ``env`` added,
    from the code under ``root`` (another checkout for a before/after); yields (base URL, data dir)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="addrop-bench-") as data:
        full_env = {**os.environ, "ADDROP_DATA_DIR": data, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                    **(env or {})}
        command = [sys.executable, "-m", "backend", "--port", str(port), *([] if worker else ["--no-worker"])]
        server = subprocess.Popen(command, cwd=root, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                try:
                    if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            yield url, Path(data)
        finally:
            server.terminate()
            server.wait(timeout=30)
