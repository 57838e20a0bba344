"""Shared pieces of the browser tests: a real app server in a subprocess and Debian's Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(process: subprocess.Popen, url: str, log: Path, timeout: float) -> None:
    """Poll ``url``/api/health until it answers 200; fail with the log's tail if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer within {timeout} s; see {log}")
        time.sleep(0.2)


@contextmanager
def running_server(env: dict[str, str], timeout: float = 90.0) -> Iterator[str]:
    """``python -m backend`` on a free port with ``env`` added; yields its base URL, stops it after."""
    port = free_port()
    log = open(env.get("ADDROP_DATA_DIR", ".") + f"/server-{port}.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url, Path(log.name), timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextmanager
def chromium_page(width: int = 1600, height: int = 1200, bypass_csp: bool = True):
    """A page in headless Debian Chromium driven by Playwright; JavaScript errors fail the test. The app's
    Content-Security-Policy is bypassed unless ``bypass_csp`` is False: Playwright's wait_for_function evaluates
    its predicate with eval inside the page, which the policy refuses (test_page_policy_browser.py runs the
    pages under it)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with 'apt-get install -y chromium' (scripts/test.sh does)")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, bypass_csp=bypass_csp)
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
        finally:
            browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@contextmanager
def explorer_server(tmp_path_factory) -> Iterator[str]:
    """The app on a fresh data directory with no job worker (what the explorer's tests need); yields its URL."""
    data = tmp_path_factory.mktemp("studio")
    env = {"ADDROP_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "ADDROP_EMBEDDED_WORKER": "false"}
    with running_server(env) as url:
        yield url


EXPLAINED = "document.querySelector('#status').textContent.startsWith('Explained')"

# How long a test waits for what the page asked the server to compute (an explain, new masks, every layer):
# on a loaded two-core machine it shares the explain threads with the page's own fill of the other layers.
COMPUTED = 120_000


def explained(page, also: str = "", timeout: float = COMPUTED) -> None:
    """Wait for the explorer to show an explanation (and ``also``, a JS condition): an input's first explain
    loads its model, which takes a while on a loaded two-core machine."""
    page.wait_for_function(f"{EXPLAINED} && ({also})" if also else EXPLAINED, timeout=timeout)


# A JS function: the pairs (i, j) of convex quadrilaterals (each four [x, y] corners) that overlap by more than
# half a pixel, by the separating axis test; the browser tests measure drawn texts' boxes with it.
OVERLAPPING_QUADS = """(quads) => {
  const axes = (q) => q.map((p, k) => { const r = q[(k + 1) % 4]; return [r[1] - p[1], p[0] - r[0]]; });
  const apart = (a, b) => axes(a).concat(axes(b)).some(([ax, ay]) => {
    const len = Math.hypot(ax, ay) || 1, proj = (q) => q.map(([x, y]) => (x * ax + y * ay) / len);
    const pa = proj(a), pb = proj(b);
    return Math.min(Math.max(...pa), Math.max(...pb)) - Math.max(Math.min(...pa), Math.min(...pb)) < 0.5;
  });
  const pairs = [];
  for (let i = 0; i < quads.length; i++) for (let j = i + 1; j < quads.length; j++) {
    if (!apart(quads[i], quads[j])) pairs.push([i, j]);
  }
  return pairs;
}"""
